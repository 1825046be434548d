import test from 'ava'
import { Registry } from 'prom-client'
import type { CapacityAdvert } from '../../../../protocol/capacity.ts'
import { encode } from '../../../../protocol/codec.ts'
import type { NodeId, SubnetId } from '../../../../protocol/ids.ts'
import { subnetReservationTtlMs } from '../../../../protocol/limits.ts'
import { assembleGenesis, decodeGenesis, encodeGenesis, genesisOf, signGenesis, type Subnet } from '../../../../protocol/subnet.ts'
import type { Signer } from '../../../../protocol/signature.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { DirectorySync, subnetRecordKey, subnetsTopic } from '../../../../node/subnet-formation/directory-sync.ts'
import { FormationMetrics } from '../../../../node/subnet-formation/formation-metrics.ts'
import { SubnetDirectory } from '../../../../node/subnet-formation/subnet-directory.ts'
import { SubnetFormation, parseCreateRequest, subnetProposeProtocol, type SubnetHost } from '../../../../node/subnet-formation/subnet-formation.ts'
import { advertFor, newSigner } from '../../../helpers/adverts.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'

interface TestNode {
  signer: Signer
  net: FakeNet
  directory: SubnetDirectory
  sync: DirectorySync
  formation: SubnetFormation
  host: SubnetHost & { joined: Subnet[] }
  metrics: FormationMetrics
}

/** n in-process nodes over a FakeNetwork, one rack each, sharing one advert list (the book). */
async function cluster (t: import('ava').ExecutionContext, n: number, options: { subnetsMax?: (i: number) => number, advert?: (i: number) => Partial<CapacityAdvert> } = {}): Promise<{ nodes: TestNode[], clock: ManualClock, adverts: CapacityAdvert[] }> {
  const clock = new ManualClock()
  const network = new FakeNetwork()
  const adverts: CapacityAdvert[] = []
  const nodes: TestNode[] = []
  for (let i = 0; i < n; i++) {
    const signer = newSigner()
    const net = new FakeNet(signer.id as NodeId, network)
    const metrics = new FormationMetrics(new Registry())
    const directory = new SubnetDirectory({ clock, metrics })
    const sync = new DirectorySync({ net, directory, logger: silentLogger, metrics })
    const joined: Subnet[] = []
    const host = { joined, join: async (subnet: Subnet) => { if (!joined.some(s => s.id === subnet.id)) joined.push(subnet) }, served: () => joined.map(s => s.id) }
    const formation = new SubnetFormation({
      net, signer, adverts: () => adverts, directory, announce: async entry => { await sync.announce(entry) }, host, clock, logger: silentLogger, metrics
    }, { subnetsMax: options.subnetsMax?.(i) })
    adverts.push(advertFor(signer, clock.now(), { labels: { rack: `r${i}`, region: 'eu', operator: 'acme' }, score: BigInt(1000 + 100 * i), ...options.advert?.(i) }))
    await sync.start()
    await formation.start()
    t.teardown(async () => { await formation.stop(); await sync.stop() })
    nodes.push({ signer, net, directory, sync, formation, host, metrics })
  }
  return { nodes, clock, adverts }
}

async function rejected (metrics: FormationMetrics, source: string): Promise<number> {
  return (await metrics.directoryRejected.get()).values.find(v => v.labels.source === source)?.value ?? 0
}

test('SubnetFormation.create: 4 of 5 nodes are picked, all sign, all join, and every directory learns the subnet', async t => {
  const { nodes } = await cluster(t, 5)
  const created = await nodes[0]!.formation.create({ size: 4, spread: 'rack', name: 'alpha' })
  if (!created.ok) return t.fail(created.error.message)
  const { subnet, picked, explanation } = created.value
  // Scores rise with the index, so the top four are nodes 4, 3, 2, 1; node 0 (the proposer) is left out.
  t.deepEqual(picked.map(p => p.nodeId), [4, 3, 2, 1].map(i => nodes[i]!.net.nodeId))
  t.is(explanation.length, 5)
  t.deepEqual([...subnet.memberIds].sort(), picked.map(p => p.nodeId).sort())
  t.true(decodeGenesis(encodeGenesis(subnet)).ok, 'every member signature verifies')
  for (const i of [1, 2, 3, 4]) t.deepEqual(nodes[i]!.host.joined.map(s => s.id), [subnet.id], `member ${i} joined`)
  t.deepEqual(nodes[0]!.host.joined, [], 'the proposer is not a member and serves nothing')
  for (const node of nodes) t.is(node.directory.get(subnet.id)?.subnet.id, subnet.id)
  t.true(nodes[0]!.net.records.has(new TextDecoder().decode(subnetRecordKey(subnet.id))), 'stored in the DHT')
  t.is(subnet.genesis.name, 'alpha')
})

