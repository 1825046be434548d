// Checkpoint manifest and chunk codecs against untrusted bytes: at the limit, one past it, garbage.
import test from 'ava'
import fc from 'fast-check'
import { encode } from '../../../../protocol/codec.ts'
import { height } from '../../../../protocol/ids.ts'
import { checkpointChunkBytesMax, checkpointChunksMax, checkpointManifestBytesMax, stateKeyBytesMax, stateValueBytesMax } from '../../../../protocol/limits.ts'
import { decodeChunk, decodeManifest, encodeChunk, encodeManifest, manifestCid, type CheckpointManifest } from '../../../../protocol/state/checkpoint.ts'
import { actorA } from './_trie.ts'

const manifest = (chunks: number): CheckpointManifest => ({
  height: height(1000),
  stateRoot: new Uint8Array(32).fill(7),
  entries: 5,
  chunks: Array.from({ length: chunks }, (_, i) => ({ hash: new Uint8Array(32).fill(i % 256), bytes: 1 + (i % 1000) }))
})

test('decodeManifest round-trips and the CID names the exact manifest', t => {
  const m = manifest(3)
  const decoded = decodeManifest(encodeManifest(m))
  t.true(decoded.ok)
  if (decoded.ok) t.deepEqual(decoded.value, m)
  t.not(manifestCid(m).toString(), manifestCid({ ...m, entries: 6 }).toString())
})

test('decodeManifest accepts checkpointChunksMax chunks and refuses one more', t => {
  const atLimit = encodeManifest(manifest(checkpointChunksMax))
  t.true(atLimit.length <= checkpointManifestBytesMax)
  t.true(decodeManifest(atLimit).ok)
  const past = decodeManifest(encodeManifest(manifest(checkpointChunksMax + 1)))
  t.false(past.ok)
  if (!past.ok) t.regex(past.error, new RegExp(`too many chunks: ${checkpointChunksMax + 1} > ${checkpointChunksMax}`))
})

test('decodeManifest refuses more than checkpointManifestBytesMax bytes before parsing', t => {
  const result = decodeManifest(new Uint8Array(checkpointManifestBytesMax + 1))
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /too large/)
})

test('decodeManifest refuses garbage and wrong shapes', t => {
  const good = manifest(1)
  const cases: unknown[] = [
    'manifest', [2, 1, good.stateRoot, 0, []], [1, -1, good.stateRoot, 0, []], [1, 1, new Uint8Array(31), 0, []],
    [1, 1, good.stateRoot, -1, []], [1, 1, good.stateRoot, 0, [[new Uint8Array(32), 0]]],
    [1, 1, good.stateRoot, 0, [[new Uint8Array(32), checkpointChunkBytesMax + 1]]], [1, 1, good.stateRoot, 0, [[new Uint8Array(30), 5]]], [1, 1, good.stateRoot, 0, {}]
  ]
  for (const value of cases) t.false(decodeManifest(encode(value)).ok, JSON.stringify(value, (_k, v) => v instanceof Uint8Array ? `bytes(${v.length})` : v))
  t.false(decodeManifest(Uint8Array.of(0xff, 0xfe)).ok)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), bytes => { decodeManifest(bytes) }))
})

test('decodeChunk round-trips state and code chunks', t => {
  const state = { kind: 'state' as const, entries: [{ actor: actorA, key: Uint8Array.of(1), value: Uint8Array.of(2, 3) }] }
  const code = { kind: 'code' as const, cid: 'bafkreiexample', part: 1, parts: 3, bytes: Uint8Array.of(9) }
  t.deepEqual(decodeChunk(encodeChunk(state)), { ok: true, value: state })
  t.deepEqual(decodeChunk(encodeChunk(code)), { ok: true, value: code })
})

test('decodeChunk accepts a chunk exactly at checkpointChunkBytesMax and refuses one byte more', t => {
  const big = new Uint8Array(stateValueBytesMax)
  const chunkOf = (second: number): Uint8Array => encode([1, 's', [[actorA, Uint8Array.of(1), big], [actorA, Uint8Array.of(2), big], [actorA, Uint8Array.of(3), new Uint8Array(second)]]])
  const overhead = chunkOf(0).length
  let second = checkpointChunkBytesMax - overhead
  while (chunkOf(second).length > checkpointChunkBytesMax) second--
  t.is(chunkOf(second).length, checkpointChunkBytesMax)
  t.true(decodeChunk(chunkOf(second)).ok)
  const past = decodeChunk(chunkOf(second + 1))
  t.false(past.ok)
  if (!past.ok) t.is(past.error, `checkpoint chunk: message too large: ${checkpointChunkBytesMax + 1} > ${checkpointChunkBytesMax} bytes`)
})

test('decodeChunk refuses over-long keys, over-large values and garbage', t => {
  const keyResult = decodeChunk(encode([1, 's', [[actorA, new Uint8Array(stateKeyBytesMax + 1), Uint8Array.of(1)]]]))
  t.false(keyResult.ok)
  if (!keyResult.ok) t.regex(keyResult.error, /key too long/)
  t.true(decodeChunk(encode([1, 's', [[actorA, new Uint8Array(stateKeyBytesMax), Uint8Array.of(1)]]])).ok)
  t.false(decodeChunk(encode([1, 's', [[actorA, Uint8Array.of(1), new Uint8Array(stateValueBytesMax + 1)]]])).ok)
  const cases: unknown[] = [[1, 'x', []], [1, 's', {}], [1, 's', [['', Uint8Array.of(1), Uint8Array.of(1)]]], [1, 's', [[actorA, 'k', Uint8Array.of(1)]]],
    [1, 'c', 'cid', 3, 3, Uint8Array.of(1)], [1, 'c', 'cid', 0, 0, Uint8Array.of(1)], [1, 'c', '', 0, 1, Uint8Array.of(1)], [1, 'c', 'cid', 0, 1, 'x'], [2, 's', []]]
  for (const value of cases) t.false(decodeChunk(encode(value)).ok)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), bytes => { decodeChunk(bytes) }))
})
