import test from 'ava'
import { cidOf, cidOfBytes, cidStringOfBytes, decode, encode, sha256Bytes, sha256Hex, signingBytes } from '../../../protocol/codec.ts'
import { codecBytesMax, codecDepthMax } from '../../../protocol/limits.ts'

test('decode round-trips what encode wrote', t => {
  const value = { a: 1, b: [new Uint8Array([1, 2]), 'x'], c: null }
  const result = decode(encode(value))
  t.true(result.ok)
  if (result.ok) t.deepEqual(result.value, value)
})

test('encode is canonical: key order does not change bytes or CID', t => {
  t.deepEqual(encode({ a: 1, b: 2 }), encode({ b: 2, a: 1 }))
  t.is(cidOf({ a: 1, b: 2 }).toString(), cidOf({ b: 2, a: 1 }).toString())
})

test('decode accepts a message at the size limit and refuses one byte past it', t => {
  const limit = 1000
  const atLimit = encode(new Uint8Array(limit - 3)) // 0x59 + 2-byte length + payload
  t.is(atLimit.length, limit)
  t.true(decode(atLimit, { bytesMax: limit }).ok)
  const past = encode(new Uint8Array(limit - 2))
  const result = decode(past, { bytesMax: limit })
  t.false(result.ok)
  if (!result.ok) t.is(result.error, `message too large: ${limit + 1} > ${limit} bytes`)
})

test('decode refuses more than codecBytesMax by default without parsing', t => {
  const result = decode(new Uint8Array(codecBytesMax + 1))
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /too large/)
})

test('decode refuses garbage, empty input and trailing bytes', t => {
  for (const bytes of [new Uint8Array([0xff, 0x00, 0x13]), new Uint8Array(0), Uint8Array.of(0x01, 0x02), Uint8Array.of(0x1c)]) {
    t.false(decode(bytes).ok, `accepted ${Buffer.from(bytes).toString('hex')}`)
  }
})

test('decode accepts nesting at the depth limit and refuses one past it', t => {
  const nested = (depth: number): Uint8Array => {
    // depth arrays of one element each around a 0: 0x81 * depth then 0x00
    const bytes = new Uint8Array(depth)
    bytes.fill(0x81, 0, depth - 1)
    bytes[depth - 1] = 0x00
    return bytes
  }
  t.true(decode(nested(codecDepthMax)).ok)
  const result = decode(nested(codecDepthMax + 1))
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /nested too deeply/)
})

test('decode survives a nesting bomb that would overflow a recursive parser', t => {
  const bytes = new Uint8Array(1_000_000).fill(0x81)
  bytes[bytes.length - 1] = 0
  t.false(decode(bytes).ok)
})

test('signingBytes differ by domain and refuse a domain outside pylon/', t => {
  t.notDeepEqual(signingBytes('pylon/a/v1', 1), signingBytes('pylon/b/v1', 1))
  t.throws(() => signingBytes('other/v1', 1), { instanceOf: RangeError })
  t.throws(() => signingBytes('pylon/' + 'x'.repeat(100), 1), { instanceOf: RangeError })
})

test('cidStringOfBytes and sha256Hex equal the multiformats construction byte for byte', t => {
  for (const size of [0, 1, 31, 32, 289, 4096, 70_000]) {
    const bytes = new Uint8Array(size).map((_, i) => (i * 131 + size) & 0xff)
    t.is(cidStringOfBytes(bytes), cidOfBytes(bytes).toString(), `${size} bytes`)
    t.is(sha256Hex(bytes), Buffer.from(sha256Bytes(bytes)).toString('hex'), `${size} bytes`)
  }
  // A subarray hashes its own bytes, not the whole buffer behind it.
  const whole = encode({ a: [1, 2, 3], b: 'x' })
  const part = whole.subarray(2, 9)
  t.is(cidStringOfBytes(part), cidOfBytes(new Uint8Array(part)).toString())
})
