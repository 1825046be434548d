import test from 'ava'
import { decode } from '../../../../protocol/codec.ts'
import { actorIdOf } from '../../../../protocol/ids.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { buildWatActor } from '../../../../node/runtime/builder.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { decodeU64, systemActorOf, systemKeys } from '../../../../node/subnet/system-state.ts'
import { Client, exampleCode, makeReplica, makeSubnet, relayWat, runHeight, utf8 } from './_harness.ts'

// A relay actor: update `ping` with payload = an actor id sends `inc` (empty payload) to it.
test('an actor\'s send is queued in replicated state and delivered to its target in the next block', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const client = new Client(clock)
  const counter = await exampleCode('counter-wat')
  const relay = await buildWatActor(relayWat)
  await service.putCode(counter)
  await service.putCode(relay)
  service.submit(client.install(subnet, counter).bytes)
  service.submit(client.install(subnet, relay).bytes)
  await runHeight(service, [service])
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