test('SubnetFormation.create: a member over capacity refuses, nothing is created, and the reason names it', async t => {
  const { nodes } = await cluster(t, 5, { subnetsMax: i => i === 3 ? 0 : 4 })
  const created = await nodes[0]!.formation.create({ size: 4 })
  if (created.ok) return t.fail('created although a member refused')
  t.is(created.error.stage, 'proposal')
  t.deepEqual(created.error.nodes.map(n => n.nodeId), [nodes[3]!.net.nodeId])
  t.regex(created.error.nodes[0]!.reasons[0]!, /^over capacity: .* serves 0 subnets, at most 0$/)
  t.regex(created.error.message, /1 of 4 picked nodes refused to sign/)
  for (const node of nodes) {
    t.deepEqual(node.host.joined, [])
    t.is(node.directory.size, 0)
  }
  t.is(nodes[0]!.net.published.length, 0, 'nothing announced')
  t.deepEqual(nodes.map(n => n.formation.pending), [0, 0, 0, 0, 0], 'the members who signed were told to release their reservation')
})

test('SubnetFormation.create: an unmet placement dials nobody and names the missing label per node', async t => {
  const { nodes } = await cluster(t, 5)
  const created = await nodes[0]!.formation.create({ size: 4, labels: { region: 'mars' } })
  if (created.ok) return t.fail('placed on mars')
  t.is(created.error.stage, 'placement')
  t.is(created.error.nodes.length, 5)
  t.true(created.error.nodes.every(n => n.reasons.includes('missing label region=mars (has region=eu)')))
  const badSize = await nodes[0]!.formation.create({ size: 3 })
  t.true(!badSize.ok && badSize.error.stage === 'request' && /3f\+1/.test(badSize.error.message))
})

test('SubnetFormation signatures reserve capacity: a second proposal past the limit is refused until the first expires', async t => {
  const { nodes, clock } = await cluster(t, 1, { subnetsMax: () => 1 })
  const node = nodes[0]!
  const proposal = (name: string) => genesisOf({ name, members: [{ nodeId: node.net.nodeId }], createdMs: BigInt(clock.now()), params: { deltaMs: 500 } })
  t.true(node.formation.consider(proposal('one')).ok)
  t.true(node.formation.consider(proposal('one')).ok, 'asking again for the same genesis is not a second reservation')
  const second = node.formation.consider(proposal('two'))
  t.true(!second.ok && second.error.endsWith('serves 0 subnets and has 1 pending, at most 1'))
  clock.advance(subnetReservationTtlMs)
  t.true(node.formation.consider(proposal('two')).ok)
})

test('SubnetFormation.consider refuses a proposal that does not list this node, a stale one, and garbage', t => {
  return cluster(t, 2).then(({ nodes, clock }) => {
    const [a, b] = nodes as [TestNode, TestNode]
    const other = genesisOf({ name: 'x', members: [{ nodeId: b.net.nodeId }], createdMs: BigInt(clock.now()), params: { deltaMs: 500 } })
    const notMember = a.formation.consider(other)
    t.true(!notMember.ok && notMember.error.includes('is not a member of the proposed subnet "x"'))
    const stale = genesisOf({ name: 'x', members: [{ nodeId: a.net.nodeId }], createdMs: BigInt(clock.now() - 3_600_000), params: { deltaMs: 500 } })
    const old = a.formation.consider(stale)
    t.true(!old.ok && /proposal created -3600000 ms from our clock, beyond ±300000 ms/.test(old.error))
    const garbage = a.formation.consider({ name: 'x', members: 'all', f: 0, n: 1, createdMs: 0, params: {} })
    t.true(!garbage.ok && garbage.error.startsWith('malformed proposal: '))
  })
})

