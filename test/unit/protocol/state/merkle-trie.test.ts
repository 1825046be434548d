// The state trie: order-independent roots, exact node pruning, log depth, encodings, prefetch.
import test from 'ava'
import fc from 'fast-check'
import { sha256Bytes } from '../../../../protocol/codec.ts'
import type { ActorId } from '../../../../protocol/ids.ts'
import { decodeNode, emptyRoot, encodeInner, encodeLeaf, leafHash, toHex, TrieUpdate } from '../../../../protocol/state/merkle-trie.ts'
import { bitAt, compareBytes, firstDifferingBit, statePath } from '../../../../protocol/state/state-key.ts'
import { TrieBuilder } from '../../../../protocol/state/trie-builder.ts'
import { actorA, actorB, applyUpdate, applyWrites, MapNodes, trieOf, type Write } from './_trie.ts'

const entryArb = fc.record({
  actor: fc.constantFrom(actorA, actorB),
  key: fc.uint8Array({ minLength: 0, maxLength: 6 }),
  value: fc.uint8Array({ minLength: 0, maxLength: 8 })
})

/** The final contents of a write sequence: last write per (actor, key) wins, deletes remove. */
function contentsOf (writes: Write[]): Map<string, Write> {
  const out = new Map<string, Write>()
  for (const w of writes) {
    const id = `${w.actor}/${toHex(w.key)}`
    if (w.value === null) out.delete(id)
    else out.set(id, w)
  }
  return out
}

function builderRoot (contents: Iterable<Write>): Uint8Array {
  const leaves = [...contents].map(w => ({ path: statePath(w.actor, w.key), valueHash: sha256Bytes(w.value!) }))
  leaves.sort((a, b) => compareBytes(a.path, b.path))
  const builder = new TrieBuilder()
  for (const leaf of leaves) builder.add(leaf.path, leaf.valueHash)
  return builder.finish()
}

test('TrieUpdate gives the same root for any order of the same writes', async t => {
  await fc.assert(fc.asyncProperty(fc.uniqueArray(entryArb, { selector: e => `${e.actor}/${toHex(e.key)}`, maxLength: 40 }), fc.integer(), async (entries, seed) => {
    const shuffled = fc.sample(fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }), { seed, numRuns: 1 })[0]!
    const a = await trieOf(entries)
    const b = await trieOf(shuffled)
    t.is(toHex(a.root), toHex(b.root))
  }), { numRuns: 150 })
})

test('TrieUpdate root depends only on final contents, also across batches, deletes and overwrites', async t => {
  const writeArb = fc.record({ actor: fc.constantFrom(actorA, actorB), key: fc.uint8Array({ maxLength: 2 }), value: fc.option(fc.uint8Array({ maxLength: 4 }), { nil: null }) })
  await fc.assert(fc.asyncProperty(fc.array(fc.array(writeArb, { maxLength: 15 }), { maxLength: 6 }), async batches => {
    const nodes = new MapNodes()
    let root = emptyRoot
    for (const batch of batches) root = await applyWrites(nodes, root, batch)
    const contents = contentsOf(batches.flat())
    // Same root as a single batch of the final contents, and as the one-pass builder.
    t.is(toHex(root), toHex((await trieOf([...contents.values()])).root))
    t.is(toHex(root), toHex(builderRoot(contents.values())))
    // The node store holds exactly the reachable nodes: 2n - 1 for n leaves (pruning is exact).
    t.is(nodes.nodes.size, contents.size === 0 ? 0 : 2 * contents.size - 1)
  }), { numRuns: 200 })
})

test('TrieUpdate on an empty trie returns emptyRoot after deleting everything', async t => {
  const nodes = new MapNodes()
  const root = await applyWrites(nodes, emptyRoot, [{ actor: actorA, key: Uint8Array.of(1), value: Uint8Array.of(2) }])
  t.not(toHex(root), toHex(emptyRoot))
  t.is(toHex(await applyWrites(nodes, root, [{ actor: actorA, key: Uint8Array.of(1), value: null }])), toHex(emptyRoot))
  t.is(nodes.nodes.size, 0)
})

