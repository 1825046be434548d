// State proofs: every inclusion and non-inclusion proof verifies, tampered ones do not, and the
// decoder holds its limits against untrusted bytes.
import test from 'ava'
import fc from 'fast-check'
import { encode } from '../../../../protocol/codec.ts'
import { stateProofBytesMax, stateProofStepsMax, stateValueBytesMax } from '../../../../protocol/limits.ts'
import { emptyRoot, toHex } from '../../../../protocol/state/merkle-trie.ts'
import { decodeStateProof, encodeStateProof, provePath, verifyStateProof, type StateProof } from '../../../../protocol/state/state-proof.ts'
import { statePath } from '../../../../protocol/state/state-key.ts'
import { actorA, actorB, trieOf, type Write } from './_trie.ts'

const entriesArb = fc.uniqueArray(fc.record({
  actor: fc.constantFrom(actorA, actorB),
  key: fc.uint8Array({ maxLength: 5 }),
  value: fc.uint8Array({ maxLength: 8 })
}), { selector: e => `${e.actor}/${toHex(e.key)}`, minLength: 1, maxLength: 40 })

async function proofOf (entries: Write[], write: { actor: Write['actor'], key: Uint8Array }): Promise<{ root: Uint8Array, proof: StateProof }> {
  const { nodes, root } = await trieOf(entries)
  const partial = await provePath(nodes, root, statePath(write.actor, write.key))
  const present = entries.find(e => e.actor === write.actor && toHex(e.key) === toHex(write.key))
  return { root, proof: { ...partial, value: present?.value ?? null } }
}

test('verifyStateProof accepts every inclusion proof the trie produces, with its value', async t => {
  await fc.assert(fc.asyncProperty(entriesArb, fc.nat(), async (entries, pick) => {
    const entry = entries[pick % entries.length]!
    const { root, proof } = await proofOf(entries, entry)
    const result = verifyStateProof(root, entry.actor, entry.key, proof)
    t.true(result.ok)
    if (result.ok) t.is(toHex(result.value!), toHex(entry.value!))
    // And the proof survives its own encoding.
    const decoded = decodeStateProof(encodeStateProof(proof))
    t.true(decoded.ok && verifyStateProof(root, entry.actor, entry.key, decoded.value).ok)
  }), { numRuns: 150 })
})

test('verifyStateProof refuses a proof whose value was changed', async t => {
  await fc.assert(fc.asyncProperty(entriesArb, fc.nat(), fc.uint8Array({ maxLength: 8 }), async (entries, pick, other) => {
    const entry = entries[pick % entries.length]!
    fc.pre(toHex(other) !== toHex(entry.value!))
    const { root, proof } = await proofOf(entries, entry)
    t.false(verifyStateProof(root, entry.actor, entry.key, { ...proof, value: other }).ok)
    // Claiming absence for a present key fails too.
    t.false(verifyStateProof(root, entry.actor, entry.key, { ...proof, value: null }).ok)
  }), { numRuns: 150 })
})

test('verifyStateProof accepts non-inclusion proofs for absent keys and refuses them for present ones', async t => {
  await fc.assert(fc.asyncProperty(entriesArb, fc.uint8Array({ minLength: 6, maxLength: 8 }), fc.nat(), async (entries, absentKey, pick) => {
    const { root, proof } = await proofOf(entries, { actor: actorA, key: absentKey }) // keys in entries are ≤ 5 bytes
    t.is(proof.value, null)
    const result = verifyStateProof(root, actorA, absentKey, proof)
    t.true(result.ok)
    if (result.ok) t.is(result.value, null)
    // The same proof says nothing about a present key, and a present key's proof cannot claim absence.
    const present = entries[pick % entries.length]!
    t.false(verifyStateProof(root, present.actor, present.key, proof).ok)
    const own = await proofOf(entries, present)
    t.false(verifyStateProof(root, present.actor, present.key, { ...own.proof, value: null }).ok)
    // Claiming a value for the absent key fails.
    t.false(verifyStateProof(root, actorA, absentKey, { ...proof, value: Uint8Array.of(1) }).ok)
  }), { numRuns: 150 })
})

