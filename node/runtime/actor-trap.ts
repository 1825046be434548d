// The error a host function throws to stop the current message: a limit exceeded, a write during a
// query, bad arguments. It unwinds through wasm to the executor, which fails the message with its
// text. Never used for Pylon's own bugs (those are assertions).

export class ActorTrap extends Error {
  override name = 'ActorTrap'
}

/** Thrown by a host function when the fuel it must charge is not there; the fuel global is -1. */
export class OutOfFuel extends ActorTrap {
  override name = 'OutOfFuel'
  constructor () {
    super('out of fuel')
  }
}
