import test from 'ava'
import { Registry } from 'prom-client'
import { capacityTopic, encodeCapacityAdvert } from '../../../../protocol/capacity.ts'
import { encode } from '../../../../protocol/codec.ts'
import type { NodeId } from '../../../../protocol/ids.ts'
import { AdvertBook } from '../../../../node/capacity/advert-book.ts'
import { CapacityMetrics } from '../../../../node/capacity/capacity-metrics.ts'
import { capacityRecordKey, CapacitySync } from '../../../../node/capacity/capacity-sync.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { newSigner, signedAdvert } from '../../../helpers/adverts.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'

function node (network: FakeNetwork, clock: ManualClock): { net: FakeNet, book: AdvertBook, sync: CapacitySync, signer: ReturnType<typeof newSigner> } {
  const signer = newSigner()
  const net = new FakeNet(signer.id as NodeId, network)
  const book = new AdvertBook({ clock, metrics: new CapacityMetrics(new Registry()) })
  const sync = new CapacitySync({ net, book, clock, logger: silentLogger, metrics: new CapacityMetrics(new Registry()) })
  return { net, book, sync, signer }
}

test('CapacitySync gossip verdicts: accept a new advert, reject forged or garbage, ignore replays and expired ones', async t => {
  const clock = new ManualClock()
  const network = new FakeNetwork()
  const a = node(network, clock)
  const b = node(network, clock)
  await a.sync.start()
  t.teardown(async () => { await a.sync.stop() })
  const good = signedAdvert(b.signer, clock.now())
  await b.net.publish(capacityTopic, encodeCapacityAdvert(good))
  await b.net.publish(capacityTopic, encodeCapacityAdvert(good))
  await b.net.publish(capacityTopic, encode({ advert: { ...good.advert, seq: good.advert.seq + 1n }, signature: good.signature }))
  await b.net.publish(capacityTopic, Uint8Array.of(9, 9, 9))
  await b.net.publish(capacityTopic, encodeCapacityAdvert(signedAdvert(newSigner(), clock.now() - 600_000)))
  t.deepEqual(b.net.published.map(p => p.verdicts[0]), ['accept', 'ignore', 'reject', 'reject', 'ignore'])
  t.is(a.book.list().length, 1)
})

test('CapacitySync pulls a newly identified peer\'s book over the exchange protocol and forwards what it learned', async t => {
  const clock = new ManualClock()
  const network = new FakeNetwork()
  const a = node(network, clock)
  const b = node(network, clock)
  await a.sync.start()
  await b.sync.start()
  t.teardown(async () => { await a.sync.stop(); await b.sync.stop() })
  const others = [newSigner(), newSigner(), b.signer]
  for (const s of others) b.book.offerBytes(encodeCapacityAdvert(signedAdvert(s, clock.now())), 'self')
  const pulled = await a.sync.pull(b.net.nodeId)
  t.deepEqual(pulled, { ok: true, value: 3 })
  t.deepEqual(a.book.list().map(e => e.signed.advert.nodeId).sort(), others.map(s => s.id).sort())
  t.is(a.net.published.length, 3, 'each newly learned advert is forwarded once on gossip')
  t.deepEqual((await a.sync.pull(b.net.nodeId)), { ok: true, value: 0 }, 'a second pull learns nothing new')
})

test('CapacitySync validates DHT records: refuses garbage and an advert stored under another node\'s key', async t => {
  const clock = new ManualClock()
  const network = new FakeNetwork()
  const a = node(network, clock)
  await a.sync.start()
  t.teardown(async () => { await a.sync.stop() })
  const type = a.net.recordTypes.get('pylon-capacity')!
  const alice = newSigner()
  const bob = newSigner()
  const aliceAdvert = encodeCapacityAdvert(signedAdvert(alice, clock.now()))
  t.notThrows(() => type.validate(capacityRecordKey(alice.id as NodeId), aliceAdvert))
  t.throws(() => type.validate(capacityRecordKey(bob.id as NodeId), aliceAdvert), { message: /another node's key/ })
  t.throws(() => type.validate(capacityRecordKey(alice.id as NodeId), Uint8Array.of(1)))
  const newer = encodeCapacityAdvert(signedAdvert(alice, clock.now() + 1))
  t.is(type.select(capacityRecordKey(alice.id as NodeId), [aliceAdvert, newer, Uint8Array.of(1)]), 1)
})
