// decodeFrameLength, the length-prefix decoder of long-lived frame streams: the lengths lpStream's
// own (uint8-varint) encoding writes, a RangeError while a prefix is incomplete (lpStream then reads
// another byte), a refusal past 8 bytes; and frames written by lpStream read back through it.

import test from 'ava'
import { lpStream, streamPair } from '@libp2p/utils'
import { decodeFrameLength } from '../../../../node/net/frames.ts'

/** Unsigned LEB128, as uint8-varint writes it. */
function varint (value: number): Uint8Array {
  const out: number[] = []
  for (; value >= 0x80; value = Math.floor(value / 0x80)) out.push((value % 0x80) | 0x80)
  out.push(value)
  return Uint8Array.from(out)
}

const list = (bytes: Uint8Array): { byteLength: number, get (i: number): number } => ({
  byteLength: bytes.length,
  get: i => { if (i >= bytes.length) throw new RangeError('index is out of bounds'); return bytes[i]! }
})

const lengths = [0, 1, 127, 128, 255, 300, 16_383, 16_384, 65_535, 2 ** 21 - 1, 2 ** 21, 2 ** 28 + 5, 2 ** 35 + 1, 2 ** 49 - 1]

test('decodeFrameLength reads varint lengths, with or without data after them', t => {
  for (const length of lengths) {
    t.is(decodeFrameLength(list(varint(length))), length, `length ${length}`)
    t.is(decodeFrameLength(list(Uint8Array.of(...varint(length), 1, 2, 3))), length)
  }
})

test('decodeFrameLength throws a RangeError while the prefix is incomplete, and refuses a prefix past 8 bytes', t => {
  for (const length of lengths) {
    const prefix = varint(length)
    for (let cut = 0; cut < prefix.length; cut++) t.throws(() => decodeFrameLength(list(prefix.subarray(0, cut))), { instanceOf: RangeError }, `${length} cut at ${cut}`)
  }
  t.throws(() => decodeFrameLength(list(new Uint8Array(9).fill(0x80))), { name: 'InvalidDataLengthLengthError' })
})

test('frames lpStream writes read back whole through decodeFrameLength, prefixes split across chunks included', async t => {
  const [outbound, inbound] = await streamPair()
  const writer = lpStream(outbound)
  const reader = lpStream(inbound, { lengthDecoder: decodeFrameLength, maxDataLength: 1 << 20 })
  const sizes = [0, 1, 127, 128, 129, 300, 16_384, 70_000, 5]
  const frames = sizes.map((size, i) => new Uint8Array(size).fill(i + 1))
  await writer.writeV(frames)
  for (const frame of frames) t.deepEqual((await reader.read()).subarray(), frame)
})