test('DirectorySync refuses a forged genesis on gossip, penalizes the sender and counts it', async t => {
  const { nodes, clock } = await cluster(t, 3)
  const [a, b] = nodes as [TestNode, TestNode, TestNode]
  const keys = [a.signer, b.signer]
  const genesis = genesisOf({ name: 'forged', members: [...keys.map(k => ({ nodeId: k.id as NodeId })), { nodeId: newSigner().id as NodeId }, { nodeId: newSigner().id as NodeId }], createdMs: BigInt(clock.now()), params: { deltaMs: 500 } })
  // The attacker signs in place of the two members whose keys it does not hold.
  const signatures = genesis.members.map(m => signGenesis(genesis, keys.find(k => k.id === m.nodeId) ?? { ...a.signer, id: m.nodeId }))
  const forged = encode({ genesis: { ...genesis, members: genesis.members.map(m => ({ nodeId: m.nodeId })) }, signatures })
  await b.net.publish(subnetsTopic, forged)
  await b.net.publish(subnetsTopic, Uint8Array.of(1, 2, 3))
  t.deepEqual(b.net.published.map(p => p.verdicts), [['reject', 'reject'], ['reject', 'reject']])
  t.is(await rejected(a.metrics, 'gossip'), 2)
  t.is(a.directory.size, 0)
  t.deepEqual(a.host.joined, [], 'a member listed in a forged genesis does not join it')
})

test('DirectorySync: a new node pulls the subnets a peer knows; re-announcements are ignored, not re-verified', async t => {
  const { nodes } = await cluster(t, 5)
  const created = await nodes[0]!.formation.create({ size: 1 })
  if (!created.ok) return t.fail(created.error.message)
  const late = (await cluster(t, 1)).nodes[0]!
  // A node on another FakeNetwork, which learns nothing from the earlier gossip: let it reach node 0.
  t.is(late.directory.size, 0)
  late.net.network.nets.set(nodes[0]!.net.nodeId, nodes[0]!.net)
  const pulled = await late.sync.pull(nodes[0]!.net.nodeId)
  t.deepEqual(pulled, { ok: true, value: 1 })
  t.is(late.directory.get(created.value.subnet.id)?.source, 'exchange')
  t.deepEqual(await late.sync.pull(nodes[0]!.net.nodeId), { ok: true, value: 0 })
  const again = late.directory.offerBytes(encodeGenesis(created.value.subnet), 'gossip')
  t.true(again.ok && again.value.outcome === 'known')
})

