import test from 'ava'
import { decodeCapacityAdvert, encodeCapacityAdvert, signCapacityAdvert, capacityDomain, type CapacityAdvert } from '../../../protocol/capacity.ts'
import { encode } from '../../../protocol/codec.ts'
import { advertLabelCharsMax, advertMultiaddrsMax, advertTtlMsMax, capacityAdvertBytesMax, multiaddrCharsMax } from '../../../protocol/limits.ts'
import { advertFor, newSigner, signedAdvert } from '../../helpers/adverts.ts'

const now = 1_800_000_000_000

test('decodeCapacityAdvert accepts a signed advert and round-trips every field', t => {
  const signer = newSigner()
  const signed = signedAdvert(signer, now)
  const back = decodeCapacityAdvert(encodeCapacityAdvert(signed), { nowMs: now })
  t.true(back.ok)
  if (back.ok) t.deepEqual(back.value, signed)
})

/** Signs an advert padded (through its subnets list) so that its encoding is exactly `bytes` long. */
function advertOfSize (bytes: number): Uint8Array {
  const signer = newSigner()
  const sized = (subnets: string[]): Uint8Array => encodeCapacityAdvert(signCapacityAdvert(advertFor(signer, now, { subnets }), signer))
  // Entries of 24..128 characters all carry a 2-byte cbor header, and 24..64 entries a 2-byte list
  // header, so lengthening one entry by one character lengthens the encoding by exactly one byte.
  const lengths = Array.from({ length: 24 }, (): number => 24)
  const build = (): string[] => lengths.map(n => 'a'.repeat(n))
  let missing = bytes - sized(build()).length
  for (let i = 0; missing > 0; i = (i + 1) % lengths.length) {
    if (!lengths.some(n => n < 128)) {
      lengths.push(24)
      missing -= 26
    }
    const grow = Math.min(128 - lengths[i]!, missing)
    lengths[i]! += grow
    missing -= grow
  }
  return sized(build())
}

test('decodeCapacityAdvert accepts an advert of exactly capacityAdvertBytesMax bytes and refuses one byte more', t => {
  const atLimit = advertOfSize(capacityAdvertBytesMax)
  t.is(atLimit.length, capacityAdvertBytesMax)
  const accepted = decodeCapacityAdvert(atLimit, { nowMs: now })
  t.true(accepted.ok, accepted.ok ? '' : accepted.error.message)
  const pastLimit = advertOfSize(capacityAdvertBytesMax + 1)
  t.is(pastLimit.length, capacityAdvertBytesMax + 1)
  const refused = decodeCapacityAdvert(pastLimit, { nowMs: now })
  t.false(refused.ok)
  if (!refused.ok) {
    t.is(refused.error.reason, 'oversized')
    t.is(refused.error.message, `advert too large: ${capacityAdvertBytesMax + 1} > ${capacityAdvertBytesMax} bytes`)
  }
})

