// State sync end to end in one process: four SubnetManagers (real SubnetService, ConsensusDriver,
// certification and /pylon/state-sync/1.0.0) over an in-memory Net and in-memory stores. A replica
// that starts far behind the others (past the genesis' catch-up window) imports a certified
// checkpoint instead of replaying, then follows block by block: same height, same state root.

import test from 'ava'
import { decodeWalRecord } from '../../../../protocol/consensus/wal.ts'
import { actorIdOf, type Height, type NodeId } from '../../../../protocol/ids.ts'
import { consensusFetchItemsMax } from '../../../../protocol/limits.ts'
import { assembleGenesis, genesisOf, signGenesis, type Subnet } from '../../../../protocol/subnet.ts'
import { systemClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { ConsensusDriver } from '../../../../node/consensus/consensus-driver.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { Store } from '../../../../node/store/store.ts'
import { SubnetManager } from '../../../../node/subnet/subnet-manager.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'
import { signers, waitFor } from '../consensus/_harness.ts'
import { Client, exampleCode, loader, tempDir } from './_harness.ts'

const interval = 5
const window = 16

function subnetWith (keys: ReturnType<typeof signers>): Subnet {
  const genesis = genesisOf({ name: 'sync', members: keys.map(k => ({ nodeId: k.id as NodeId })), createdMs: BigInt(Date.now()), params: { deltaMs: 40, checkpointIntervalHeights: interval, catchUpBlocksMax: window } })
  const subnet = assembleGenesis(genesis, new Map(keys.map(k => [k.id, signGenesis(genesis, k)])))
  if (!subnet.ok) throw new Error(subnet.error)
  return subnet.value
}

interface Node { manager: SubnetManager, store: () => Store, net: FakeNet }

/** Every own vote a store's WAL was given (persisted before sent: a superset of what was sent). */
type Signed = Array<{ kind: string, view: bigint, block: string }>

function spyVotes (store: Store, signed: Signed): Store {
  const append = store.walAppend.bind(store)
  store.walAppend = async (record: Uint8Array, options?: { sync?: boolean }) => {
    const decoded = decodeWalRecord(record)
    if (decoded.ok && decoded.value.kind === 'vote') {
      const v = decoded.value.vote
      signed.push({ kind: v.kind, view: v.view, block: v.block === undefined ? '-' : Buffer.from(v.block).toString('hex') })
    }
    return await append(record, options)
  }
  return store
}

async function startNode (network: FakeNetwork, key: ReturnType<typeof signers>[number], subnet: Subnet, dataDir: string, signed: Signed = []): Promise<Node> {
  const net = new FakeNet(key.id as NodeId, network)
  let opened: Store | undefined
  const manager = new SubnetManager({
    net, signer: key, clock: systemClock, logger: silentLogger, loader,
    openStore: async (_dir, init) => (opened = spyVotes(await memoryStore(init ?? {}), signed)),
    createDriver: (s, store, service, hooks) => new ConsensusDriver({ net, store, clock: systemClock, logger: silentLogger, signer: key, application: service }, { subnet: s, onStateSyncNeeded: hooks.onStateSyncNeeded })
  }, { dataDir })
  await manager.start()
  const joined = await manager.join(subnet)
  if (!joined.ok) throw new Error(joined.error)
  return { manager, store: () => opened!, net }
}

test('SubnetManager: a replica far behind state-syncs a certified checkpoint, keeps its WAL, then follows with the same state root', async t => {
  t.timeout(120_000)
  const keys = signers(4, 'state-sync-manager')
  const subnet = subnetWith(keys)
  const network = new FakeNetwork()
  const dirs = await Promise.all(keys.map(async () => await tempDir()))
  const nodes: Node[] = []
  t.teardown(async () => {
    for (const n of nodes) await n.manager.stop()
    for (const d of dirs) await d.remove()
  })
  for (let i = 0; i < 3; i++) nodes.push(await startNode(network, keys[i]!, subnet, dirs[i]!.dir))
  // Real state: the counter actor (code travels in checkpoint code chunks) and some increments.
  const code = await exampleCode('counter-wat')
  const service0 = nodes[0]!.manager.get(subnet.id)!
  t.true((await service0.putCode(code)).ok)
  const client = new Client(systemClock)
  t.true(service0.submit(client.install(subnet, code).bytes).ok)
  const actor = actorIdOf(subnet.id, 1n)
  await waitFor(() => nodes[0]!.store().height >= 3n, 30_000, () => 'the install to finalize')
  for (let i = 0; i < 10; i++) t.true(service0.submit(client.update(actor).bytes).ok)
  // Three members (a quorum) run well past the fourth's catch-up window. One catch-up answer
  // carries up to consensusFetchItemsMax blocks: a gap that fits in one is walked, not synced.
  const ahead = BigInt(consensusFetchItemsMax + window + 2 * interval)
  await waitFor(() => nodes.slice(0, 3).every(n => n.store().height >= ahead), 60_000, () => `heights ${nodes.map(n => n.store().height).join(',')} >= ${ahead}`)

  // The fourth member starts from nothing: too far behind to walk back, it must state-sync.
  const signed: Signed = []
  const late = await startNode(network, keys[3]!, subnet, dirs[3]!.dir, signed)
  nodes.push(late)
  await waitFor(() => late.manager.stateSyncProgress(subnet.id)?.phase === 'done', 60_000, () => `state sync to finish (heights ${nodes.map(n => n.store().height).join(',')}; ${JSON.stringify(late.manager.stateSyncProgress(subnet.id), (_, v) => typeof v === 'bigint' ? String(v) : v)})`)
  const progress = late.manager.stateSyncProgress(subnet.id)!
  t.true(progress.height! >= ahead - BigInt(interval), `synced to checkpoint ${progress.height}`)
  t.true(progress.chunksDone >= 2 && progress.chunksDone === progress.chunksTotal, `state and code chunks: ${progress.chunksDone}`)
  const syncedAt = progress.height! as Height
  t.is(await late.store().getHeight(1n as Height), undefined, 'heights below the checkpoint were never replayed')

  // Then it follows: it finalizes new heights itself and agrees with the others on the state root.
  for (let i = 0; i < 5; i++) t.true(service0.submit(client.update(actor).bytes).ok)
  const goal = BigInt(nodes[0]!.store().height) + 5n
  await waitFor(() => nodes.every(n => n.store().height >= goal), 60_000, () => `all at ${goal} (heights ${nodes.map(n => n.store().height).join(',')})`)
  const record = await late.store().getHeight(goal as Height)
  for (const n of nodes.slice(0, 3)) t.deepEqual((await n.store().getHeight(goal as Height))!.stateRoot, record!.stateRoot, `same state root at height ${goal}`)
  t.true(BigInt(late.store().height) > BigInt(syncedAt), 'it committed heights after the checkpoint itself')
  const answer = await late.manager.get(subnet.id)!.query(client.query(actor).bytes)
  if (!answer.ok) return t.fail(answer.error.message)
  t.true(answer.value.receipt.ok, answer.value.receipt.error ?? '')
  t.is(new TextDecoder().decode(answer.value.receipt.result!), '15', 'the actor state and code came with the checkpoint: 10 + 5 increments')
  t.true((await late.store().verify()).ok, 'the synced replica\'s state rebuilds its root')
  // Across the swap it never signed two conflicting votes: one notarize and one finalize per view,
  // never nullify and finalize in one view (the WAL, kept by the import, remembered them).
  const byView = new Map<bigint, Signed>()
  for (const vote of signed) byView.set(vote.view, [...(byView.get(vote.view) ?? []), vote])
  for (const [view, votes] of byView) {
    for (const kind of ['notarize', 'finalize']) t.true(new Set(votes.filter(v => v.kind === kind).map(v => v.block)).size <= 1, `one ${kind} block in view ${view}`)
    t.false(votes.some(v => v.kind === 'nullify') && votes.some(v => v.kind === 'finalize'), `nullify and finalize in view ${view}`)
  }
  t.true(signed.length > 0, 'the synced replica voted')
})
