// StateSync and the /pylon/state-sync/1.0.0 protocol over an in-memory Net: a syncing member
// imports the highest certified checkpoint, refuses tampered chunks, manifests whose root is not
// certified, forged certificates and bad tip proofs (counting each) and uses another member;
// non-members and malformed requests are refused; a failed sync leaves the store unchanged.

import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { encode } from '../../../../protocol/codec.ts'
import { encodeCertificate, signCertification, type StateCertificate } from '../../../../protocol/certification.ts'
import { certificateOf } from '../../../../protocol/consensus/certificate.ts'
import { blockHash, domains, voteSigningValue, type Block } from '../../../../protocol/consensus/messages.ts'
import type { Height, NodeId } from '../../../../protocol/ids.ts'
import { checkpointChunksMax, consensusBlocksMax, stateSyncRequestBytesMax, subnetCatchUpBlocksMin, subnetCheckpointIntervalHeightsMin } from '../../../../protocol/limits.ts'
import type { CheckpointManifest } from '../../../../protocol/state/checkpoint.ts'
import type { Signer } from '../../../../protocol/signature.ts'
import { genesisOf, type Subnet } from '../../../../protocol/subnet.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { decodeStoredBlock, encodeStoredBlock, encodeStoredCertificate, genesisHashOf, tipFromStore } from '../../../../node/consensus/application.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { Store } from '../../../../node/store/store.ts'
import { decodeRequest, encodeRequest, handleStateSync, requestCheckpoints, stateSyncProtocol, type StateSyncRefusal } from '../../../../node/subnet/state-sync-protocol.ts'
import { StateSync, StateSyncError } from '../../../../node/subnet/state-sync.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'
import { signers, subnetOf } from '../consensus/_harness.ts'

const interval = 5
const actor = 'bafyreiactor.1' as never

/** A finalization of `block` signed by the first `count` members. */
function finalization (subnet: Subnet, keys: Signer[], block: Block, count = subnet.quorum): Uint8Array {
  const hash = blockHash(block)
  const votes = new Map(keys.slice(0, count).map((k, i) => [i, k.sign(domains.finalize, voteSigningValue(subnet.id, 'finalize', block.view, hash))]))
  return encodeStoredCertificate(certificateOf('finalization', block.view, hash, votes))
}

/** A store of `heights` finalized heights with state, every height certified by a quorum (or by `certifiers`). */
async function chain (subnet: Subnet, keys: Signer[], heights: number, options: { certifiers?: number, finalizedByChild?: number } = {}): Promise<Store> {
  const store = await memoryStore({ checkpointIntervalHeights: interval })
  let parent = genesisHashOf(subnet)
  const blockAt = (h: number, parentHash: Uint8Array): Block => ({ subnet: subnet.id, view: BigInt(h * 2), height: BigInt(h), parent: parentHash, payload: encode({ h }), proposer: subnet.memberIds[h % 4]! })
  for (let h = 1; h <= heights; h++) {
    const block = blockAt(h, parent)
    // As after a catch-up, a height may be stored with the finalization of its child (which covers it).
    const finalized = h === options.finalizedByChild ? blockAt(h + 1, blockHash(block)) : block
    const writes = Array.from({ length: 60 }, (_, i) => ({ actor, key: new TextEncoder().encode(`k${h}-${i}`), value: new Uint8Array(2_000).fill(h) }))
    const commit = await store.commitHeight({ height: BigInt(h) as Height, block: encodeStoredBlock(block), certificate: finalization(subnet, keys, finalized), writes, receipts: [encode({ h })] })
    const state = { subnet: subnet.id, height: BigInt(h) as Height, stateRoot: commit.stateRoot, receiptsRoot: commit.receiptsRoot }
    const count = options.certifiers ?? subnet.quorum
    const cert: StateCertificate = { state, signers: keys.slice(0, count).map((_, i) => i), signatures: keys.slice(0, count).map(k => signCertification(state, k)) }
    await store.putCertification(state.height, encodeCertificate(cert))
    parent = blockHash(block)
  }
  return store
}

/** What the server reads of a store, with some answers replaced (a lying member). */
function served (source: Store, overrides: Partial<Pick<Store, 'checkpoints' | 'checkpointChunk' | 'getHeight'>>): Store {
  return {
    get height () { return source.height },
    checkpoints: overrides.checkpoints ?? (async () => await source.checkpoints()),
    checkpointChunk: overrides.checkpointChunk ?? (async (h: Height, i: number) => await source.checkpointChunk(h, i)),
    getHeight: overrides.getHeight ?? (async (h: Height) => await source.getHeight(h))
  } as unknown as Store
}

