import test from 'ava'
import fc from 'fast-check'
import { cidOf, decode, decodeCanonical, encode, rawCidOf } from '../../../protocol/codec.ts'

// decodeCanonical must give exactly the verdict of the re-encoding check it replaced
// (`encode(decode(bytes))` equal to `bytes`): a laxer check would let one value have two encodings,
// so one request two ids; a stricter one would refuse honest clients.

function reencodes (bytes: Uint8Array): boolean | undefined {
  const decoded = decode(bytes)
  if (!decoded.ok) return undefined
  try {
    return Buffer.from(encode(decoded.value)).equals(bytes)
  } catch {
    return false
  }
}

function agrees (bytes: Uint8Array): boolean {
  const expected = reencodes(bytes)
  if (expected === undefined) return !decodeCanonical(bytes).ok
  return decodeCanonical(bytes).ok === expected
}

// A raw CBOR writer that can write any encoding, canonical or not: heads of any width, keys in any
// order, floats of any width, undefined, arbitrary text bytes and CID bytes.
type Raw = { head: [number, number | bigint, number] } | { bytes: Uint8Array } | { items: Raw[] }

function head (major: number, value: number | bigint, width: number): Uint8Array {
  const v = BigInt(value)
  const minimal = v < 24n ? 0 : v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x100000000n ? 4 : 8
  const size = Math.max(width, minimal)
  if (size === 0) return Uint8Array.of((major << 5) | Number(v))
  const out = new Uint8Array(1 + size)
  out[0] = (major << 5) | (size === 1 ? 24 : size === 2 ? 25 : size === 4 ? 26 : 27)
  for (let i = 0; i < size; i++) out[size - i] = Number((v >> BigInt(8 * i)) & 0xffn)
  return out
}

const flat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

const arbWidth = fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 4, 8) })
const arbText = fc.oneof(
  fc.string({ maxLength: 40 }).map(s => new Uint8Array(Buffer.from(s, 'utf8'))),
  fc.uint8Array({ maxLength: 8 }), // often invalid UTF-8
  fc.constantFrom(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xc0, 0x80), Uint8Array.of(0xef, 0xbf, 0xbd))
)
const textItem = (text: Uint8Array, width: number): Uint8Array => flat([head(3, text.length, width), text])

function float (width: 2 | 4 | 8, value: number): Uint8Array {
  const out = new Uint8Array(1 + width)
  const view = new DataView(out.buffer)
  out[0] = width === 2 ? 0xf9 : width === 4 ? 0xfa : 0xfb
  if (width === 2) view.setUint16(1, value === 1 ? 0x3c00 : 0x3e00) // 1.0 or 1.5
  else if (width === 4) view.setFloat32(1, value)
  else view.setFloat64(1, value)
  return out
}

const cidBytes = [cidOf({ a: 1 }).bytes, rawCidOf(Uint8Array.of(1)).bytes]
const arbCid = fc.oneof(
  fc.constantFrom(...cidBytes).map(b => flat([Uint8Array.of(0), b])),
  // version 1 as an over-long varint (0x81 0x00, which CID.decode refuses), explicit v0, no 0x00 prefix, a cut digest.
  fc.constantFrom(...cidBytes).map(b => flat([Uint8Array.of(0, 0x81, 0x00), b.subarray(1)])),
  fc.constant(flat([Uint8Array.of(0, 0x00, 0x70), rawCidOf(Uint8Array.of(2)).multihash.bytes])),
  fc.constant(new Uint8Array(cidBytes[0]!)),
  fc.constant(flat([Uint8Array.of(0), cidBytes[0]!.subarray(0, 20)]))
).map(b => flat([Uint8Array.of(0xd8, 0x2a), head(2, b.length, 0), b]))

const arbLeaf: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), arbWidth, fc.boolean()).map(([v, w, neg]) => head(neg ? 1 : 0, v, w)),
  fc.tuple(fc.nat(300), arbWidth, fc.uint8Array({ maxLength: 300 })).map(([n, w, b]) => flat([head(2, Math.min(n, b.length), w), b.subarray(0, Math.min(n, b.length))])),
  fc.tuple(arbText, arbWidth).map(([t, w]) => textItem(t, w)),
  fc.constantFrom(Uint8Array.of(0xf4), Uint8Array.of(0xf5), Uint8Array.of(0xf6), Uint8Array.of(0xf7), Uint8Array.of(0xf8, 0x20)),
  fc.tuple(fc.constantFrom<2 | 4 | 8>(2, 4, 8), fc.oneof(fc.constantFrom(1, 1.5, -0, 0, 2 ** 53, 2 ** 60, 1e300), fc.double({ noNaN: true, noDefaultInfinity: true }))).map(([w, v]) => float(w, v)),
  arbCid
)

