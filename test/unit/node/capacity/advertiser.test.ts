import test from 'ava'
import { Registry } from 'prom-client'
import { capacityTopic, decodeCapacityAdvert } from '../../../../protocol/capacity.ts'
import type { NodeId } from '../../../../protocol/ids.ts'
import { AdvertBook } from '../../../../node/capacity/advert-book.ts'
import { Advertiser } from '../../../../node/capacity/advertiser.ts'
import { CapacityMetrics } from '../../../../node/capacity/capacity-metrics.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { newSigner } from '../../../helpers/adverts.ts'
import { FakeNet } from '../../../helpers/fake-net.ts'

function setup (subnets?: () => string[]): { advertiser: Advertiser, net: FakeNet, clock: ManualClock, book: AdvertBook } {
  const clock = new ManualClock()
  const signer = newSigner()
  const net = new FakeNet(signer.id as NodeId)
  const metrics = new CapacityMetrics(new Registry())
  const book = new AdvertBook({ clock, metrics })
  let last = 0n
  const advertiser = new Advertiser({
    net, signer, book, clock, logger: silentLogger, metrics,
    sequence: { next: async (now) => { last = BigInt(now) > last ? BigInt(now) : last + 1n; return last } },
    probe: async () => ({ cores: 4, memoryBytes: 8n << 30n, diskFreeBytes: 100n << 30n, loadPermille: 120 }),
    subnets
  }, { labels: { rack: 'r9', region: 'eu', operator: 'op' }, version: '9.9.9', score: 42n, intervalMs: 10_000 })
  return { advertiser, net, clock, book }
}

async function flush (): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
}

test('Advertiser publishes a signed advert at start with the probe, labels and addresses, and stores it in its book and the DHT', async t => {
  const { advertiser, net, clock, book } = setup()
  await advertiser.start()
  t.teardown(async () => { await advertiser.stop() })
  await flush()
  t.is(net.published.length, 1)
  t.is(net.published[0]!.topic, capacityTopic)
  const decoded = decodeCapacityAdvert(net.published[0]!.data, { nowMs: clock.now() })
  t.true(decoded.ok)
  if (!decoded.ok) return
  const a = decoded.value.advert
  t.is(a.nodeId, net.nodeId)
  t.deepEqual(a.labels, { rack: 'r9', region: 'eu', operator: 'op' })
  t.is(a.cores, 4)
  t.is(a.score, 42n)
  t.deepEqual(a.multiaddrs, net.multiaddrs())
  t.is(a.expiresAtMs - a.issuedAtMs, 40_000n)
  t.is(book.get(net.nodeId)?.signed.advert.seq, a.seq)
  t.deepEqual(net.records.get(`/pylon-capacity/${net.nodeId}`), net.published[0]!.data, 'the same bytes are put in the DHT')
})

test('Advertiser republishes every interval and early when its addresses change, with increasing seq', async t => {
  const { advertiser, net, clock } = setup()
  await advertiser.start()
  t.teardown(async () => { await advertiser.stop() })
  clock.advance(5_000)
  await flush()
  t.is(net.published.length, 1, 'nothing changed yet')
  net.addresses = ['/ip4/127.0.0.1/tcp/2']
  clock.advance(5_000)
  await flush()
  t.is(net.published.length, 2, 'address change republished')
  clock.advance(10_000)
  await flush()
  t.is(net.published.length, 3, 'interval republished')
  const seqs = net.published.map(p => { const d = decodeCapacityAdvert(p.data, { nowMs: clock.now() }); return d.ok ? d.value.advert.seq : -1n })
  t.true(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!)
})

test('Advertiser lists the subnets the node serves and republishes early when they change', async t => {
  const served: string[] = []
  const { advertiser, net, clock } = setup(() => served)
  await advertiser.start()
  t.teardown(async () => { await advertiser.stop() })
  await flush()
  const first = decodeCapacityAdvert(net.published[0]!.data, { nowMs: clock.now() })
  t.true(first.ok && first.value.advert.subnets.length === 0)
  served.push('bafyreifjgojisqcynm76iyiczzb6xln6b7gphcbsnidrdsnjgixncugb6u')
  clock.advance(5_000)
  await flush()
  t.is(net.published.length, 2, 'a joined subnet is worth an early republish')
  const second = decodeCapacityAdvert(net.published[1]!.data, { nowMs: clock.now() })
  t.true(second.ok && second.value.advert.subnets[0] === served[0])
})
