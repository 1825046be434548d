// Messages between two subnets through certified stream slices (SubnetService + protocol/xnet.ts,
// real ping and pong components, in-memory stores, slices handed over by hand instead of libp2p):
// exactly-once delivery, the answer coming back, acknowledged messages removed, and forged or
// tampered slices refused by verify and skipped by execution.

import test from 'ava'
import { actorIdOf, type ActorId, type SubnetId } from '../../../../protocol/ids.ts'
import type { Subnet } from '../../../../protocol/subnet.ts'
import type { Block } from '../../../../protocol/consensus/messages.ts'
import { decodeSlice, encodeSlice, streamKeys, systemActorOf, verifySlice, type StreamSlice, type VerifiedSlice } from '../../../../protocol/xnet.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { encodePayload } from '../../../../node/subnet/payload.ts'
import type { SubnetService, XnetSource } from '../../../../node/subnet/subnet-service.ts'
import { Client, exampleCode, makeReplica, makeSubnet, runHeight, utf8 } from './_harness.ts'

/** Hands a subnet the latest slice of each peer's stream to it, as node/subnet/xnet-links.ts does over libp2p. */
class HandOver implements XnetSource {
  readonly latest = new Map<SubnetId, { slice: StreamSlice, verified: VerifiedSlice }>()
  self!: SubnetService
  peers: SubnetService[] = []
  slices (): Iterable<{ slice: StreamSlice, verified: VerifiedSlice }> { return this.latest.values() }
  onSlice (): () => void { return () => {} }

  async pull (): Promise<void> {
    for (const peer of this.peers) {
      const held = this.latest.get(peer.subnet.id)
      const bytes = await peer.sliceFor(this.self.subnet.id, { next: await this.self.consumedFrom(peer.subnet.id), acked: held?.verified.acked ?? 0n }, 0)
      if (bytes === undefined) continue
      const slice = decodeSlice(bytes)
      if (!slice.ok) throw new Error(slice.error)
      const verified = verifySlice(slice.value, this.self.subnet.id)
      if (!verified.ok) throw new Error(verified.error)
      this.latest.set(peer.subnet.id, { slice: slice.value, verified: verified.value })
    }
  }
}

interface Side { subnet: Subnet, service: SubnetService, source: HandOver }

async function world (): Promise<{ a: Side, b: Side, clock: ManualClock, client: Client }> {
  const clock = new ManualClock()
  const make = async (): Promise<Side> => {
    const { subnet, nodes } = makeSubnet(1, clock)
    const source = new HandOver()
    const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock, {}, source)
    source.self = service
    await service.start()
    return { subnet, service, source }
  }
  const a = await make()
  const b = await make()
  a.source.peers = [b.service]
  b.source.peers = [a.service]
  return { a, b, clock, client: new Client(clock) }
}

/** Two subnets, pong installed on A and ping on B (each their subnet's actor 1). */
async function pingPongWorld (): Promise<Awaited<ReturnType<typeof world>> & { pong: ActorId, ping: ActorId }> {
  const w = await world()
  await install(w.a, w.client, 'pong')
  await install(w.b, w.client, 'ping')
  return { ...w, pong: actorIdOf(w.a.subnet.id, 1n), ping: actorIdOf(w.b.subnet.id, 1n) }
}

async function install (side: Side, client: Client, name: string): Promise<void> {
  const code = await exampleCode(name)
  await side.service.putCode(code)
  side.service.submit(client.install(side.subnet, code).bytes)
  await runHeight(side.service, [side.service])
}

async function query (side: Side, client: Client, actor: ActorId, method: string): Promise<string> {
  const answer = await side.service.query(client.query(actor, method).bytes)
  if (!answer.ok || !answer.value.receipt.ok) throw new Error(`query ${method} failed`)
  return utf8(answer.value.receipt.result)
}

/** One round: each side pulls its peer's slice and runs a height. */
async function round (a: Side, b: Side, clock: ManualClock): Promise<void> {
  clock.advance(100)
  await a.source.pull()
  await runHeight(a.service, [a.service])
  await b.source.pull()
  await runHeight(b.service, [b.service])
}

