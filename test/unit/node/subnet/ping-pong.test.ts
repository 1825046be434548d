// The ping and pong example actors on one subnet (SubnetService through the test harness, real
// components from contracts/build): a ping reaches pong exactly once and its reply comes back
// exactly once; a ping to an actor that does not exist comes back as a reject; a client cannot
// fake an answer. Never edits the actors or the service; only drives heights and reads state.

import test, { type ExecutionContext } from 'ava'
import { actorIdOf, type ActorId } from '../../../../protocol/ids.ts'
import type { Subnet } from '../../../../protocol/subnet.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { SubnetService } from '../../../../node/subnet/subnet-service.ts'
import { Client, exampleCode, makeReplica, makeSubnet, runHeight, utf8 } from './_harness.ts'

/** Heights a send and its answer may take at most (delivery in a later block, then the answer in a later one). */
const heightsMax = 6

interface World { service: SubnetService, subnet: Subnet, client: Client, clock: ManualClock, pong: ActorId, ping: ActorId }

async function world (): Promise<World> {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const client = new Client(clock)
  const pongCode = await exampleCode('pong')
  const pingCode = await exampleCode('ping')
  await service.putCode(pongCode)
  await service.putCode(pingCode)
  service.submit(client.install(subnet, pongCode).bytes)
  service.submit(client.install(subnet, pingCode).bytes)
  await runHeight(service, [service])
  return { service, subnet, client, clock, pong: actorIdOf(subnet.id, 1n), ping: actorIdOf(subnet.id, 2n) }
}

async function query (w: World, actor: ActorId, method: string): Promise<string> {
  const answer = await w.service.query(w.client.query(actor, method).bytes)
  if (!answer.ok) throw new Error(`query ${method} refused: ${answer.error.message}`)
  if (!answer.value.receipt.ok) throw new Error(`query ${method} failed: ${answer.value.receipt.error ?? ''}`)
  return utf8(answer.value.receipt.result)
}

/** Sends a client update and runs the height that executes it; returns its receipt. */
async function call (w: World, actor: ActorId, method: string, payload: string): Promise<{ ok: boolean, result: string, error: string | null }> {
  const ingress = w.client.update(actor, method, new TextEncoder().encode(payload))
  const added = w.service.submit(ingress.bytes)
  if (!added.ok) throw new Error(`submit refused: ${added.error.message}`)
  await runHeight(w.service, [w.service])
  const result = await w.service.result(ingress.id)
  if (result === undefined || result === 'pending' || result.receipt === undefined) throw new Error(`no receipt for ${method}`)
  return { ok: result.receipt.ok, result: utf8(result.receipt.result), error: result.receipt.error }
}

/** Runs heights (at most heightsMax) until ping's stats satisfy `done`; returns the stats and the heights it took. */
async function until (t: ExecutionContext, w: World, done: (stats: string) => boolean): Promise<{ stats: string, heights: number }> {
  let stats = await query(w, w.ping, 'stats')
  for (let heights = 1; heights <= heightsMax; heights++) {
    w.clock.advance(100)
    await runHeight(w.service, [w.service])
    stats = await query(w, w.ping, 'stats')
    if (done(stats)) return { stats, heights }
  }
  t.fail(`after ${heightsMax} heights ping's stats are still ${JSON.stringify(stats)}`)
  return { stats, heights: heightsMax }
}

test('ping → pong on one subnet: pong counts the ping once, the reply "pong 1" comes back to ping once', async t => {
  const w = await world()
  t.is(await query(w, w.ping, 'stats'), 'sent=0 replies=0 rejects=0 last=')
  const started = await call(w, w.ping, 'start', w.pong)
  t.deepEqual(started, { ok: true, result: `sent ping 1 to ${w.pong}`, error: null })
  t.is(await query(w, w.pong, 'count'), '0', 'the ping is delivered in a later block, not in the sending one')

  const { stats, heights } = await until(t, w, s => s.includes('replies=1'))
  t.is(stats, 'sent=1 replies=1 rejects=0 last=pong 1')
  t.true(heights >= 2, `a send and its answer take two later blocks at least (took ${heights})`)
  t.is(await query(w, w.pong, 'count'), '1')

  // Exactly once: more heights deliver nothing more.
  for (let i = 0; i < 3; i++) await runHeight(w.service, [w.service])
  t.is(await query(w, w.pong, 'count'), '1')
  t.is(await query(w, w.ping, 'stats'), 'sent=1 replies=1 rejects=0 last=pong 1')

  // A second round: one more ping, one more reply, in order.
  t.is((await call(w, w.ping, 'start', w.pong)).result, `sent ping 2 to ${w.pong}`)
  t.is((await until(t, w, s => s.includes('replies=2'))).stats, 'sent=2 replies=2 rejects=0 last=pong 2')
  t.is(await query(w, w.pong, 'count'), '2')
})

test('ping to an actor that does not exist gets exactly one reject naming the error', async t => {
  const w = await world()
  const nobody = actorIdOf(w.subnet.id, 99n)
  t.true((await call(w, w.ping, 'start', nobody)).ok)
  const { stats } = await until(t, w, s => !s.includes('rejects=0'))
  t.is(stats, `sent=1 replies=0 rejects=1 last=actor not installed: ${nobody}`, 'the reject carries the error text, naming the actor')
  for (let i = 0; i < 3; i++) await runHeight(w.service, [w.service])
  t.regex(await query(w, w.ping, 'stats'), /^sent=1 replies=0 rejects=1 /, 'one reject, never repeated')
  t.is(await query(w, w.pong, 'count'), '0', 'pong saw nothing')
})

test('a client cannot fake an answer: reply:ping from anyone but the pinged actor fails and counts nothing', async t => {
  const w = await world()
  const fake = await call(w, w.ping, 'reply:ping', 'pong 42')
  t.deepEqual(fake, { ok: false, result: '', error: 'answer not from the pinged actor' })
  t.true((await call(w, w.ping, 'start', w.pong)).ok)
  const again = await call(w, w.ping, 'reject:ping', 'forged')
  t.is(again.error, 'answer not from the pinged actor')
  t.is((await until(t, w, s => s.includes('replies=1'))).stats, 'sent=1 replies=1 rejects=0 last=pong 1')
  t.false((await call(w, w.ping, 'start', '')).ok, 'start without a target fails')
  t.is((await call(w, w.ping, 'start', 'not-an-actor')).error, 'outbox.send: actor id must be <subnet>.<index>: "not-an-actor"')
  t.is(await query(w, w.ping, 'stats'), 'sent=1 replies=1 rejects=0 last=pong 1', 'failed starts send and count nothing')
})
