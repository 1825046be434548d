// ConsensusDriver over an in-memory Net: agreement and progress, recovery from the WAL after a
// crash without double voting, catch-up from peers' stores, and refusal of non-member or garbage input.

import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { encode } from '../../../../protocol/codec.ts'
import { blockHash, decodeMessage, domains, encodeMessage, hex, voteSigningValue, type Message } from '../../../../protocol/consensus/messages.ts'
import { decodeWalRecord, encodeWalRecord } from '../../../../protocol/consensus/wal.ts'
import type { NodeId } from '../../../../protocol/ids.ts'
import { consensusInboundPerPeerMax, consensusMessageBytesMax } from '../../../../protocol/limits.ts'
import { systemClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { ConsensusDriver, consensusProtocolOf } from '../../../../node/consensus/consensus-driver.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { Store } from '../../../../node/store/store.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'
import { CounterApplication, signers, subnetOf, waitFor } from './_harness.ts'

const deltaMs = 40

interface Node { driver: ConsensusDriver, app: CounterApplication, store: Store, net: FakeNet }

function startNode (network: FakeNetwork, key: ReturnType<typeof signers>[number], subnet: ReturnType<typeof subnetOf>, store: Store): Node {
  const net = new FakeNet(key.id as NodeId, network)
  const app = new CounterApplication(store, subnet)
  const driver = new ConsensusDriver({ net, store, clock: systemClock, logger: silentLogger, signer: key, application: app }, { subnet })
  return { driver, app, store, net }
}

function heights (nodes: Node[]): string {
  const halted = nodes.map(n => { try { return n.driver.status().halted } catch { return undefined } }).filter(h => h !== undefined)
  return nodes.map(n => `${n.store.height}`).join(',') + (halted.length > 0 ? `; halted: ${halted.join(' | ')}` : '') +
    `; views ${nodes.map(n => { try { return `${n.driver.status().view}` } catch { return '-' } }).join(',')}`
}

test('ConsensusDriver: 4 drivers over an in-memory net finalize 20 heights with one chain', async t => {
  const keys = signers(4)
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const nodes = await Promise.all(keys.map(async k => startNode(network, k, subnet, await memoryStore({ checkpointIntervalHeights: 0 }))))
  t.teardown(async () => { for (const n of nodes) await n.driver.stop() })
  for (const n of nodes) await n.driver.start()
  await waitFor(() => nodes.every(n => n.store.height >= 20n), 60_000, () => `height 20 everywhere (heights ${heights(nodes)})`)
  for (let h = 0; h < 20; h++) {
    const hashes = new Set(nodes.map(n => hex(blockHash(n.app.finalized[h]!.block))))
    t.is(hashes.size, 1, `one block at height ${h + 1}`)
    t.is(nodes[0]!.app.finalized[h]!.height, BigInt(h + 1))
  }
  for (const n of nodes) {
    const status = n.driver.status()
    t.is(status.evidence, 0)
    t.is(status.counters.badSignature, 0)
    t.true(status.walRecords < 64 + 8 * 4, `the WAL is pruned (${status.walRecords} records)`)
  }
})

test('ConsensusDriver keeps voting while its application commits: a slow commit holds up no later view', async t => {
  const keys = signers(4)
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const nodes = await Promise.all(keys.map(async k => startNode(network, k, subnet, await memoryStore({ checkpointIntervalHeights: 0 }))))
  t.teardown(async () => { for (const n of nodes) await n.driver.stop() })
  // Node 0's commit of height 3 waits until released: its execution is slow, its consensus must not be.
  const { promise: released, resolve: release } = Promise.withResolvers<void>()
  const slow = nodes[0]!.app
  const finalize = slow.finalize.bind(slow)
  slow.finalize = async (height, block, certificate) => {
    if (height === 3n) await released
    await finalize(height, block, certificate)
  }
  for (const n of nodes) await n.driver.start()
  await waitFor(() => nodes[0]!.driver.status().view >= 12n, 60_000, () => `node 0 past view 12 with height 3 uncommitted (heights ${heights(nodes)})`)
  t.is(BigInt(nodes[0]!.store.height), 2n, 'height 3 is still being committed')
  t.true(nodes[0]!.driver.status().finalizedHeight >= 8n, 'node 0 went on voting and finalizing')
  release()
  await waitFor(() => nodes.every(n => n.store.height >= 12n), 60_000, () => `height 12 everywhere after the release (heights ${heights(nodes)})`)
  for (let h = 0; h < 12; h++) t.is(new Set(nodes.map(n => hex(blockHash(n.app.finalized[h]!.block)))).size, 1, `one block at height ${h + 1}`)
})

test('ConsensusDriver: a replica killed mid-run restarts from its LevelDB WAL, never signs a conflicting vote, and catches up', async t => {
  const keys = signers(4, 'restart')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const dir = await mkdtemp(join(tmpdir(), 'pylon-driver-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const nodes: Node[] = []
  for (const k of keys.slice(0, 3)) nodes.push(startNode(network, k, subnet, await memoryStore({ checkpointIntervalHeights: 0 })))
  // Every own vote the victim ever persisted, across both lives (persisted before sent: a superset of what it sent).
  const signed: Array<{ kind: string, view: bigint, block: string }> = []
  const spy = (store: Store): Store => {
    const append = store.walAppend.bind(store)
    store.walAppend = async (record: Uint8Array, options?: { sync?: boolean }) => {
      const decoded = decodeWalRecord(record)
      if (decoded.ok && decoded.value.kind === 'vote') {
        const v = decoded.value.vote
        signed.push({ kind: v.kind, view: v.view, block: v.block === undefined ? '-' : hex(v.block) })
      }
      return await append(record, options)
    }
    return store
  }
  let victim = startNode(network, keys[3]!, subnet, spy(await openStore(dir, { checkpointIntervalHeights: 0 })))
  nodes.push(victim)
  t.teardown(async () => {
    for (const n of nodes) await n.driver.stop()
    await victim.store.close()
  })
  for (const n of nodes) await n.driver.start()
  await waitFor(() => victim.store.height >= 6n, 60_000, () => `victim height 6 (heights ${heights(nodes)})`)

  // Kill: close the store under the running driver. Its next WAL append fails, it halts, and every
  // action after that append is lost, as in a SIGKILL between write and send.
  let halted: Error | undefined
  const crashed = victim.driver
  await victim.store.close()
  await waitFor(() => crashed.status().running === false, 5_000, () => 'the victim to halt')
  halted = new Error(crashed.status().halted ?? 'stopped')
  t.truthy(halted)
  const crashedAt = victim.store.height
  const others = nodes.slice(0, 3)
  await waitFor(() => others.every(n => n.store.height >= crashedAt + 10n), 60_000, () => `three replicas progress without the fourth (heights ${heights(others)})`)

  const store = spy(await openStore(dir, { checkpointIntervalHeights: 0 }))
  t.is(store.height, crashedAt, 'the store kept every committed height')
  victim = startNode(network, keys[3]!, subnet, store)
  nodes[3] = victim
  await victim.driver.start()
  const target = others[0]!.store.height + 3n
  await waitFor(() => victim.store.height >= target, 60_000, () => `the restarted replica to catch up to ${target} (heights ${heights(nodes)})`)

  const seen = new Map<string, string>()
  for (const v of signed) {
    const key = `${v.kind}|${v.view}`
    const previous = seen.get(key)
    t.true(previous === undefined || previous === v.block, `one ${v.kind} per view (view ${v.view})`)
    seen.set(key, v.block)
    if (v.kind === 'finalize') t.false(seen.has(`nullify|${v.view}`), `no finalize after nullify in view ${v.view}`)
  }
  for (const n of nodes) t.is(n.driver.status().evidence, 0, 'no replica holds evidence against anyone')
  t.true(victim.driver.status().fetches > 0, 'the restarted replica fetched what it missed')
  t.log(`crashed at height ${crashedAt}, caught up to ${victim.store.height}; ${signed.length} own votes persisted; ` +
    `fetches ${victim.driver.status().fetches}, blocks served from stores ${others.reduce((a, n) => a + n.driver.status().lookupsServed, 0)}`)
  for (let h = 1n; h <= target; h++) {
    const a = await others[0]!.store.getHeight(h as never)
    const b = await victim.store.getHeight(h as never)
    t.deepEqual(b?.block, a?.block, `same block at height ${h}`)
  }
})

test('ConsensusDriver refuses streams from non-members and closes a member stream carrying garbage or an oversized frame', async t => {
  const keys = signers(4, 'refuse')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const node = startNode(network, keys[0]!, subnet, await memoryStore({ checkpointIntervalHeights: 0 }))
  t.teardown(async () => { await node.driver.stop() })
  await node.driver.start()
  const protocol = consensusProtocolOf(subnet.id)
  const vote = encodeMessage({ kind: 'nullify', view: 1n, signer: 1, signature: new Uint8Array(64) })

  // A non-member (valid frame): refused before reading anything.
  const outsider = new FakeNet(signers(1, 'outsider')[0]!.id as NodeId, network)
  const stream = await outsider.dial(keys[0]!.id as NodeId, protocol)
  await lpStream(stream).write(vote).catch(() => {})
  await waitFor(() => node.driver.status().refused['non-member'] === 1, 2_000, () => 'the non-member refusal')

  // A member sends a well-formed frame (counted by the replica: bad signature), then garbage.
  const member = new FakeNet(keys[1]!.id as NodeId, network)
  const garbage = await member.dial(keys[0]!.id as NodeId, protocol)
  const lp = lpStream(garbage)
  await lp.write(vote)
  await waitFor(() => node.driver.status().counters.badSignature === 1, 2_000, () => 'the forged vote to reach the replica')
  await lp.write(encode({ kind: 'notarize', view: 'one' }))
  await lp.write(vote).catch(() => {})
  await waitFor(() => node.driver.status().refused.malformed === 1, 2_000, () => 'the malformed refusal')
  await new Promise(resolve => setTimeout(resolve, 50))
  t.is(node.driver.status().counters.badSignature, 1, 'nothing after the garbage frame was read')
  t.is(garbage.status === 'open' ? 'open' : 'closed', 'closed', 'the stream was closed')

  // An oversized length prefix: refused before the bytes are buffered.
  const big = await member.dial(keys[0]!.id as NodeId, protocol)
  const prefix = Uint8Array.from([0xff, 0xff, 0xff, 0x7f]) // varint 268435455 > consensusMessageBytesMax
  t.true(268_435_455 > consensusMessageBytesMax)
  big.send(prefix)
  await waitFor(() => node.driver.status().refused.oversized === 1, 2_000, () => 'the oversized refusal')
  t.true(node.driver.status().running, 'the driver still runs')
  t.is(node.driver.status().refused['queue-full'], 0)
})

test('ConsensusDriver refuses a flooding member beyond its share of the inbound queue and keeps running', async t => {
  const keys = signers(4, 'flood')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const node = startNode(network, keys[0]!, subnet, await memoryStore({ checkpointIntervalHeights: 0 }))
  t.teardown(async () => { await node.driver.stop() })
  await node.driver.start()
  const member = new FakeNet(keys[2]!.id as NodeId, network)
  const stream = await member.dial(keys[0]!.id as NodeId, consensusProtocolOf(subnet.id))
  const frames = Array.from({ length: consensusInboundPerPeerMax + 100 }, (_, i) => encodeMessage({ kind: 'nullify', view: BigInt(i + 1), signer: 2, signature: new Uint8Array(64) }))
  await lpStream(stream).writeV(frames)
  await waitFor(() => node.driver.status().refused['queue-full'] >= 100, 5_000, () => `queue-full refusals (${JSON.stringify(node.driver.status().refused)})`)
  await waitFor(() => node.driver.status().inboundQueued === 0, 5_000, () => 'the queue to drain')
  const status = node.driver.status()
  t.true(status.running)
  t.is(status.refused['queue-full'] + status.counters.badSignature + status.counters.future + status.counters.stale, frames.length, 'every frame was either refused at the queue or stepped and refused by the replica')
})

test('ConsensusDriver starts past an undecodable WAL record and keeps the own votes around it', async t => {
  const keys = signers(4, 'corrupt-wal')
  const subnet = subnetOf(keys, deltaMs)
  const store = await memoryStore({ checkpointIntervalHeights: 0 })
  const self = subnet.memberIds.indexOf(keys[0]!.id as NodeId)
  const vote = { kind: 'nullify' as const, view: 3n, signer: self, signature: keys[0]!.sign(domains.nullify, voteSigningValue(subnet.id, 'nullify', 3n, undefined)) }
  await store.walAppend(Uint8Array.from([0xa1, 0x01]))
  await store.walAppend(encodeWalRecord({ kind: 'vote', vote }))
  const node = startNode(new FakeNetwork(), keys[0]!, subnet, store)
  t.teardown(async () => { await node.driver.stop() })
  await node.driver.start()
  const status = node.driver.status()
  t.true(status.running)
  t.is(status.view, 3n, 'the nullify vote in view 3 was recovered (the replica resumes in that view)')
})

test('ConsensusDriver restarted on a store serves old finalized blocks (and their ancestors) to a member asking by hash', async t => {
  const keys = signers(4, 'lookup')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const nodes = await Promise.all(keys.map(async k => startNode(network, k, subnet, await memoryStore({ checkpointIntervalHeights: 0 }))))
  t.teardown(async () => { for (const n of nodes) await n.driver.stop() })
  for (const n of nodes) await n.driver.start()
  await waitFor(() => nodes.every(n => n.store.height >= 12n), 60_000, () => `height 12 everywhere (heights ${heights(nodes)})`)
  for (const n of nodes) await n.driver.stop()

  // A new driver on node 0's store knows nothing in memory: it must find the hash in the store.
  const server = nodes[0]!
  const restarted = new ConsensusDriver({ net: server.net, store: server.store, clock: systemClock, logger: silentLogger, signer: keys[0]!, application: new CounterApplication(server.store, subnet) }, { subnet })
  nodes[0] = { ...server, driver: restarted }
  await restarted.start()
  const protocol = consensusProtocolOf(subnet.id)
  const asker = new FakeNet(keys[1]!.id as NodeId, network)
  const answers: Message[] = []
  asker.handle(protocol, async stream => {
    const lp = lpStream(stream)
    for (;;) {
      const decoded = decodeMessage((await lp.read()).subarray())
      if (decoded.ok) answers.push(decoded.value)
    }
  }, { inboundStreamsMax: 4, outboundStreamsMax: 4 })
  const wanted = server.app.finalized[4]!.block // height 5
  const stream = await asker.dial(keys[0]!.id as NodeId, protocol)
  await lpStream(stream).write(encodeMessage({ kind: 'request', blocks: [blockHash(wanted)], views: [] }))
  await waitFor(() => answers.some(m => m.kind === 'blocks'), 10_000, () => `a blocks answer (got ${answers.map(m => m.kind).join(',')})`)
  const blocks = answers.find(m => m.kind === 'blocks')!
  t.true(blocks.kind === 'blocks' && blocks.blocks.map(b => b.height).join(',') === '5,4,3,2,1', 'the block and its ancestors, child first')
  t.is(restarted.status().lookupsServed, 1)
})

test('ConsensusDriver groups WAL syncs: every own vote it sends was synced first, and the group needs fewer fsyncs than votes', async t => {
  const keys = signers(4, 'group')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const nodes = await Promise.all(keys.map(async k => startNode(network, k, subnet, await memoryStore({ checkpointIntervalHeights: 0 }))))
  t.teardown(async () => { for (const n of nodes) await n.driver.stop() })
  const watched = nodes[0]!
  // The store's view of durability: an unsynced append becomes durable with the next synced one.
  const volatile: string[] = []
  const durable = new Set<string>()
  let votesPersisted = 0
  let syncs = 0
  const append = watched.store.walAppend.bind(watched.store)
  watched.store.walAppend = async (record, options) => {
    const decoded = decodeWalRecord(record)
    const key = decoded.ok && decoded.value.kind === 'vote' ? `${decoded.value.vote.kind}|${decoded.value.vote.view}` : undefined
    const seq = await append(record, options)
    if (key !== undefined) { votesPersisted++; volatile.push(key) }
    // A synced append takes a disk's few milliseconds, so messages arriving meanwhile form a group.
    if (options?.sync !== false) await new Promise(resolve => setTimeout(resolve, 5))
    if (options?.sync !== false) {
      syncs++
      for (const k of volatile.splice(0)) durable.add(k)
    }
    return seq
  }
  // Every frame the watched replica writes to any member, parsed out of its length-prefixed streams.
  const violations: string[] = []
  let votesSent = 0
  const dial = watched.net.dial.bind(watched.net)
  watched.net.dial = async (peer, protocol) => {
    const stream = await dial(peer, protocol)
    let buffered = new Uint8Array(0)
    const send = stream.send.bind(stream)
    stream.send = (data) => {
      const chunk = data instanceof Uint8Array ? data : data.subarray()
      const joined = new Uint8Array(buffered.length + chunk.length)
      joined.set(buffered)
      joined.set(chunk, buffered.length)
      let at = 0
      for (;;) {
        let length = 0
        let shift = 0
        let i = at
        for (; i < joined.length; i++) {
          length |= (joined[i]! & 0x7f) << shift
          shift += 7
          if ((joined[i]! & 0x80) === 0) break
        }
        if (i >= joined.length || i + 1 + length > joined.length) break
        const message = decodeMessage(joined.subarray(i + 1, i + 1 + length))
        at = i + 1 + length
        if (!message.ok) continue
        const m = message.value
        const vote = m.kind === 'proposal' ? m.vote : m
        if ((vote.kind === 'notarize' || vote.kind === 'nullify' || vote.kind === 'finalize') && vote.signer === watched.driver.self) {
          votesSent++
          if (!durable.has(`${vote.kind}|${vote.view}`)) violations.push(`${vote.kind} of view ${vote.view} sent before it was synced`)
        }
      }
      buffered = joined.slice(at)
      return send(data)
    }
    return stream
  }
  for (const n of nodes) await n.driver.start()
  await waitFor(() => nodes.every(n => n.store.height >= 15n), 60_000, () => `height 15 everywhere (heights ${heights(nodes)})`)
  t.deepEqual(violations, [])
  t.true(votesSent > 0, 'the watched replica sent votes')
  t.true(votesPersisted >= 30, `two own votes per height (${votesPersisted})`)
  t.true(syncs < votesPersisted, `fewer fsyncs (${syncs}) than persisted votes (${votesPersisted})`)
  t.is(watched.driver.status().walSyncs, syncs, 'the driver counts each group sync once')
  t.log(`${votesPersisted} own votes persisted with ${syncs} fsyncs; ${votesSent} vote frames sent, each after its sync`)
})
