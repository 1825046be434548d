// What the SubnetService tells its ChangeSink after each commit: callers (client, installer, sending
// actor), per-message keys, and that a failing sink or an unwatched subnet never changes a commit.

import test from 'ava'
import { actorIdOf, type Height, type SubnetId } from '../../../../protocol/ids.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { buildWatActor } from '../../../../node/runtime/builder.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { SubnetService, type ChangeSink, type MessageChange } from '../../../../node/subnet/subnet-service.ts'
import { Client, exampleCode, loader, makeSubnet, relayWat, runHeight } from '../subnet/_harness.ts'

// A relay actor: update `ping` with payload = an actor id sends `inc` to it (delivered next block).
class RecordingSink implements ChangeSink {
  watched = true
  throws = false
  heights: Array<{ height: Height, changes: MessageChange[] }> = []
  watching (_subnet: SubnetId): boolean { return this.watched }
  committed (_subnet: SubnetId, height: Height, changes: MessageChange[]): void {
    if (this.throws) throw new Error('sink broke')
    this.heights.push({ height, changes })
  }
}

async function setup () {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const sink = new RecordingSink()
  const service = new SubnetService(subnet, {
    store: await memoryStore(), loader, signer: nodes[0]!, clock, logger: silentLogger, changes: sink, transport: { publishShare: async () => {} }
  }, { proposeIdleWaitMs: 0 })
  await service.start()
  const client = new Client(clock)
  const height = async (...bytes: Uint8Array[]): Promise<void> => {
    for (const b of bytes) if (!service.submit(b).ok) throw new Error('refused')
    await runHeight(service, [service])
  }
  return { subnet, service, sink, client, height }
}

const text = (keys: Uint8Array[]): string[] => keys.map(k => new TextDecoder().decode(k))

test('SubnetService ChangeSink: callers: the installer for init, the client for updates, the sending actor for an outbox delivery', async t => {
  const { subnet, service, sink, client, height } = await setup()
  const counter = await exampleCode('counter-wat')
  const relay = await buildWatActor(relayWat)
  await service.putCode(counter)
  await service.putCode(relay)
  await height(client.install(subnet, counter).bytes, client.install(subnet, relay).bytes)
  const counterId = actorIdOf(subnet.id, 1n)
  const relayId = actorIdOf(subnet.id, 2n)
  t.like(sink.heights[0]!.changes, [{ actor: counterId, index: 0, method: '', caller: client.id, ok: true }, { actor: relayId, index: 1, method: '', caller: client.id, ok: true }])
  await height(client.update(relayId, 'ping', new TextEncoder().encode(counterId)).bytes)
  t.like(sink.heights[1]!.changes, [{ actor: relayId, method: 'ping', caller: client.id, ok: true, changedKeys: [] }])
  await height()
  t.is(sink.heights[2]!.height as bigint, 3n)
  t.deepEqual(sink.heights[2]!.changes.map(c => ({ ...c, changedKeys: text(c.changedKeys) })), [
    { actor: counterId, index: 0, method: 'inc', caller: relayId, ok: true, changedKeys: ['count'] }
  ])
})

test('SubnetService ChangeSink: an unwatched subnet reports nothing; a sink that throws changes no commit', async t => {
  const { subnet, service, sink, client, height } = await setup()
  const counter = await exampleCode('counter-wat')
  await service.putCode(counter)
  sink.watched = false
  await height(client.install(subnet, counter).bytes)
  t.is(sink.heights.length, 0)
  sink.watched = true
  sink.throws = true
  const actor = actorIdOf(subnet.id, 1n)
  const update = client.update(actor)
  await height(update.bytes)
  t.is(service.store.height as bigint, 2n)
  const result = await service.result(update.id)
  t.true(result !== undefined && result !== 'pending' && result.receipt?.ok === true, 'the update committed and certified')
  sink.throws = false
  await height(client.update(actor).bytes)
  t.is(sink.heights.length, 1)
  t.is(sink.heights[0]!.height as bigint, 3n)
})