test('decodeCapacityAdvert takes advertMultiaddrsMax addresses and labels of advertLabelCharsMax, not one more', t => {
  const signer = newSigner()
  const atLimit = signedAdvert(signer, now, {
    multiaddrs: Array.from({ length: advertMultiaddrsMax }, (_, i) => `/ip4/10.0.0.${i}/tcp/4001`),
    labels: { rack: 'r'.repeat(advertLabelCharsMax), region: 'x', operator: '' }
  })
  t.true(decodeCapacityAdvert(encodeCapacityAdvert(atLimit), { nowMs: now }).ok)
  const tooMany = signedAdvert(signer, now, { multiaddrs: Array.from({ length: advertMultiaddrsMax + 1 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`) })
  const a = decodeCapacityAdvert(encodeCapacityAdvert(tooMany), { nowMs: now })
  t.false(a.ok)
  if (!a.ok) t.is(a.error.message, `advert: multiaddrs: too many: ${advertMultiaddrsMax + 1} > ${advertMultiaddrsMax}`)
  const longLabel = signedAdvert(signer, now, { labels: { rack: 'r'.repeat(advertLabelCharsMax + 1), region: '', operator: '' } })
  const b = decodeCapacityAdvert(encodeCapacityAdvert(longLabel), { nowMs: now })
  t.false(b.ok)
  if (!b.ok) t.regex(b.error.message, /labels\.rack must be a string of at most 64/)
})

test('decodeCapacityAdvert refuses garbage, never throwing', t => {
  const garbage: unknown[] = [
    new Uint8Array(0), Uint8Array.of(0xff, 0x00, 0x13), new TextEncoder().encode('hello'), encode(42), encode([1, 2, 3]),
    encode({ advert: {}, signature: new Uint8Array(64) }), encode({ advert: null, signature: null }),
    encode({ advert: { nodeId: 'x' }, signature: 1 }), 'not bytes', null
  ]
  for (const g of garbage) {
    const r = decodeCapacityAdvert(g as Uint8Array, { nowMs: now })
    t.false(r.ok)
    if (!r.ok) t.is(r.error.reason, 'malformed')
  }
})

test('decodeCapacityAdvert refuses wrong field types, negative and float quantities, and extra fields', t => {
  const signer = newSigner()
  const cases: Array<[string, (a: Record<string, unknown>) => void, RegExp]> = [
    ['float', a => { a.cores = 1.5 }, /cores must be an integer/],
    ['negative', a => { a.memoryBytes = -1n }, /memoryBytes must be an integer/],
    ['extra', a => { a.extra = 1 }, /exactly the fields/],
    ['missing', a => { delete a.score }, /exactly the fields/],
    ['bad id', a => { a.nodeId = 'QmNotAnEd25519Key' }, /bad node id/],
    ['long ttl', a => { a.expiresAtMs = (a.issuedAtMs as bigint) + BigInt(advertTtlMsMax) + 1n }, /lifetime too long/]
  ]
  for (const [name, mutate, expected] of cases) {
    const advert = { ...advertFor(signer, now) } as unknown as Record<string, unknown>
    mutate(advert)
    // Signed over the malformed body, so only the shape check can refuse it.
    const bytes = encode({ advert, signature: signer.sign(capacityDomain, advert) })
    const r = decodeCapacityAdvert(bytes, { nowMs: now })
    t.false(r.ok, name)
    if (!r.ok) t.regex(r.error.message, expected, name)
  }
})

test('decodeCapacityAdvert refuses a forged advert: changed field, another key, or a stolen node id', t => {
  const alice = newSigner()
  const mallory = newSigner()
  const signed = signedAdvert(alice, now)
  const changed = { ...signed, advert: { ...signed.advert, cores: 4096 } }
  const stolenId: CapacityAdvert = { ...advertFor(mallory, now), nodeId: alice.id as CapacityAdvert['nodeId'] }
  const forgeries = [
    changed,
    { advert: stolenId, signature: mallory.sign(capacityDomain, stolenId) },
    { advert: signed.advert, signature: new Uint8Array(64) },
    { advert: signed.advert, signature: alice.sign('pylon/other/v1', signed.advert) }
  ]
  for (const forged of forgeries) {
    const r = decodeCapacityAdvert(encode(forged), { nowMs: now })
    t.false(r.ok)
    if (!r.ok) t.is(r.error.reason, 'forged')
  }
})

test('decodeCapacityAdvert refuses an expired advert and one issued too far in the future', t => {
  const signer = newSigner()
  const signed = encodeCapacityAdvert(signedAdvert(signer, now, {}, 1000))
  t.true(decodeCapacityAdvert(signed, { nowMs: now + 999 }).ok)
  const expired = decodeCapacityAdvert(signed, { nowMs: now + 1000 })
  t.false(expired.ok)
  if (!expired.ok) t.is(expired.error.reason, 'expired')
  const early = decodeCapacityAdvert(encodeCapacityAdvert(signedAdvert(signer, now + 120_000)), { nowMs: now })
  t.false(early.ok)
  if (!early.ok) t.is(early.error.reason, 'premature')
})

test('signCapacityAdvert refuses to sign an advert that names another node', t => {
  const a = newSigner()
  const b = newSigner()
  t.throws(() => signCapacityAdvert(advertFor(a, now), b), { message: /names .* but the signer is/ })
})