interface Fixture { subnet: Subnet, keys: Signer[], network: FakeNetwork, refused: StateSyncRefusal[] }

function fixture (salt: string): Fixture {
  const keys = signers(4, salt)
  const subnet = subnetOf(keys, 100)
  // Signer indexes are positions in the genesis member list (sorted by node id).
  keys.sort((a, b) => subnet.memberIds.indexOf(a.id as NodeId) - subnet.memberIds.indexOf(b.id as NodeId))
  return { subnet, keys, network: new FakeNetwork(), refused: [] }
}

/** Member `index` serving `store` (as a manager would) on its own FakeNet. */
function serve (f: Fixture, index: number, store: Store): FakeNet {
  const net = new FakeNet(f.keys[index]!.id as NodeId, f.network)
  handleStateSync(net, { logger: silentLogger, lookup: id => id === f.subnet.id ? { subnet: f.subnet, store } : undefined, onRefused: reason => { f.refused.push(reason) } })
  return net
}

function syncer (f: Fixture, index = 3): StateSync {
  const net = new FakeNet(f.keys[index]!.id as NodeId, f.network)
  return new StateSync(f.subnet, net.nodeId, { net, logger: silentLogger })
}

test('StateSync imports the highest certified checkpoint, its block and finalization, and the imported store serves as a tip', async t => {
  const f = fixture('sync-ok')
  // Height 10 is stored with the finalization of block 11: the tip proof carries both blocks.
  const source = await chain(f.subnet, f.keys, 12, { finalizedByChild: 10 })
  for (const i of [0, 1, 2]) serve(f, i, source)
  const target = await memoryStore({ checkpointIntervalHeights: interval })
  await target.walAppend(new Uint8Array([1, 2, 3]))
  const sync = syncer(f)
  const result = await sync.syncInto(target)
  t.is(result.manifest.height, 10n as Height, 'the newest checkpoint (heights 5 and 10 are kept)')
  t.true(result.manifest.chunks.length >= 2, `${result.manifest.chunks.length} chunks`)
  t.is(target.height, 10n as Height)
  const sourceRecord = await source.getHeight(10n as Height)
  t.deepEqual(target.stateRoot, sourceRecord!.stateRoot)
  t.true((await target.verify()).ok, 'the imported state rebuilds its recorded root')
  const record = await target.getHeight(10n as Height)
  t.deepEqual(record!.certification, sourceRecord!.certification, 'the state certificate is kept at the imported height')
  t.deepEqual(record!.receiptsRoot, sourceRecord!.receiptsRoot)
  const tip = await tipFromStore(target, genesisHashOf(f.subnet))
  t.is(tip.tip.height, 10n)
  t.is(tip.tip.view, 20n)
  t.is(tip.certificate!.view, 22n, 'the finalization kept at height 10 is that of its child, which covers it')
  t.is(await target.getHeight(9n as Height), undefined, 'nothing below the checkpoint was replayed')
  const wal: Uint8Array[] = []
  for await (const entry of target.walEntries()) wal.push(entry.record)
  t.deepEqual(wal, [new Uint8Array([1, 2, 3])], 'the WAL (own votes) survives the import')
  t.like(sync.progress(), { phase: 'done', height: 10n, chunksDone: result.manifest.chunks.length, chunksTotal: result.manifest.chunks.length })
  t.deepEqual(sync.progress().faults, {})
})

test('StateSync skips a member serving a tampered chunk and one whose manifest root is not certified, and counts both', async t => {
  const f = fixture('sync-tamper')
  const source = await chain(f.subnet, f.keys, 10)
  // Member 0 flips a byte of every chunk it serves.
  const tampered = served(source, {
    checkpointChunk: async (h, i) => {
      const bytes = await source.checkpointChunk(h, i)
      if (bytes === undefined) return undefined
      const copy = bytes.slice()
      copy[copy.length - 1]! ^= 0xff
      return copy
    }
  })
  // Member 1 lists a manifest whose root is not the certified one (same chunks otherwise).
  const lying = served(source, { checkpoints: async () => (await source.checkpoints()).map((m: CheckpointManifest) => ({ ...m, stateRoot: new Uint8Array(32).fill(7) })) })
  serve(f, 0, tampered)
  serve(f, 1, lying)
  serve(f, 2, source)
  // The syncing member already holds 3 heights of the same chain: they are replaced, not merged.
  const target = await chain(f.subnet, f.keys, 3)
  const sync = syncer(f)
  const result = await sync.syncInto(target)
  t.is(target.height, 10n as Height)
  t.is(await target.getHeight(2n as Height), undefined, 'the old heights are gone')
  t.deepEqual(target.stateRoot, (await source.getHeight(10n as Height))!.stateRoot)
  t.true((await target.verify()).ok)
  const faults = sync.progress().faults
  t.true((faults['bad-chunk'] ?? 0) >= 1, `a failed hash is counted: ${JSON.stringify(faults)}`)
  t.true((faults['uncertified-manifest'] ?? 0) >= 1, `an uncertified root is counted: ${JSON.stringify(faults)}`)
  t.false(result.peers.includes(f.keys[1]!.id as NodeId), 'the lying member is not a source of this checkpoint')
})

