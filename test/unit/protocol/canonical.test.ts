import test from 'ava'
import { cidOf, decode, decodeCanonical, encode, rawCidOf } from '../../../protocol/codec.ts'

// decodeCanonical refuses every byte form of a value but the one `encode` writes: a laxer check
// would let one value have two encodings, so one request two ids.

// A raw CBOR writer for encodings `encode` never makes: wide heads, keys out of order, floats.
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

test('decodeCanonical refuses each non-canonical form', t => {
  const cases: Array<[string, Uint8Array]> = [
    ['keys out of order', flat([Uint8Array.of(0xa2), textItem(Buffer.from('b'), 0), Uint8Array.of(1), textItem(Buffer.from('a'), 0), Uint8Array.of(2)])],
    ['longer key first', flat([Uint8Array.of(0xa2), textItem(Buffer.from('aa'), 0), Uint8Array.of(1), textItem(Buffer.from('b'), 0), Uint8Array.of(2)])],
    ['integer as float64', float(8, 1)],
    ['-0 as float64', float(8, -0)],
    ['float32', float(4, 1.5)],
    ['undefined', Uint8Array.of(0xf7)],
    ['invalid UTF-8', textItem(Uint8Array.of(0xc3, 0x28), 0)],
    ['byte order mark', textItem(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), 0)],
    // CIDv0 spelled out as version 0 + dag-pb: decodes, but the CID's own bytes are the bare multihash.
    ['explicit CIDv0', flat([Uint8Array.of(0xd8, 0x2a, 0x58, 3 + 34, 0, 0, 0x70), rawCidOf(Uint8Array.of(2)).multihash.bytes])]
  ]
  for (const [name, bytes] of cases) {
    t.true(decode(bytes).ok || name === 'explicit CIDv0', `${name}: the plain decoder takes it`)
    const r = decodeCanonical(bytes)
    t.false(r.ok, name)
    if (!r.ok) t.regex(r.error, /^(not canonical dag-cbor|malformed dag-cbor)/, name)
  }
  // Canonical forms of the same kinds pass.
  for (const value of [{ a: 2, b: 1 }, { b: 1, aa: 2 }, 1.5, 1, -1, 'é', cidOf({ a: 1 }), 1e300, 2 ** 60]) t.true(decodeCanonical(encode(value)).ok, JSON.stringify(String(value)))
})
