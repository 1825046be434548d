import test from 'ava'
import { Registry } from 'prom-client'
import { encodeCapacityAdvert } from '../../../../protocol/capacity.ts'
import { encode } from '../../../../protocol/codec.ts'
import { AdvertBook } from '../../../../node/capacity/advert-book.ts'
import { CapacityMetrics } from '../../../../node/capacity/capacity-metrics.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { newSigner, signedAdvert } from '../../../helpers/adverts.ts'

function setup (entriesMax?: number): { book: AdvertBook, clock: ManualClock, registry: Registry } {
  const clock = new ManualClock()
  const registry = new Registry()
  const book = new AdvertBook({ clock, metrics: new CapacityMetrics(registry) }, entriesMax === undefined ? {} : { entriesMax })
  return { book, clock, registry }
}

async function rejected (registry: Registry, reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('pylon_capacity_adverts_rejected_total')!.get()
  return metric.values.filter(v => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0)
}

test('AdvertBook adds a new node, updates it with a higher seq, and lists it', t => {
  const { book, clock } = setup()
  const signer = newSigner()
  const first = book.offerBytes(encodeCapacityAdvert(signedAdvert(signer, clock.now())), 'gossip')
  t.deepEqual(first, { ok: true, value: 'added' })
  clock.advance(10)
  const second = book.offerBytes(encodeCapacityAdvert(signedAdvert(signer, clock.now(), { cores: 2 })), 'gossip')
  t.deepEqual(second, { ok: true, value: 'updated' })
  t.is(book.list().length, 1)
  t.is(book.get(signer.id as never)?.signed.advert.cores, 2)
})

test('AdvertBook refuses a replayed advert (equal or older seq) and counts it', async t => {
  const { book, clock, registry } = setup()
  const signer = newSigner()
  const older = encodeCapacityAdvert(signedAdvert(signer, clock.now(), { seq: 5n }))
  const newer = encodeCapacityAdvert(signedAdvert(signer, clock.now(), { seq: 6n, cores: 3 }))
  t.true(book.offerBytes(newer, 'gossip').ok)
  for (const replay of [newer, older]) {
    const r = book.offerBytes(replay, 'exchange')
    t.false(r.ok)
    if (!r.ok) t.is(r.error.reason, 'replayed')
  }
  t.is(book.get(signer.id as never)?.signed.advert.cores, 3)
  t.is(await rejected(registry, 'replayed'), 2)
})

test('AdvertBook refuses forged, expired, oversized and garbage adverts, counting each by reason, and stays empty', async t => {
  const { book, clock, registry } = setup()
  const alice = newSigner()
  const good = signedAdvert(alice, clock.now())
  const forged = encode({ advert: { ...good.advert, cores: 999 }, signature: good.signature })
  const expired = encodeCapacityAdvert(signedAdvert(alice, clock.now() - 120_000, {}, 60_000))
  const oversized = new Uint8Array(64 * 1024)
  const garbage = Uint8Array.of(1, 2, 3, 0xff)
  for (const [bytes, reason] of [[forged, 'forged'], [expired, 'expired'], [oversized, 'oversized'], [garbage, 'malformed']] as const) {
    const r = book.offerBytes(bytes, 'gossip')
    t.false(r.ok)
    if (!r.ok) t.is(r.error.reason, reason)
    t.is(await rejected(registry, reason), 1, reason)
  }
  t.is(book.size, 0)
})

test('AdvertBook hides and sweeps adverts once they expire', async t => {
  const { book, clock } = setup()
  book.offerBytes(encodeCapacityAdvert(signedAdvert(newSigner(), clock.now(), {}, 1000)), 'gossip')
  book.offerBytes(encodeCapacityAdvert(signedAdvert(newSigner(), clock.now(), {}, 5000)), 'gossip')
  await book.start()
  t.teardown(async () => { await book.stop() })
  clock.advance(1000)
  t.is(book.list().length, 1)
  clock.advance(10_000) // the sweep timer fires
  t.is(book.size, 0)
})

test('AdvertBook holds at most entriesMax nodes, evicting the least recently set', t => {
  const { book, clock } = setup(3)
  const signers = [newSigner(), newSigner(), newSigner(), newSigner()]
  for (const s of signers) book.offerBytes(encodeCapacityAdvert(signedAdvert(s, clock.now())), 'gossip')
  t.is(book.size, 3)
  t.is(book.get(signers[0]!.id as never), undefined)
  t.truthy(book.get(signers[3]!.id as never))
})