test('verifyStateProof refuses tampered steps and a different root', async t => {
  const entries = Array.from({ length: 50 }, (_, i) => ({ actor: actorB, key: Uint8Array.of(i), value: Uint8Array.of(i, i) }))
  const { root, proof } = await proofOf(entries, entries[7]!)
  t.true(proof.steps.length > 1)
  const flipped = proof.steps.map((s, i) => i === 0 ? { ...s, sibling: s.sibling.map((b, j) => j === 0 ? b ^ 1 : b) } : s)
  t.false(verifyStateProof(root, actorB, Uint8Array.of(7), { ...proof, steps: flipped }).ok)
  t.false(verifyStateProof(root, actorB, Uint8Array.of(7), { ...proof, steps: proof.steps.slice(1) }).ok)
  t.false(verifyStateProof(root, actorB, Uint8Array.of(7), { ...proof, steps: proof.steps.toReversed() }).ok)
  t.false(verifyStateProof(emptyRoot, actorB, Uint8Array.of(7), proof).ok)
  t.false(verifyStateProof(root, actorA, Uint8Array.of(7), proof).ok)
})

test('verifyStateProof on an empty trie: absence verifies, a value does not', t => {
  t.deepEqual(verifyStateProof(emptyRoot, actorA, Uint8Array.of(1), { value: null, leaf: null, steps: [] }), { ok: true, value: null })
  t.false(verifyStateProof(emptyRoot, actorA, Uint8Array.of(1), { value: Uint8Array.of(1), leaf: null, steps: [] }).ok)
  t.false(verifyStateProof(new Uint8Array(32), actorA, Uint8Array.of(1), { value: null, leaf: null, steps: [] }).ok)
})

test('decodeStateProof: the largest valid proof fits, the byte limit holds exactly, one byte past is refused', t => {
  const leaf = [new Uint8Array(32), new Uint8Array(32)]
  const steps = Array.from({ length: stateProofStepsMax }, (_, i) => [i, new Uint8Array(32)])
  const largest = encode([1, new Uint8Array(stateValueBytesMax), leaf, steps])
  t.true(largest.length <= stateProofBytesMax, `largest valid proof ${largest.length} > ${stateProofBytesMax}`)
  t.true(decodeStateProof(largest).ok)
  // Pad the value so the message is exactly at, then one byte past, the byte limit.
  const sized = (bytes: number): Uint8Array => {
    const overhead = encode([1, new Uint8Array(stateValueBytesMax), leaf, steps]).length - stateValueBytesMax
    return encode([1, new Uint8Array(bytes - overhead), leaf, steps])
  }
  const atLimit = sized(stateProofBytesMax)
  t.is(atLimit.length, stateProofBytesMax)
  const atResult = decodeStateProof(atLimit)
  t.false(atResult.ok) // its value is over stateValueBytesMax, but the size check passed
  if (!atResult.ok) t.regex(atResult.error, /value too large/)
  const past = decodeStateProof(sized(stateProofBytesMax + 1))
  t.false(past.ok)
  if (!past.ok) t.is(past.error, `state proof: message too large: ${stateProofBytesMax + 1} > ${stateProofBytesMax} bytes`)
})

test('decodeStateProof accepts stateProofStepsMax steps and refuses one more', t => {
  const leaf = [new Uint8Array(32), new Uint8Array(32)]
  const steps = (n: number): unknown[] => Array.from({ length: n }, (_, i) => [i % 256, new Uint8Array(32)])
  t.true(decodeStateProof(encode([1, null, leaf, steps(stateProofStepsMax)])).ok)
  const result = decodeStateProof(encode([1, null, leaf, steps(stateProofStepsMax + 1)]))
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /too many steps: 257 > 256/)
})

test('decodeStateProof refuses a value over stateValueBytesMax even under the byte limit', t => {
  const result = decodeStateProof(encode([1, new Uint8Array(stateValueBytesMax + 1), null, []]))
  t.false(result.ok)
  if (!result.ok) t.regex(result.error, /value too large/)
})

test('decodeStateProof refuses garbage and wrong shapes', t => {
  const cases: Uint8Array[] = [
    new Uint8Array(0), Uint8Array.of(0xff, 0x00), encode('proof'), encode([2, null, null, []]), encode([1, 'x', null, []]),
    encode([1, null, [new Uint8Array(31), new Uint8Array(32)], []]), encode([1, null, null, [[256, new Uint8Array(32)]]]),
    encode([1, null, null, [[1, new Uint8Array(33)]]]), encode([1, null, null, [[-1, new Uint8Array(32)]]]), encode([1, null, null, 'steps'])
  ]
  for (const bytes of cases) t.false(decodeStateProof(bytes).ok, toHex(bytes).slice(0, 40))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), bytes => { decodeStateProof(bytes) }))
})