const arbItem: fc.Arbitrary<Uint8Array> = fc.letrec<{ item: Uint8Array }>(tie => ({
  item: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    arbLeaf,
    fc.tuple(fc.array(tie('item'), { maxLength: 5 }), arbWidth).map(([items, w]) => flat([head(4, items.length, w), ...items])),
    fc.tuple(fc.uniqueArray(fc.tuple(fc.oneof(fc.constantFrom('a', 'b', 'aa', 'ab', 'kind', 'nonce', '__proto__', 'é', 'z'), fc.string({ maxLength: 6 })), tie('item')), { maxLength: 6, selector: ([k]) => k }), fc.boolean(), arbWidth)
      .map(([entries, sorted, w]) => {
        const keyed = entries.map(([k, v]) => [new Uint8Array(Buffer.from(k, 'utf8')), v] as const)
        // Half the maps sorted the dag-cbor way, the rest in generated (usually wrong) order.
        if (sorted) keyed.sort(([a], [b]) => a.length - b.length || Buffer.compare(a, b))
        return flat([head(5, keyed.length, w), ...keyed.flatMap(([k, v]) => [textItem(k, 0), v])])
      })
  )
})).item

test('decodeCanonical agrees with the re-encoding check on arbitrary (mostly non-canonical) encodings', t => {
  let canonical = 0
  let refused = 0
  t.notThrows(() => fc.assert(fc.property(arbItem, bytes => {
    const verdict = reencodes(bytes)
    if (verdict === true) canonical++
    if (verdict === false) refused++
    return agrees(bytes)
  }), { numRuns: 4_000, seed: 7 }))
  // Both verdicts were exercised, not just garbage the decoder refuses.
  t.true(canonical > 200, `canonical cases: ${canonical}`)
  t.true(refused > 200, `non-canonical cases: ${refused}`)
})

test('decodeCanonical agrees with the re-encoding check on single-byte changes of canonical values', t => {
  const value = { kind: 'update', actor: 'x.1', payload: Uint8Array.of(1, 2, 3), expiryMs: 1_700_000_000_000n, n: 1.5, big: 2n ** 60n, neg: -300, list: [null, true, false, 'é'], code: rawCidOf(Uint8Array.of(9)) }
  const bytes = encode(value)
  t.true(decodeCanonical(bytes).ok)
  t.notThrows(() => fc.assert(fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (position, delta) => {
    const changed = new Uint8Array(bytes)
    changed[position] = (changed[position]! + delta) & 0xff
    return agrees(changed) && agrees(bytes.subarray(0, position))
  }), { numRuns: 2_000, seed: 11 }))
})

test('decodeCanonical refuses each non-canonical form by name', t => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['keys out of order', flat([Uint8Array.of(0xa2), textItem(Buffer.from('b'), 0), Uint8Array.of(1), textItem(Buffer.from('a'), 0), Uint8Array.of(2)]), /map keys out of order/],
    ['longer key first', flat([Uint8Array.of(0xa2), textItem(Buffer.from('aa'), 0), Uint8Array.of(1), textItem(Buffer.from('b'), 0), Uint8Array.of(2)]), /map keys out of order/],
    ['integer as float64', float(8, 1), /float 1/],
    ['-0 as float64', float(8, -0), /float 0/],
    ['float32', float(4, 1.5), /simple value or float 0xfa/],
    ['undefined', Uint8Array.of(0xf7), /0xf7/],
    ['invalid UTF-8', textItem(Uint8Array.of(0xc3, 0x28), 0), /not valid UTF-8/],
    ['byte order mark', textItem(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), 0), /byte order mark/],
    // CIDv0 spelled out as version 0 + dag-pb: decodes, but the CID's own bytes are the bare multihash.
    ['explicit CIDv0', flat([Uint8Array.of(0xd8, 0x2a, 0x58, 3 + 34, 0, 0, 0x70), rawCidOf(Uint8Array.of(2)).multihash.bytes]), /CID at byte 0 is not in its canonical binary form/]
  ]
  for (const [name, bytes, message] of cases) {
    t.is(reencodes(bytes), false, `${name}: the re-encoding check refuses it too`)
    const r = decodeCanonical(bytes)
    t.false(r.ok, name)
    if (!r.ok) t.regex(r.error, message, name)
  }
  // Canonical forms of the same kinds pass.
  for (const value of [{ a: 2, b: 1 }, { b: 1, aa: 2 }, 1.5, 1, -1, 'é', cidOf({ a: 1 }), 1e300, 2 ** 60]) t.true(decodeCanonical(encode(value)).ok, JSON.stringify(String(value)))
})