test('TrieUpdate of a single entry has the leaf hash as root', async t => {
  const { root } = await trieOf([{ actor: actorA, key: Uint8Array.of(7), value: Uint8Array.of(9) }])
  t.is(toHex(root), toHex(leafHash(statePath(actorA, Uint8Array.of(7)), sha256Bytes(Uint8Array.of(9)))))
})

test('TrieUpdate depth grows like log2 n', async t => {
  const writes: Write[] = Array.from({ length: 2000 }, (_, i) => ({ actor: actorA, key: new TextEncoder().encode(`k${i}`), value: Uint8Array.of(1) }))
  const { nodes, root } = await trieOf(writes)
  let deepest = 0
  const stack: Array<[Uint8Array, number]> = [[root, 0]]
  while (stack.length > 0) {
    const [hash, depth] = stack.pop()!
    const node = decodeNode(nodes.getNode(hash)!)!
    if (node.kind === 'leaf') deepest = Math.max(deepest, depth)
    else stack.push([node.left, depth + 1], [node.right, depth + 1])
  }
  // log2(2000) ≈ 11; random paths put the deepest leaf near 2·log2 n.
  t.true(deepest >= 11 && deepest <= 30, `deepest leaf at ${deepest}`)
})

test('node encodings separate leaves from inner nodes and decodeNode refuses anything else', t => {
  const path = new Uint8Array(32).fill(1)
  const leaf = encodeLeaf(path, new Uint8Array(32))
  const inner = encodeInner(5, new Uint8Array(32), new Uint8Array(32).fill(2))
  t.is(decodeNode(leaf)?.kind, 'leaf')
  t.is(decodeNode(inner)?.kind, 'inner')
  t.is(decodeNode(leaf.subarray(1)), undefined)
  t.is(decodeNode(Uint8Array.of(0x01, 0x00)), undefined)
  t.is(decodeNode(Uint8Array.of(0x07, ...leaf.subarray(1))), undefined)
  t.not(toHex(sha256Bytes(leaf)), toHex(sha256Bytes(inner)))
})

test('firstDifferingBit and bitAt agree', t => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
    const d = firstDifferingBit(a, b)
    for (let i = 0; i < Math.min(d, 256); i++) t.is(bitAt(a, i), bitAt(b, i))
    if (d < 256) t.not(bitAt(a, d), bitAt(b, d))
    else t.deepEqual(a, b)
  }), { numRuns: 200 })
})

test('TrieBuilder refuses paths out of order', t => {
  const builder = new TrieBuilder()
  builder.add(new Uint8Array(32).fill(2), new Uint8Array(32))
  t.throws(() => builder.add(new Uint8Array(32).fill(1), new Uint8Array(32)), { instanceOf: RangeError })
  t.throws(() => builder.add(new Uint8Array(32).fill(2), new Uint8Array(32)), { instanceOf: RangeError })
})

test('statePath separates actors from keys (length-prefixed row keys)', t => {
  t.not(toHex(statePath('ab' as ActorId, Uint8Array.of(0x63))), toHex(statePath('a' as ActorId, Uint8Array.of(0x62, 0x63))))
})