test('StateSync refuses a checkpoint certified by fewer than 2f+1 members, and one whose block finalization lacks a quorum; the store is unchanged', async t => {
  const f = fixture('sync-refuse')
  // Heights certified by 2 of 4 only (quorum 3): no checkpoint is usable.
  const weak = await chain(f.subnet, f.keys, 10, { certifiers: 2 })
  for (const i of [0, 1, 2]) serve(f, i, weak)
  const target = await memoryStore({ checkpointIntervalHeights: interval })
  const before = { height: target.height, root: target.stateRoot }
  const sync = syncer(f)
  const error = await t.throwsAsync(sync.syncInto(target), { instanceOf: StateSyncError })
  t.regex(error!.message, /no member offers a certified checkpoint above height 0/)
  t.true((sync.progress().faults['bad-certificate'] ?? 0) >= 1)
  t.is(target.height, before.height)
  t.deepEqual(target.stateRoot, before.root)

  // Valid certificates, but every member's tip proof is broken: the finalization is signed by 2 only.
  const f2 = fixture('sync-tip')
  const good = await chain(f2.subnet, f2.keys, 10)
  const badTip = served(good, {
    getHeight: async (h: Height) => {
      const record = await good.getHeight(h)
      if (record?.block == null) return record
      const stored = decodeStoredBlock(record.block)
      if (!stored.ok) throw new Error(stored.error)
      return { ...record, certificate: finalization(f2.subnet, f2.keys, stored.value.block, 2) }
    }
  })
  for (const i of [0, 1, 2]) serve(f2, i, badTip)
  const target2 = await memoryStore({ checkpointIntervalHeights: interval })
  const sync2 = syncer(f2)
  await t.throwsAsync(sync2.syncInto(target2), { instanceOf: StateSyncError, message: /no certified checkpoint could be fetched/ })
  t.true((sync2.progress().faults['bad-tip'] ?? 0) >= 3, JSON.stringify(sync2.progress().faults))
  t.is(target2.height, 0n as Height, 'nothing was imported')
})

test('state-sync server refuses non-members, unserved subnets and malformed or oversized requests', async t => {
  const f = fixture('sync-server')
  const source = await chain(f.subnet, f.keys, 5)
  serve(f, 0, source)
  const outsider = new FakeNet('12D3KooWBogusPeerIdThatIsNotAMemberAtAll1234567' as NodeId, f.network)
  await t.throwsAsync(requestCheckpoints(outsider, f.keys[0]!.id as NodeId, f.subnet.id))
  const member = new FakeNet(f.keys[1]!.id as NodeId, f.network)
  const offers = await requestCheckpoints(member, f.keys[0]!.id as NodeId, f.subnet.id)
  t.true(offers.ok && offers.value.length === 1 && offers.value[0]!.manifest.height === 5n)
  const other = fixture('other-subnet')
  await t.throwsAsync(requestCheckpoints(member, f.keys[0]!.id as NodeId, other.subnet.id))
  // Raw garbage and an oversized frame.
  for (const frame of [new Uint8Array([0xff, 0x00]), new Uint8Array(stateSyncRequestBytesMax + 1)]) {
    const stream = await member.dial(f.keys[0]!.id as NodeId, stateSyncProtocol)
    const lp = lpStream(stream)
    await lp.write(frame)
    await t.throwsAsync(lp.read({ signal: AbortSignal.timeout(5_000) }))
  }
  t.deepEqual(f.refused.sort(), ['malformed', 'malformed', 'non-member', 'not-served'])
})

