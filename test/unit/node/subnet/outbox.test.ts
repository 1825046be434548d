import test from 'ava'
import { decode } from '../../../../protocol/codec.ts'
import { actorIdOf } from '../../../../protocol/ids.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { buildWatActor } from '../../../../node/runtime/builder.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { decodeU64, systemActorOf, systemKeys } from '../../../../node/subnet/system-state.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { SubnetService } from '../../../../node/subnet/subnet-service.ts'
import { Client, exampleCode, loader, makeReplica, makeSubnet, relayWat, runHeight, utf8, watBasics } from './_harness.ts'

/** Starts `service` and installs counter-wat (actor 1) and the relay (actor 2) in one height. */
async function installCounterAndRelay (service: SubnetService, client: Client): Promise<void> {
  await service.start()
  const counter = await exampleCode('counter-wat')
  const relay = await buildWatActor(relayWat)
  await service.putCode(counter)
  await service.putCode(relay)
  service.submit(client.install(service.subnet, counter).bytes)
  service.submit(client.install(service.subnet, relay).bytes)
  await runHeight(service, [service])
}

// A relay actor: update `ping` with payload = an actor id sends `inc` (empty payload) to it.
test('an actor\'s send is queued in replicated state and delivered to its target in the next block', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  const client = new Client(clock)
  await installCounterAndRelay(service, client)
  const counterId = actorIdOf(subnet.id, 1n)
  const relayId = actorIdOf(subnet.id, 2n)
  t.is((await service.actor(relayId))?.name, 'counter')

  const ping = client.update(relayId, 'ping', new TextEncoder().encode(counterId))
  service.submit(ping.bytes)
  await runHeight(service, [service])
  const pinged = await service.result(ping.id)
  if (pinged === undefined || pinged === 'pending') return t.fail('no result')
  t.true(pinged.receipt!.ok, pinged.receipt!.error ?? '')
  t.is(pinged.receipt!.requestId, ping.requestId)
  const sys = systemActorOf(subnet.id)
  t.is(decodeU64(await service.store.get(sys, systemKeys.outboxTail), 0n), 1n, 'one message queued')
  const before = await service.query(client.query(counterId).bytes)
  t.true(before.ok && utf8(before.value.receipt.result) === '0', 'not delivered in the sending block')

  await runHeight(service, [service])
  const receipts = await service.store.receipts(service.store.height)
  t.is(receipts.length, 1, 'the delivery has a receipt in the next block')
  const delivery = decode(receipts[0]!)
  t.like(delivery.ok ? delivery.value as object : {}, { actor: counterId, method: 'inc', ok: true, requestId: null }, 'a delivery answers no client request')
  t.is(decodeU64(await service.store.get(sys, systemKeys.outboxHead), 0n), 1n, 'queue drained')
  const after = await service.query(client.query(counterId).bytes)
  t.true(after.ok)
  if (after.ok) t.is(utf8(after.value.receipt.result), '1')
})

test('an idle leader proposes at once when queued messages are due, and waits for envelopes only when nothing is', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const service = new SubnetService(subnet, { store: await memoryStore(), loader, signer: nodes[0]!, clock, logger: silentLogger, transport: { publishShare: async () => {} } }, { proposeIdleWaitMs: 60_000 })
  const client = new Client(clock)
  await installCounterAndRelay(service, client)
  service.submit(client.update(actorIdOf(subnet.id, 2n), 'ping', new TextEncoder().encode(actorIdOf(subnet.id, 1n))).bytes)
  await runHeight(service, [service])
  const sys = systemActorOf(subnet.id)
  t.is(decodeU64(await service.store.get(sys, systemKeys.outboxTail), 0n), 1n, 'a call waits in the queue')

  // The mempool is empty, but the queue is not: the proposal comes without the 60 s idle wait.
  const within = async <T>(ms: number, promise: Promise<T>): Promise<T | 'waiting'> => await Promise.race([promise, new Promise<'waiting'>(resolve => setTimeout(() => resolve('waiting'), ms))])
  const tip = await service.tip()
  const payload = await within(5_000, service.propose(tip.tip.hash, service.store.height + 1n, {}))
  if (payload === 'waiting') return t.fail('the leader waited for envelopes although a queued call was due')
  await runHeight(service, [service], { payload })
  t.is(decodeU64(await service.store.get(sys, systemKeys.outboxHead), 0n), 1n, 'that block delivered the call')

  // The answer to the call is queued now (reply:inc to the relay): due again, so no wait either.
  const again = await within(5_000, service.propose((await service.tip()).tip.hash, service.store.height + 1n, {}))
  if (again === 'waiting') return t.fail('the leader waited although the answer was due')
  await runHeight(service, [service], { payload: again })
  // Nothing is due any more: the leader waits for an envelope (or the idle bound) as before.
  const idle = service.propose((await service.tip()).tip.hash, service.store.height + 1n, {})
  t.is(await within(300, idle), 'waiting')
  clock.advance(60_000)
  t.true((await idle) instanceof Uint8Array)
})