test('TrieUpdate.prefetch loads nodes level by level and changes no result', async t => {
  const base: Write[] = Array.from({ length: 300 }, (_, i) => ({ actor: actorA, key: Uint8Array.of(i & 0xff, i >> 8), value: Uint8Array.of(1) }))
  const batch: Write[] = Array.from({ length: 120 }, (_, i) => ({ actor: i % 2 === 0 ? actorA : actorB, key: Uint8Array.of((i * 7) & 0xff, 0), value: i % 5 === 0 ? null : Uint8Array.of(2, i) }))
  const plain = await trieOf(base)
  const expected = await applyWrites(plain.nodes, plain.root, batch)
  const fetched = await trieOf(base)
  let reads = 0
  let singleReads = 0
  const source = {
    getNode: (hash: Uint8Array) => { singleReads++; return fetched.nodes.getNode(hash) },
    getNodes: async (hashes: Uint8Array[]) => { reads++; return hashes.map(h => fetched.nodes.getNode(h)) }
  }
  const update = new TrieUpdate(source, fetched.root)
  await update.prefetch(batch.map(w => statePath(w.actor, w.key)))
  for (const w of batch) {
    if (w.value === null) await update.delete(statePath(w.actor, w.key))
    else await update.set(statePath(w.actor, w.key), sha256Bytes(w.value))
  }
  t.is(toHex(update.root), toHex(expected))
  // Only nodes that a delete exposed (a removed leaf's sibling subtree, now on other paths) are
  // read one by one afterwards; without prefetch, every node on every path is.
  let baseline = 0
  const counting = new TrieUpdate({ getNode: (hash: Uint8Array) => { baseline++; return fetched.nodes.getNode(hash) } }, fetched.root)
  for (const w of batch) {
    if (w.value === null) await counting.delete(statePath(w.actor, w.key))
    else await counting.set(statePath(w.actor, w.key), sha256Bytes(w.value))
  }
  t.is(toHex(counting.root), toHex(expected))
  t.true(singleReads * 10 < baseline, `${singleReads} single reads after prefetch, ${baseline} without`)
  t.true(reads > 0 && reads <= 30, `${reads} level reads`)
  await t.throwsAsync(update.set(new Uint8Array(32), new Uint8Array(32)), { message: /finished/ })
})

test('TrieUpdate.next continues from the kept top with the same roots and node sets as fresh batches, and reads fewer nodes', async t => {
  const writeArb = fc.record({ actor: fc.constantFrom(actorA, actorB), key: fc.uint8Array({ maxLength: 2 }), value: fc.option(fc.uint8Array({ maxLength: 4 }), { nil: null }) })
  await fc.assert(fc.asyncProperty(fc.array(fc.array(writeArb, { maxLength: 20 }), { maxLength: 6 }), fc.integer({ min: 0, max: 4 }), async (batches, keepDepth) => {
    const fresh = new MapNodes()
    let root = emptyRoot
    const kept = new MapNodes()
    let update = new TrieUpdate(kept, emptyRoot)
    for (const [i, batch] of batches.entries()) {
      root = await applyWrites(fresh, root, batch)
      if (i > 0) update = update.next(keepDepth)
      t.is(toHex(await applyUpdate(update, kept, batch)), toHex(root))
      t.deepEqual([...kept.nodes.keys()].sort(), [...fresh.nodes.keys()].sort())
    }
  }), { numRuns: 150 })
  // Kept levels are not read again: a second batch over the same paths reads only below them.
  const base: Write[] = Array.from({ length: 256 }, (_, i) => ({ actor: actorA, key: Uint8Array.of(i), value: Uint8Array.of(1) }))
  const built = await trieOf(base)
  let reads = 0
  const source = { getNode: (hash: Uint8Array) => { reads++; return built.nodes.getNode(hash) } }
  const first = new TrieUpdate(source, built.root)
  for (const w of base) await first.set(statePath(w.actor, w.key), sha256Bytes(Uint8Array.of(2)))
  for (const { hash, bytes } of first.created) built.nodes.nodes.set(toHex(hash), bytes)
  const firstReads = reads
  reads = 0
  const second = first.next(30)
  for (const w of base) await second.set(statePath(w.actor, w.key), sha256Bytes(Uint8Array.of(3)))
  for (const { hash, bytes } of second.created) built.nodes.nodes.set(toHex(hash), bytes)
  t.is(reads, 0, 'the whole trie was kept')
  t.true(firstReads >= 2 * 256 - 1, `${firstReads} reads in the first batch`)
  t.throws(() => first.next(1), { message: /already called/ })
  t.throws(() => second.next(-1), { message: /keepDepth must be an integer in 0\.\.30/ })
  // Over 2^(2+1) nodes held: all but the top two levels are dropped and read again when walked.
  const third = second.next(2)
  for (const w of base) await third.set(statePath(w.actor, w.key), sha256Bytes(Uint8Array.of(4)))
  t.true(reads >= 2 * 256 - 1 - 3, `${reads} reads after trimming to two levels`)
})