test('decodeRequest accepts each kind exactly and refuses bad shapes, heights and indexes', t => {
  const f = fixture('decode')
  const subnet = f.subnet.id
  for (const request of [{ kind: 'list', subnet }, { kind: 'chunk', subnet, height: 5n, index: 0 }, { kind: 'tip', subnet, height: 5n }] as const) {
    const decoded = decodeRequest(encodeRequest(request as never))
    t.true(decoded.ok, request.kind)
  }
  t.true(decodeRequest(encode({ kind: 'chunk', subnet, height: 5, index: checkpointChunksMax - 1 })).ok, 'the last index')
  for (const bad of [
    { kind: 'chunk', subnet, height: 5, index: checkpointChunksMax },
    { kind: 'chunk', subnet, height: 0, index: 0 },
    { kind: 'chunk', subnet, height: 5, index: -1 },
    { kind: 'tip', subnet, height: 'x' },
    { kind: 'list', subnet, extra: 1 },
    { kind: 'list', subnet: 'not-a-cid' },
    { kind: 'nope', subnet },
    [1, 2]
  ]) t.false(decodeRequest(encode(bad)).ok, JSON.stringify(bad))
  t.false(decodeRequest(new Uint8Array(stateSyncRequestBytesMax + 1)).ok)
  t.false(decodeRequest(new Uint8Array([0xff])).ok)
})

test('genesis state-sync params: accepted at their bounds, refused one past them or with the interval not below the window; absent ones change no encoding', t => {
  const keys = signers(1, 'params')
  const make = (params: Record<string, number>): unknown => genesisOf({ name: 'p', members: [{ nodeId: keys[0]!.id as NodeId }], createdMs: 1n, params: { deltaMs: 100, ...params } })
  t.notThrows(() => make({ checkpointIntervalHeights: subnetCheckpointIntervalHeightsMin, catchUpBlocksMax: subnetCatchUpBlocksMin }))
  t.notThrows(() => make({ checkpointIntervalHeights: consensusBlocksMax - 1, catchUpBlocksMax: consensusBlocksMax }))
  t.throws(() => make({ checkpointIntervalHeights: subnetCheckpointIntervalHeightsMin - 1 }), { message: /checkpointIntervalHeights must be an integer in 4\.\.1023/ })
  t.throws(() => make({ catchUpBlocksMax: subnetCatchUpBlocksMin - 1 }), { message: /catchUpBlocksMax must be an integer in 16\.\.1024/ })
  t.throws(() => make({ catchUpBlocksMax: consensusBlocksMax + 1 }), { message: /catchUpBlocksMax/ })
  t.throws(() => make({ checkpointIntervalHeights: 20, catchUpBlocksMax: 20 }), { message: /below the catch-up window/ })
  t.throws(() => make({ checkpointIntervalHeights: 5.5 }), { message: /checkpointIntervalHeights/ })
  const plain = genesisOf({ name: 'p', members: [{ nodeId: keys[0]!.id as NodeId }], createdMs: 1n, params: { deltaMs: 100 } })
  t.deepEqual(Object.keys(plain.params), ['deltaMs'], 'no optional key appears when unset (older genesis bytes keep their CID)')
})

test('Store importCheckpoint({ replace }): refuses a checkpoint not ahead of the store, and a failed replace leaves the old height whole', async t => {
  const f = fixture('replace')
  const source = await chain(f.subnet, f.keys, 10)
  const [manifest] = await source.checkpoints()
  const target = await chain(f.subnet, f.keys, 3)
  const before = { height: target.height, root: target.stateRoot, block: (await target.getHeight(2n as Height))!.block }
  const chunks = { chunk: async (i: number) => (await source.checkpointChunk(manifest!.height, i))! }
  const ahead = await chain(f.subnet, f.keys, 11)
  await t.throwsAsync(ahead.importCheckpoint(manifest!, chunks, { replace: true }), { message: /must move forward: checkpoint height 10 <= store height 11/ })
  const flipped = { chunk: async (i: number) => { const b = (await source.checkpointChunk(manifest!.height, i))!.slice(); b[0]! ^= 1; return b } }
  await t.throwsAsync(target.importCheckpoint(manifest!, flipped, { replace: true }), { message: /chunk 0 of \d+ is corrupt/ })
  t.is(target.height, before.height)
  t.deepEqual(target.stateRoot, before.root)
  t.deepEqual((await target.getHeight(2n as Height))!.block, before.block, 'old blocks are still there')
  t.true((await target.verify()).ok, 'the old state is whole')
  await target.importCheckpoint(manifest!, chunks, { replace: true })
  t.is(target.height, 10n as Height)
  t.deepEqual(target.stateRoot, manifest!.stateRoot)
  t.is(await target.getHeight(2n as Height), undefined, 'the old height is gone once the replace succeeds')
  t.true((await target.verify()).ok)
})
