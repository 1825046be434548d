import test from 'ava'
import { randomBytes } from 'node:crypto'
import { cidOfBytes, decode, encode } from '../../../protocol/codec.ts'
import { actorIdOf, actorIndexOf, parseActorId, peerIdOfPublicKey, subnetOfActorId, type NodeId, type SubnetId } from '../../../protocol/ids.ts'
import { subnetDeltaMaxMs, subnetDeltaMinMs, subnetMembersMax, subnetRecordBytesMax } from '../../../protocol/limits.ts'
import { signerFromSeed, type Signer } from '../../../protocol/signature.ts'
import { assembleGenesis, decodeGenesis, encodeGenesis, faults, genesisDomain, genesisOf, leaderOf, quorum, signGenesis, validateGenesis, type Genesis } from '../../../protocol/subnet.ts'

function signers (count: number): Signer[] {
  return Array.from({ length: count }, () => signerFromSeed(randomBytes(32), peerIdOfPublicKey))
}

function genesisFor (keys: Signer[], over: Partial<Genesis> = {}): Genesis {
  return { ...genesisOf({ name: 'test', members: keys.map(k => ({ nodeId: k.id as NodeId, multiaddrs: ['/ip4/127.0.0.1/tcp/4001'] })), createdMs: 1_700_000_000_000n, params: { deltaMs: 500 } }), ...over }
}

/** Signs a genesis as every key, by wire value, bypassing genesisOf's checks. */
function signedWire (genesis: Record<string, unknown>, keys: Signer[]): Record<string, unknown> {
  const members = genesis.members as Array<{ nodeId: string }>
  const byId = new Map(keys.map(k => [k.id, k]))
  return { genesis, signatures: members.map(m => (byId.get(m.nodeId) ?? keys[0]!).sign(genesisDomain, genesis)) }
}

test('quorum and faults: 2f+1 of 3f+1, and any two quorums share an honest member for every n', t => {
  for (let f = 0; f <= 21; f++) {
    t.is(faults(3 * f + 1), f)
    t.is(quorum(3 * f + 1), 2 * f + 1)
  }
  for (let n = 1; n <= 100; n++) t.true(2 * quorum(n) - n >= faults(n) + 1, `n = ${n}`)
})

test('genesis signed by all members validates; the subnet id is the CID of its canonical bytes', t => {
  const keys = signers(4)
  const genesis = genesisFor(keys)
  t.is(genesis.n, 4)
  t.is(genesis.f, 1)
  const subnet = assembleGenesis(genesis, new Map(keys.map(k => [k.id, signGenesis(genesis, k)])))
  t.true(subnet.ok)
  if (!subnet.ok) return
  const bytes = encodeGenesis(subnet.value)
  t.is<string, string>(subnet.value.id, cidOfBytes(bytes).toString())
  t.is(subnet.value.quorum, 3)
  t.deepEqual([...subnet.value.memberIds], [...keys.map(k => k.id)].sort())
  const again = decodeGenesis(bytes)
  t.true(again.ok)
  if (again.ok) t.is(again.value.id, subnet.value.id)
})

test('a one-node development subnet (f = 0) is valid', t => {
  const [key] = signers(1)
  const genesis = genesisFor([key!])
  const subnet = assembleGenesis(genesis, new Map([[key!.id, signGenesis(genesis, key!)]]))
  t.true(subnet.ok)
  if (subnet.ok) t.is(subnet.value.quorum, 1)
})

test('genesis validation refuses n ≠ 3f+1, wrong member counts and too many members', t => {
  const keys = signers(5)
  const four = genesisFor(keys.slice(0, 4))
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['n = 5, f = 1', { ...four, members: keys.map(k => ({ nodeId: k.id })).sort((a, b) => a.nodeId < b.nodeId ? -1 : 1), n: 5 }, /n must be 3f\+1 = 4 for f = 1, got 5/],
    ['members ≠ n', { ...four, members: four.members.slice(0, 3) }, /genesis lists 3 members but n = 4/],
    ['f negative', { ...four, f: -1 }, /f must be a non-negative integer/],
    ['f too big', { ...four, f: 22, n: 67 }, new RegExp(`too many members: 67 > ${subnetMembersMax}`)]
  ]
  for (const [what, genesis, message] of cases) {
    const r = validateGenesis(signedWire(genesis as unknown as Record<string, unknown>, keys))
    t.false(r.ok, what)
    if (!r.ok) t.regex(r.error, message, what)
  }
})

test('genesisOf refuses a member set that is not 3f+1 (a caller bug)', t => {
  t.throws(() => genesisFor(signers(5)), { message: /n must be 3f\+1/ })
})

test('genesis validation refuses a duplicate member and unsorted members', t => {
  const keys = signers(4)
  const genesis = genesisFor(keys)
  const duplicate = { ...genesis, members: [genesis.members[0]!, genesis.members[0]!, genesis.members[2]!, genesis.members[3]!] }
  const r1 = validateGenesis(signedWire(duplicate as unknown as Record<string, unknown>, keys))
  t.false(r1.ok)
  if (!r1.ok) t.regex(r1.error, /^duplicate member /)
  const unsorted = { ...genesis, members: [...genesis.members].reverse() }
  const r2 = validateGenesis(signedWire(unsorted as unknown as Record<string, unknown>, keys))
  t.false(r2.ok)
  if (!r2.ok) t.regex(r2.error, /members must be sorted/)
})

