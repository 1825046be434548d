// decodeFrameLength, the length-prefix decoder of long-lived frame streams: the lengths lpStream's
// own (uint8-varint) encoding writes, a RangeError while a prefix is incomplete (lpStream then reads
// another byte), a refusal past 8 bytes; and frames written by lpStream read back through it. And
// decodeUint16Length with noiseWithQuietFraming: Noise connections that decode their frame lengths
// without an Error per read, checked over a real Noise handshake.

import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream, multiaddrConnectionPair, streamPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeFrameLength, decodeUint16Length } from '../../../../node/net/frames.ts'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { noiseCrypto, noiseWithQuietFraming } from '../../../../node/net/libp2p-net.ts'

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

test('decodeUint16Length reads a 2-byte big-endian length from bytes or a chunk list, and throws one shared RangeError while fewer than 2 bytes are buffered', t => {
  for (const length of [0, 1, 255, 256, 4096, 65_535]) {
    const bytes = Uint8Array.of(length >> 8, length & 0xff, 9, 9)
    t.is(decodeUint16Length(bytes), length)
    t.is(decodeUint16Length(new Uint8ArrayList(bytes.subarray(0, 1), bytes.subarray(1))), length, 'a prefix split across chunks')
  }
  const first = t.throws(() => decodeUint16Length(new Uint8ArrayList()), { instanceOf: RangeError })
  const second = t.throws(() => decodeUint16Length(Uint8Array.of(1)), { instanceOf: RangeError })
  t.is(first, second, 'the same object: no stack trace is captured per read')
})

test('noiseWithQuietFraming: a real Noise handshake over a connection pair, whose secured connections use decodeUint16Length and carry data intact across Noise message bounds', async t => {
  const keys = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  const encrypters = keys.map(privateKey => noiseWithQuietFraming()({ privateKey, peerId: peerIdFromPrivateKey(privateKey), logger: defaultLogger(), upgrader: { getStreamMuxers: () => new Map() } } as never))
  const [outbound, inbound] = multiaddrConnectionPair()
  const [a, b] = await Promise.all([
    encrypters[0]!.secureOutbound(outbound, { remotePeer: peerIdFromPrivateKey(keys[1]!) }),
    encrypters[1]!.secureInbound(inbound)
  ])
  for (const secured of [a, b]) t.is((secured.connection as unknown as { decoder: { lengthDecoder: unknown } }).decoder.lengthDecoder, decodeUint16Length)
  t.true(b.remotePeer.equals(peerIdFromPrivateKey(keys[0]!)))
  const received: Uint8Array[] = []
  b.connection.addEventListener('message', event => { received.push((event as unknown as { data: Uint8Array | Uint8ArrayList }).data.subarray()) })
  // Sizes around the 64 KiB Noise message bound, so some frames split and some prefixes straddle reads.
  const sent = [1, 2, 300, 65_519, 65_520, 200_000].map((size, i) => new Uint8Array(size).fill(i + 1))
  for (const chunk of sent) {
    if (!a.connection.send(chunk)) await new Promise(resolve => a.connection.addEventListener('drain', resolve, { once: true }))
  }
  const total = sent.reduce((sum, chunk) => sum + chunk.length, 0)
  for (let i = 0; i < 200 && received.reduce((sum, chunk) => sum + chunk.length, 0) < total; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.deepEqual(Buffer.concat(received), Buffer.concat(sent))
  t.teardown(() => { a.connection.abort(new Error('test over')); b.connection.abort(new Error('test over')) })
})

test('noiseCrypto seals and opens exactly as Noise\'s default crypto does, below and above the 1,200-byte split, with one session key used again', t => {
  const k = Uint8Array.from({ length: 32 }, (_, i) => i * 7)
  const ad = Uint8Array.of(1, 2, 3)
  for (const [i, size] of [0, 1, 1199, 1200, 1201, 65_519].entries()) {
    const nonce = new Uint8Array(12)
    nonce[4] = i
    const plaintext = Uint8Array.from({ length: size }, (_, j) => (j * 31 + i) & 0xff)
    const sealed = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray())
    t.true(sealed.equals(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray()), `size ${size}`)
    t.true(Buffer.from(plaintext).equals(noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k).subarray()), `size ${size}`)
    const tampered = Uint8Array.from(sealed)
    tampered[0] = tampered[0]! ^ 1
    t.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, k), undefined, `a tampered message of ${size} bytes does not open`)
  }
})