test('ping on one subnet reaches pong on another exactly once, the reply comes back once, and acknowledged messages are removed', async t => {
  const { a, b, clock, client, pong, ping } = await pingPongWorld()

  const start = client.update(ping, 'start', new TextEncoder().encode(pong))
  b.service.submit(start.bytes)
  await runHeight(b.service, [b.service])
  const sent = await b.service.result(start.id)
  t.true(sent !== undefined && sent !== 'pending' && sent.receipt?.ok === true)
  const bSys = systemActorOf(b.subnet.id)
  t.truthy(await b.service.store.get(bSys, streamKeys.message(a.subnet.id, 0n)), 'the call waits in B\'s certified stream to A')

  let rounds = 0
  while (!(await query(b, client, ping, 'stats')).includes('replies=1') && rounds < 6) {
    await round(a, b, clock)
    rounds++
  }
  t.is(await query(b, client, ping, 'stats'), 'sent=1 replies=1 rejects=0 last=pong 1')
  t.is(await query(a, client, pong, 'count'), '1')

  // More rounds: nothing is delivered twice, and each side's stream is emptied by the other's ack.
  for (let i = 0; i < 4; i++) await round(a, b, clock)
  t.is(await query(a, client, pong, 'count'), '1')
  t.is(await query(b, client, ping, 'stats'), 'sent=1 replies=1 rejects=0 last=pong 1')
  t.is(await b.service.store.get(bSys, streamKeys.message(a.subnet.id, 0n)), undefined, 'B removed its call once A consumed it')
  t.is(await a.service.store.get(systemActorOf(a.subnet.id), streamKeys.message(b.subnet.id, 0n)), undefined, 'A removed its reply once B consumed it')
  t.is(await a.service.consumedFrom(b.subnet.id), 1n)
  t.is(await b.service.consumedFrom(a.subnet.id), 1n)
})

test('a call to an actor missing on the other subnet comes back as one reject', async t => {
  const { a, b, clock, client, ping } = await pingPongWorld()
  const nobody = actorIdOf(a.subnet.id, 7n) // A holds only pong, its actor 1
  b.service.submit(client.update(ping, 'start', new TextEncoder().encode(nobody)).bytes)
  await runHeight(b.service, [b.service])
  for (let i = 0; i < 4; i++) await round(a, b, clock)
  const stats = await query(b, client, ping, 'stats')
  t.regex(stats, /^sent=1 replies=0 rejects=1 last=.*not installed/)
})

test('forged and tampered slices are refused by verify and change nothing', async t => {
  const { a, b, clock, client, pong, ping } = await pingPongWorld()
  b.service.submit(client.update(ping, 'start', new TextEncoder().encode(pong)).bytes)
  await runHeight(b.service, [b.service])
  const bytes = await b.service.sliceFor(a.subnet.id, { next: 0n, acked: 0n }, 0)
  if (bytes === undefined) return t.fail('no slice')
  const good = decodeSlice(bytes)
  if (!good.ok) return t.fail(good.error)
  t.true(verifySlice(good.value, a.subnet.id).ok)

  const block = (slices: Uint8Array[]): Block => ({ subnet: a.subnet.id, view: 9n, height: 9n, parent: new Uint8Array(32), payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: [], xnet: slices }), proposer: a.subnet.memberIds[0]! }) as unknown as Block
  const tampered = (change: (s: StreamSlice) => StreamSlice): Uint8Array => encodeSlice(change(structuredClone(good.value)))
  const payloadOf = (s: StreamSlice) => s.messages[0]!.proof.value!
  const cases: Array<[string, Uint8Array]> = [
    ['a flipped byte in a message', tampered(s => { payloadOf(s)[payloadOf(s).length - 1]! ^= 1; return s })],
    ['a forged certificate signature', tampered(s => { s.certificate.signatures[0]![0]! ^= 1; return s })],
    ['another state root', tampered(s => { s.certificate.state.stateRoot[0]! ^= 1; return s })],
    ['a message under another seq', tampered(s => { s.messages[0]!.seq = 5n; return s })],
    ['the slice sent to the wrong subnet', bytes],
    ['garbage', new Uint8Array([1, 2, 3])]
  ]
  for (const [what, slice] of cases) {
    const target = what === 'the slice sent to the wrong subnet' ? b : a
    t.false(await target.service.verify(block([slice])), what)
  }
  t.false(await a.service.verify(block([bytes, bytes])), 'two slices from one sender')
  t.true(await a.service.verify(block([bytes])), 'the untouched slice verifies')
  t.false(decodeSlice(bytes.subarray(0, bytes.length - 10)).ok, 'truncated bytes do not decode')

  // Execution skips what verify refuses, should such a block ever be finalized: it is a function
  // of the block's bytes alone, so every replica skips it alike.
  const height = a.service.store.height + 1n
  const tip = await a.service.tip()
  const forged = { ...block([cases[0]![1]]), height, view: height, parent: tip.tip.hash }
  await a.service.finalize(height, forged, { kind: 'finalization', view: height, block: new Uint8Array(32), signers: [0], signatures: [new Uint8Array(64)] } as never)
  t.is(a.service.store.height as bigint, height)
  t.is(await query(a, client, pong, 'count'), '0')
  t.is(await a.service.consumedFrom(b.subnet.id), 0n)
})