test('genesis validation refuses a bad, missing or swapped signature', t => {
  const keys = signers(4)
  const genesis = genesisFor(keys)
  const good = signedWire(genesis as unknown as Record<string, unknown>, keys)
  const sigs = good.signatures as Uint8Array[]
  const forged = [...sigs]
  forged[2] = new Uint8Array(sigs[2]!)
  forged[2][0]! ^= 1
  const r1 = validateGenesis({ ...good, signatures: forged })
  t.false(r1.ok)
  if (!r1.ok) t.regex(r1.error, /^bad genesis signature of member 2/)
  const r2 = validateGenesis({ ...good, signatures: sigs.slice(0, 3) })
  t.false(r2.ok)
  if (!r2.ok) t.regex(r2.error, /needs 4 signatures/)
  const r3 = validateGenesis({ ...good, signatures: [sigs[1], sigs[0], sigs[2], sigs[3]] })
  t.false(r3.ok)
  const outsider = signers(1)[0]!
  const r4 = assembleGenesis(genesis, new Map([...keys.slice(1).map(k => [k.id, signGenesis(genesis, k)] as const), [keys[0]!.id, outsider.sign(genesisDomain, good.genesis)]]))
  t.false(r4.ok)
  if (!r4.ok) t.regex(r4.error, /bad genesis signature/)
  const r5 = assembleGenesis(genesis, new Map(keys.slice(1).map(k => [k.id, signGenesis(genesis, k)])))
  t.false(r5.ok)
  if (!r5.ok) t.regex(r5.error, /lacks the signature of member/)
  t.throws(() => signGenesis(genesis, outsider), { message: /is not a member/ })
})

test('genesis validation: Δ and name at their bounds and one past', t => {
  const keys = signers(4)
  const at = (over: Record<string, unknown>) => validateGenesis(signedWire({ ...genesisFor(keys), ...over } as Record<string, unknown>, keys))
  t.true(at({ params: { deltaMs: subnetDeltaMinMs } }).ok)
  t.true(at({ params: { deltaMs: subnetDeltaMaxMs } }).ok)
  t.false(at({ params: { deltaMs: subnetDeltaMinMs - 1 } }).ok)
  const over = at({ params: { deltaMs: subnetDeltaMaxMs + 1 } })
  t.false(over.ok)
  if (!over.ok) t.regex(over.error, new RegExp(`deltaMs must be an integer in ${subnetDeltaMinMs}..${subnetDeltaMaxMs}, got ${subnetDeltaMaxMs + 1}`))
  t.false(at({ params: { deltaMs: 500, extra: 1 } }).ok)
  t.true(at({ name: 'n'.repeat(64) }).ok)
  t.false(at({ name: 'n'.repeat(65) }).ok)
  t.false(at({ name: '' }).ok)
})

test('decodeGenesis refuses garbage, non-canonical bytes and oversize input', t => {
  for (const bytes of [new Uint8Array(0), Uint8Array.of(0xff, 0x00), encode('genesis'), encode({ genesis: 1, signatures: [] }), randomBytes(64)]) {
    t.false(decodeGenesis(bytes).ok)
  }
  const over = decodeGenesis(new Uint8Array(subnetRecordBytesMax + 1))
  t.false(over.ok)
  if (!over.ok) t.is(over.error, `genesis too large: ${subnetRecordBytesMax + 1} > ${subnetRecordBytesMax} bytes`)
  const keys = signers(4)
  const genesis = genesisFor(keys)
  const subnet = assembleGenesis(genesis, new Map(keys.map(k => [k.id, signGenesis(genesis, k)])))
  if (!subnet.ok) return t.fail(subnet.error)
  const bytes = encodeGenesis(subnet.value)
  const value = decode(bytes)
  if (!value.ok) return t.fail()
  // Same value, keys in non-canonical order: { signatures, genesis }.
  const swapped = new Uint8Array(Buffer.concat([Buffer.from([0xa2]), encode('signatures'), encode((value.value as { signatures: unknown }).signatures), encode('genesis'), encode((value.value as { genesis: unknown }).genesis)]))
  const r = decodeGenesis(swapped)
  t.false(r.ok)
  if (!r.ok) t.is(r.error, 'genesis is not canonical dag-cbor')
})

test('leaderOf rotates round-robin over the sorted members', t => {
  const keys = signers(4)
  const genesis = genesisFor(keys)
  const subnet = assembleGenesis(genesis, new Map(keys.map(k => [k.id, signGenesis(genesis, k)])))
  if (!subnet.ok) return t.fail(subnet.error)
  const ids = subnet.value.memberIds
  t.deepEqual([1n, 2n, 3n, 4n, 5n].map(v => leaderOf(subnet.value, v)), [ids[1], ids[2], ids[3], ids[0], ids[1]])
})

test('ActorId names its subnet: <subnet>.<index>, parsed strictly', t => {
  const subnet = cidOfBytes(Uint8Array.of(1)).toString() as SubnetId
  const actor = actorIdOf(subnet, 42n)
  t.is<string, string>(actor, `${subnet}.42`)
  t.is(subnetOfActorId(actor), subnet)
  t.is(actorIndexOf(actor), 42n)
  t.deepEqual(parseActorId(actor), { ok: true, value: actor })
  const max = actorIdOf(subnet, (1n << 64n) - 1n)
  t.true(parseActorId(max).ok)
  for (const bad of [subnet, `${subnet}.0`, `${subnet}.01`, `${subnet}.-1`, `${subnet}.${1n << 64n}`, `${subnet}.`, 'bafy.1', `.${1}`, `${subnet}.1x`, 42, null, 'x'.repeat(200)]) {
    t.false(parseActorId(bad).ok, String(bad))
  }
  t.throws(() => actorIdOf(subnet, 0n))
})
