// WebSocketHeartbeat: pings every watched socket each interval, terminates one that did not answer
// the previous ping, forgets closed sockets, and stops pinging once stopped. On a manual clock.

import test from 'ava'
import { EventEmitter } from 'node:events'
import type { WebSocket } from 'ws'
import { ManualClock } from '../../../../node/core/clock.ts'
import { WebSocketHeartbeat } from '../../../../node/api/ws-heartbeat.ts'

class FakeSocket extends EventEmitter {
  pings = 0
  terminated = false
  ping (): void { this.pings++ }
  terminate (): void { this.terminated = true }
}

test('WebSocketHeartbeat pings each interval, terminates a socket that missed a pong, forgets closed ones, and stops', t => {
  const clock = new ManualClock()
  const heartbeat = new WebSocketHeartbeat(clock, 1_000)
  const answering = new FakeSocket()
  const silent = new FakeSocket()
  const closed = new FakeSocket()
  for (const s of [answering, silent, closed]) heartbeat.watch(s as unknown as WebSocket)
  heartbeat.start()
  clock.advance(999)
  t.is(answering.pings, 0)
  clock.advance(1)
  t.deepEqual([answering.pings, silent.pings, closed.pings], [1, 1, 1])
  answering.emit('pong')
  closed.emit('close')
  clock.advance(1_000)
  t.false(answering.terminated)
  t.true(silent.terminated, 'no pong since the last ping')
  t.false(closed.terminated, 'a closed socket is no longer watched')
  t.is(answering.pings, 2)
  heartbeat.stop()
  clock.advance(5_000)
  t.is(answering.pings, 2, 'no ping after stop')
})