// A timer actor: update `a` schedules `c` in 1 s, `b` in 5 s and `d` in an hour on itself; any other
// update (a timer firing) stores key <method> = 0x01, so the test sees which fired.
const timerWat = `(module
  (import "pylon:actor/outbox@0.1.0" "schedule" (func $schedule (param i64 i32 i32 i32 i32)))
  (import "pylon:actor/context@0.1.0" "now" (func $now (result i64)))
  (import "pylon:actor/storage@0.1.0" "set" (func $set (param i32 i32 i32 i32)))
  (data (i32.const 32) "bcd")
  (data (i32.const 40) "\\01")
  ${watBasics}
  (func (export "update") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get $m)) (i32.const 97))
      (then
        (call $schedule (i64.add (call $now) (i64.const 1000000000)) (i32.const 33) (i32.const 1) (i32.const 0) (i32.const 0))
        (call $schedule (i64.add (call $now) (i64.const 5000000000)) (i32.const 32) (i32.const 1) (i32.const 0) (i32.const 0))
        (call $schedule (i64.add (call $now) (i64.const 3600000000000)) (i32.const 34) (i32.const 1) (i32.const 0) (i32.const 0)))
      (else (call $set (local.get $m) (i32.const 1) (i32.const 40) (i32.const 1))))
    (call $ok_empty))
  (func (export "query") (param i32 i32 i32 i32) (result i32) (call $ok_empty)))`

test('timers fire in the first block at or past their consensus time, in due order, and a far-off one holds up nothing', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const client = new Client(clock)
  const code = await buildWatActor(timerWat)
  await service.putCode(code)
  service.submit(client.install(subnet, code).bytes)
  await runHeight(service, [service])
  const actor = actorIdOf(subnet.id, 1n)
  service.submit(client.update(actor, 'a').bytes)
  await runHeight(service, [service])
  const fired = async (): Promise<string> => {
    let out = ''
    for (const m of ['b', 'c', 'd']) if (await service.store.get(actor, new TextEncoder().encode(m)) !== undefined) out += m
    return out
  }
  const at = async (advanceMs: number): Promise<string> => {
    clock.advance(advanceMs)
    await runHeight(service, [service])
    return await fired()
  }
  t.is(await at(500), '', 'nothing is due 0.5 s later')
  t.is(await at(600), 'c', 'the 1 s timer fired in the first block past it')
  t.is(await at(1_000), 'c')
  // A same-subnet message sent now is delivered at once, though a timer an hour away waits.
  const relay = await buildWatActor(relayWat)
  await service.putCode(relay)
  service.submit(client.install(subnet, relay).bytes)
  await runHeight(service, [service])
  service.submit(client.update(actorIdOf(subnet.id, 2n), 'ping', new TextEncoder().encode(actor)).bytes)
  await runHeight(service, [service])
  await runHeight(service, [service])
  t.not(await service.store.get(actor, new TextEncoder().encode('i')), undefined, 'the relay\'s inc arrived (stored under its first byte) while the hour timer waits')
  t.is((await fired()).includes('d'), false)
  t.is(await at(3_000), 'bc', 'the 5 s timer fired, the hour one did not')
  const timers = await service.store.range(systemActorOf(subnet.id), { start: systemKeys.timersPrefix, end: new TextEncoder().encode('timer0'), limit: 10 })
  t.is(timers.length, 1, 'one timer left: the hour one')
})