test('DirectorySync: DHT records are validated (key must be the subnet id) and lookup fetches a missing subnet', async t => {
  const { nodes } = await cluster(t, 2)
  const created = await nodes[0]!.formation.create({ size: 1 })
  if (!created.ok) return t.fail(created.error.message)
  const type = nodes[0]!.net.recordTypes.get('pylon-subnet')!
  const bytes = encodeGenesis(created.value.subnet)
  t.notThrows(() => type.validate(subnetRecordKey(created.value.subnet.id), bytes))
  t.throws(() => type.validate(subnetRecordKey('bafyother' as SubnetId), bytes), { message: /another subnet's key/ })
  t.throws(() => type.validate(subnetRecordKey(created.value.subnet.id), Uint8Array.of(0)))
  const fresh = (await cluster(t, 1)).nodes[0]!
  fresh.net.records.set(new TextDecoder().decode(subnetRecordKey(created.value.subnet.id)), bytes)
  t.is((await fresh.sync.lookup(created.value.subnet.id))?.subnet.id, created.value.subnet.id)
  t.is(fresh.directory.get(created.value.subnet.id)?.source, 'dht')
  t.is(await fresh.sync.lookup('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' as SubnetId), undefined)
})

test('SubnetFormation serves malformed and forged frames with a reason and changes nothing', async t => {
  const { nodes, clock } = await cluster(t, 2)
  const [a, b] = nodes as [TestNode, TestNode]
  const { lpStream } = await import('@libp2p/utils')
  const ask = async (request: unknown): Promise<unknown> => {
    const stream = await b.net.dial(a.net.nodeId, subnetProposeProtocol)
    const lp = lpStream(stream)
    await lp.write(request instanceof Uint8Array ? request : encode(request))
    const { decode } = await import('../../../../protocol/codec.ts')
    const answer = decode((await lp.read()).subarray())
    return answer.ok ? answer.value : answer.error
  }
  t.deepEqual(await ask({ op: 'delete' }), { ok: false, error: 'expected { op: "propose" | "commit" | "abort", genesis }' })
  t.like(await ask(Uint8Array.of(0xff, 0x00)) as object, { ok: false })
  const genesis = genesisOf({ name: 'c', members: [{ nodeId: a.net.nodeId }, { nodeId: b.net.nodeId }, { nodeId: newSigner().id as NodeId }, { nodeId: newSigner().id as NodeId }], createdMs: BigInt(clock.now()), params: { deltaMs: 500 } })
  const half = encode({ genesis: { ...genesis, members: genesis.members.map(m => ({ nodeId: m.nodeId })) }, signatures: genesis.members.map(() => signGenesis(genesis, a.signer)) })
  const commit = await ask({ op: 'commit', genesis: half }) as { ok: boolean, error: string }
  t.false(commit.ok)
  t.regex(commit.error, /^refused genesis: bad genesis signature of member/)
  t.deepEqual(a.host.joined, [])
  t.is(await rejected(a.metrics, 'commit'), 1)
})

test('parseCreateRequest checks the API body and names the bad field', t => {
  t.deepEqual(parseCreateRequest({ size: 4, labels: { region: 'eu' }, spread: 'rack' }), { ok: true, value: { size: 4, labels: { region: 'eu' }, spread: 'rack', name: undefined, deltaMs: undefined } })
  t.deepEqual(parseCreateRequest({ size: '4' }), { ok: false, error: 'size must be an integer, got "4"' })
  t.deepEqual(parseCreateRequest({ size: 4, spread: 'region' }), { ok: false, error: 'spread must be "rack" or "operator", got "region"' })
  t.deepEqual(parseCreateRequest({ size: 4, colour: 'red' }), { ok: false, error: 'unknown field "colour": expected size, labels, spread, name, deltaMs' })
  t.deepEqual(parseCreateRequest({ size: 4, deltaMs: 1 }), { ok: false, error: 'deltaMs must be an integer in 10..60000 ms, got 1' })
  t.false(parseCreateRequest([4]).ok)
})

test('SubnetFormation: a member that missed the commit joins a genesis it signed when gossip brings it', async t => {
  const { nodes, clock } = await cluster(t, 3)
  const [a, b, outsider] = nodes as [TestNode, TestNode, TestNode]
  // A one-member subnet of b, signed by b itself (as in a proposal), announced by a.
  const solo = genesisOf({ name: 'late', members: [{ nodeId: b.net.nodeId }], createdMs: BigInt(clock.now()), params: { deltaMs: 500 } })
  const signed = b.formation.consider(solo)
  if (!signed.ok) return t.fail(signed.error)
  const subnet = assembleGenesis(solo, new Map([[b.net.nodeId, signed.value.signature]]))
  if (!subnet.ok) return t.fail(subnet.error)
  await a.sync.announce(a.directory.add(subnet.value, 'local'))
  await new Promise(resolve => setImmediate(resolve))
  t.deepEqual(b.host.joined.map(s => s.id), [subnet.value.id])
  t.deepEqual(outsider.host.joined, [], 'a non-member only learns it')
  t.is(outsider.directory.get(subnet.value.id)?.source, 'gossip')
})

test('SubnetFormation.create: a second subnet lands on the nodes the first did not use', async t => {
  const { nodes } = await cluster(t, 8)
  const first = await nodes[0]!.formation.create({ size: 4 })
  const second = await nodes[0]!.formation.create({ size: 4 })
  if (!first.ok || !second.ok) return t.fail('not created')
  const members = [...first.value.subnet.memberIds, ...second.value.subnet.memberIds]
  t.is(new Set(members).size, 8, 'no node serves both')
  t.regex(second.value.picked[0]!.reason, /serves 0 subnets/)
})
