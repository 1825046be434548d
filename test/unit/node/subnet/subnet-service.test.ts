import test from 'ava'
import { encode } from '../../../../protocol/codec.ts'
import { assembleCertificate, decodeCertificate, decodeCertifiedResponse, encodeCertificate, encodeCertifiedResponse, signCertification, verifyCertifiedResponse, type CertifiedState } from '../../../../protocol/certification.ts'
import { actorIdOf, type ActorId, type Height, type NodeId } from '../../../../protocol/ids.ts'
import { decode } from '../../../../protocol/codec.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { KvStore } from '../../../../node/store/kv-store.ts'
import { MemoryKv } from '../../../../node/store/_memory-kv.ts'
import type { KvOp } from '../../../../node/store/_kv.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import { encodePayload } from '../../../../node/subnet/payload.ts'
import { decodeHistoryRow, encodeHistoryRow, expiringEnd, padded, systemActorOf, systemKeys } from '../../../../node/subnet/system-state.ts'
import { decodeShare, type SubnetService } from '../../../../node/subnet/subnet-service.ts'
import type { Ingress, RequestId } from '../../../../protocol/ingress.ts'
import type { Signer } from '../../../../protocol/signature.ts'
import { blockHash, type Block, type Certificate } from '../../../../protocol/consensus/messages.ts'
import { subnetBlockIngressMax, subnetCertificateAsksMax, subnetHistoryPrunePerBlockMax } from '../../../../protocol/limits.ts'
import { Client, counterIncrementedOnce, exampleCode, makeReplica, makeSubnet, runHeight, tempDir, utf8 } from './_harness.ts'
import { countVerifications } from '../../../helpers/verify-counter.ts'

test('install then updates: certified responses verify against the genesis', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const client = new Client(clock)
  const code = await exampleCode('counter-wat')
  t.true((await service.putCode(code)).ok)

  const install = client.install(subnet, code)
  t.true(service.submit(install.bytes).ok)
  await runHeight(service, [service])
  const installed = await service.result(install.id)
  if (installed === undefined || installed === 'pending') return t.fail('no install result')
  t.is(installed.status, 'certified')
  const actor = actorIdOf(subnet.id, 1n)
  t.is(installed.actor, actor)
  t.true(installed.receipt?.ok, installed.receipt?.error ?? '')
  const info = await service.actor(actor)
  t.deepEqual(info?.controllers, [client.id])
  t.is(info?.installedAt, 1n)

  const updates = [client.update(actor), client.update(actor), client.update(actor)]
  const waits = updates.map(u => service.wait(u.id, 5_000))
  for (const u of updates) t.true(service.submit(u.bytes).ok)
  await runHeight(service, [service])
  const results = await Promise.all(waits)
  t.deepEqual(results.map(r => utf8(r?.receipt?.result)), ['1', '2', '3'])
  for (const result of results) {
    // Through the wire encoding, as a client sees it.
    const certified = decodeCertifiedResponse(encodeCertifiedResponse(result!.certified!))
    if (!certified.ok) return t.fail(certified.error)
    const verified = verifyCertifiedResponse(certified.value, subnet)
    t.true(verified.ok, verified.ok ? '' : verified.error)
    if (verified.ok) t.is(BigInt(verified.value.height), 2n)
    const receipt = decode(certified.value.receipt)
    t.true(receipt.ok && (receipt.value as { index: number }).index === result!.index)
  }

  const query = await service.query(client.query(actor).bytes)
  if (!query.ok) return t.fail(query.error.message)
  t.is(utf8(query.value.receipt.result), '3')
  t.is(BigInt(query.value.height), 2n)
})

/** One replica of a one-member subnet with counter-wat installed at height 1 (actor index 1). */
async function counterReplica () {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const client = new Client(clock)
  const code = await exampleCode('counter-wat')
  await service.putCode(code)
  service.submit(client.install(subnet, code).bytes)
  await runHeight(service, [service])
  return { clock, subnet, nodes, service, client, actor: actorIdOf(subnet.id, 1n) }
}

test('a replayed envelope runs once, even when a leader proposes it again', async t => {
  const { clock, service, client, actor } = await counterReplica()
  const inc = client.update(actor)
  service.submit(inc.bytes)
  await runHeight(service, [service])
  t.is(service.submit(inc.bytes).ok, false, 'the mempool refuses the replay')
  // A faulty leader includes it anyway, twice in one block and again later.
  const payload = encodePayload({ timeMs: BigInt(clock.now()), ingress: [inc.bytes, inc.bytes], xnet: [] })
  await runHeight(service, [service], { payload })
  clock.advance(1000)
  await runHeight(service, [service], { payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: [inc.bytes], xnet: [] }) })
  const query = await service.query(client.query(actor).bytes)
  t.true(query.ok)
  if (query.ok) t.is(utf8(query.value.receipt.result), '1')
  t.is((await service.store.receipts(3n as never)).length, 0, 'the replays produced no receipt')
})

/** Every committed history row of `service`, in key order, with the request ids it remembers. */
async function historyRows (service: SubnetService): Promise<Array<{ key: string, requests: string[] }>> {
  const rows = await service.store.range(systemActorOf(service.subnet.id), { start: systemKeys.expiringPrefix, end: expiringEnd(2n ** 60n), limit: 10_000 })
  return rows.map(({ key, value }) => {
    const entries = decodeHistoryRow(value)
    if (!entries.ok) throw new Error(entries.error)
    return { key: new TextDecoder().decode(key), requests: entries.value.map(e => e.requestId) }
  })
}

/** A new service on the same store, as after a restart: it remembers no results, so a replay's skip reason shows. */
async function restarted (service: SubnetService, signer: Signer, clock: ManualClock): Promise<SubnetService> {
  const fresh = makeReplica(service.subnet, signer, service.store, clock).service
  await fresh.start()
  return fresh
}

/**
 * Finalizes the next block with exactly `envelopes` (as a faulty leader could propose them), without
 * a verify: a replica catching up executes blocks it never verified, and execution alone decides.
 */
async function runBlock (service: SubnetService, clock: ManualClock, envelopes: Ingress[]): Promise<Block> {
  const height = service.store.height + 1n
  const parent = (await service.tip()).tip.hash
  const payload = encodePayload({ timeMs: BigInt(clock.now()), ingress: envelopes.map(e => e.bytes), xnet: [] })
  const block: Block = { subnet: service.subnet.id, view: height, height, parent, payload, proposer: service.subnet.memberIds[0]! }
  await service.finalize(height, block, finalizationOf(block))
  return block
}

const finalizationOf = (block: Block): Certificate => ({ kind: 'finalization', view: block.view, block: blockHash(block), signers: [0], signatures: [new Uint8Array(64)] })

/** Why a block of `envelope` alone skipped it (undefined: it ran or is unknown). Pre: `service` never saw it finalized (else its first result stays). */
async function skipReason (service: SubnetService, clock: ManualClock, envelope: Ingress): Promise<string | undefined> {
  await runBlock(service, clock, [envelope])
  const result = await service.result(envelope.id)
  return result !== undefined && result !== 'pending' && result.status === 'skipped' ? result.reason : undefined
}

const counterValue = async (service: SubnetService, client: Client, actor: ActorId): Promise<string> => {
  const query = await service.query(client.query(actor).bytes)
  return query.ok ? utf8(query.value.receipt.result) : `query failed: ${query.error.message}`
}

test('history rows: round trip, and a corrupt row is refused with its size', t => {
  const entries = [{ expiryMs: 1n, requestId: 'ab'.repeat(32) as RequestId }, { expiryMs: 2n ** 63n + 5n, requestId: '0f'.repeat(32) as RequestId }]
  const bytes = encodeHistoryRow(entries)
  t.is(bytes.length, 80)
  t.deepEqual(decodeHistoryRow(bytes), { ok: true, value: entries })
  t.deepEqual(decodeHistoryRow(bytes.subarray(0, 79)), { ok: false, error: 'history row of 79 bytes is not a whole number of 40-byte entries' })
  t.false(decodeHistoryRow(new Uint8Array(0)).ok, 'a row lists at least one request')
  t.throws(() => encodeHistoryRow([{ expiryMs: 1n, requestId: 'AB'.repeat(32) as RequestId }]), { message: /not a sha256 hex string/ })
})

test('a store with a per-request history row (the layout before rows per block) is refused at start with a clear error', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const store = await memoryStore()
  const old = new TextEncoder().encode(`expiring/${padded(5_000n)}/${'ab'.repeat(32)}`)
  await store.commitHeight({ height: 1n as never, writes: [{ actor: systemActorOf(subnet.id), key: old, value: new Uint8Array(0) }], receipts: [] })
  const { service } = makeReplica(subnet, nodes[0]!, store, clock)
  await t.throwsAsync(service.start(), { message: /per-request history row \(expiring\/0+5000\/(ab){32}\) from an older Pylon/ })
})

test('the replay history holds one row per executing block and forgets its requests only once the last of them has expired', async t => {
  const { clock, nodes, client, actor, service: first } = await counterReplica()
  let service = first
  const soon = client.sign({ kind: 'update', actor, method: 'inc', payload: new Uint8Array(0), expiryMs: BigInt(clock.now() + 5_000) })
  const later = client.update(actor) // expires 60 s from now
  service.submit(soon.bytes)
  service.submit(later.bytes)
  await runHeight(service, [service])
  let rows = await historyRows(service)
  t.is(rows.length, 2, 'the install block and this block: one row each')
  t.is(rows[1]!.key, `expiring/${padded(later.content.expiryMs)}/${padded(2n)}`, 'keyed by the block\'s latest expiry, then its height')
  t.deepEqual(new Set(rows[1]!.requests), new Set([soon.requestId, later.requestId]))
  await runHeight(service, [service]) // nothing executed
  t.is((await historyRows(service)).length, 2, 'a block that executes nothing writes no row')

  // Past soon's expiry, before later's: the row stays, and both replays are refused, each for its own reason.
  clock.advance(10_000)
  await runHeight(service, [service])
  rows = await historyRows(service)
  t.true(rows.some(r => r.requests.includes(soon.requestId)), 'soon stays remembered until its block\'s last request expires')
  service = await restarted(service, nodes[0]!, clock)
  t.regex(await skipReason(service, clock, soon) ?? 'ran', /^expired: message expired/, 'refused by its expiry first, as before')
  service = await restarted(service, nodes[0]!, clock)
  t.regex(await skipReason(service, clock, later) ?? 'ran', /^replay: request [0-9a-f]{64} already executed/, 'a replay in a later block is refused while its row lives')

  // Past later's expiry: the row is pruned, and a replay is refused as expired, the same reason as before rows.
  clock.advance(60_000)
  await runHeight(service, [service])
  rows = await historyRows(service)
  t.false(rows.some(r => r.requests.includes(later.requestId)), 'the row left the history')
  service = await restarted(service, nodes[0]!, clock)
  t.regex(await skipReason(service, clock, later) ?? 'ran', /^expired: message expired/)
  t.is(await counterValue(service, client, actor), '2', 'soon and later ran once each')
})

test('expired history rows leave at most subnetHistoryPrunePerBlockMax per block, in key order; each request is forgotten with its row', async t => {
  const { clock, service, actor } = await counterReplica()
  const clients = Array.from({ length: 50 }, () => new Client(clock))
  const sign = (i: number, expiryMs: bigint): Ingress => clients[i % clients.length]!.sign({ kind: 'update', actor, method: 'inc', payload: new Uint8Array(0), expiryMs })
  // A burst of 2,300 requests with one expiry (two full blocks' worth), then more expiring blocks
  // than two prunes take, each with one early and one late request.
  const burstExpiry = BigInt(clock.now() + 5_000)
  const burst = Array.from({ length: subnetBlockIngressMax + 300 }, (_, i) => sign(i, burstExpiry))
  for (let i = 0; i < burst.length; i += subnetBlockIngressMax) await runBlock(service, clock, burst.slice(i, i + subnetBlockIngressMax))
  const small = 2 * subnetHistoryPrunePerBlockMax + 3
  for (let j = 0; j < small; j++) {
    // Later blocks expire earlier: key order (expiry, height), not height order, decides what goes first.
    const last = BigInt(clock.now() + 9_000 - j * 100)
    await runBlock(service, clock, [sign(2 * j, last - 2_000n), sign(2 * j + 1, last)])
  }
  const before = await historyRows(service)
  t.is(before.length, 1 + 2 + small, 'the install, the burst\'s two blocks and the small blocks')
  t.deepEqual(before.map(r => r.key), before.map(r => r.key).sort(), 'the store lists rows in key order')
  t.is(before.reduce((n, r) => n + r.requests.length, 0), 1 + burst.length + 2 * small)

  clock.advance(10_000) // every row but the install's has expired
  let left = before
  for (let blocks = 0; left.length > 1; blocks++) {
    if (blocks > before.length) return t.fail('the history stopped shrinking')
    await runHeight(service, [service])
    const now = await historyRows(service)
    t.is(now.length, Math.max(1, left.length - subnetHistoryPrunePerBlockMax), 'one block prunes at most the bound')
    t.deepEqual(now.map(r => r.key), left.slice(left.length - now.length).map(r => r.key), 'the rows that sort first went first')
    left = now
  }
  t.is(left[0]!.requests.length, 1, 'the install\'s request, unexpired, stays')
  // Forgotten requests are refused as expired (the envelope check comes before the replay check).
  await runBlock(service, clock, [burst[0]!, burst.at(-1)!])
  t.is((await service.store.receipts(service.store.height)).length, 0)
})

test('the replay history survives a restart and follows a checkpoint import that replaces the state', async t => {
  const a = await counterReplica()
  const { clock, nodes, client, actor } = a
  const shared = client.update(actor)
  await runBlock(a.service, clock, [shared])
  await runBlock(a.service, clock, [client.update(actor)])
  await runBlock(a.service, clock, [client.update(actor)])

  // Another store of the same subnet ran a request of its own that a's history never saw.
  const b0 = makeReplica(a.subnet, nodes[0]!, await memoryStore(), clock).service
  await b0.start()
  await b0.putCode(await exampleCode('counter-wat'))
  b0.submit(client.install(a.subnet, await exampleCode('counter-wat')).bytes)
  await runHeight(b0, [b0])
  const own = client.update(actor)
  await runBlock(b0, clock, [own])
  t.is(await counterValue(b0, client, actor), '1')

  // State sync, as the manager does it: stop, import with replace, start.
  const manifest = await a.service.store.checkpoint()
  const tip = (await a.service.store.getHeight(manifest.height))!
  await b0.stop()
  await b0.store.importCheckpoint(manifest, { chunk: async i => (await a.service.store.checkpointChunk(manifest.height, i))! }, {
    replace: true, tip: { receiptsRoot: tip.receiptsRoot, block: tip.block!, certificate: tip.certificate!, certification: tip.certification! }
  })
  await b0.start() // the same service: it must read the replaced history, not keep its own
  const b = b0
  t.is(b.store.height, a.service.store.height)
  t.regex(await skipReason(b, clock, shared) ?? 'ran', /^replay: /, 'a\'s request, executed before the checkpoint, is refused')
  await runBlock(a.service, clock, [shared]) // the same block on a
  t.deepEqual(b.store.stateRoot, a.service.store.stateRoot)
  // Both run `own`, absent from the imported history, and agree on the root.
  await runBlock(a.service, clock, [own])
  await runBlock(b, clock, [own])
  t.deepEqual(b.store.stateRoot, a.service.store.stateRoot, 'the request b ran before the import runs again on the imported state, as on a')
  t.is(await counterValue(b, client, actor), '4')
  // A restart (a new service on the same store) reads the history from the committed rows.
  await b.stop()
  const c = await restarted(b, nodes[0]!, clock)
  t.regex(await skipReason(c, clock, own) ?? 'ran', /^replay: /)
  t.is(await counterValue(c, client, actor), '4')
})

test('two replicas given the same blocks, one having verified them and one not, reach identical state roots through history writes and prunes', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const a = makeReplica(subnet, nodes[0]!, await memoryStore(), clock).service
  const b = makeReplica(subnet, nodes[0]!, await memoryStore(), clock).service
  await a.start()
  await b.start()
  const code = await exampleCode('counter-wat')
  await a.putCode(code)
  await b.putCode(code)
  const client = new Client(clock)
  const actor = actorIdOf(subnet.id, 1n)
  const step = async (envelopes: Ingress[]): Promise<void> => {
    const block = await runHeight(a, [a], { payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: envelopes.map(e => e.bytes), xnet: [] }) })
    await b.finalize(block.height, block, finalizationOf(block)) // b never verified it: it decodes every envelope itself
    t.deepEqual(b.store.stateRoot, a.store.stateRoot, `height ${block.height}`)
  }
  await step([client.install(subnet, code)])
  const ttl = [2_000, 30_000, 4_000]
  for (let i = 0; i < 12; i++) {
    const e = ttl.map(ms => client.sign({ kind: 'update', actor, method: 'inc', payload: new Uint8Array(0), expiryMs: BigInt(clock.now() + ms) }))
    await step(i % 4 === 3 ? [e[0]!, e[0]!, e[1]!] : e) // a replay within a block, too
    clock.advance(1_500)
  }
  clock.advance(65_000) // past every expiry, the install's (60 s) too
  await step([])
  t.is((await historyRows(a)).length, 0, 'every row expired and was pruned')
  t.is(await counterValue(b, client, actor), String(12 * 3 - 3))
})
test('holds: an envelope verified in a block, then finalized, is known by id (a late member copy costs no signature check)', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(4, clock)
  const a = makeReplica(subnet, nodes[0]!, await memoryStore(), clock).service
  const b = makeReplica(subnet, nodes[1]!, await memoryStore(), clock).service
  const client = new Client(clock)
  const update = client.update(actorIdOf(subnet.id, 1n))
  const other = client.update(actorIdOf(subnet.id, 1n))
  t.false(b.holds(update.id))
  // b never pooled it: it arrives in a's block first, as at load.
  await runHeight(a, [a, b], { payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: [update.bytes], xnet: [] }) })
  t.true(b.holds(update.id), 'verified in the block, then finalized')
  t.false(b.holds(other.id), 'an envelope it never saw')
  t.false(b.mempool.has(update.id))
})

test('a client that starts waiting while its height\'s certificate is being written gets the certified answer, not a timeout', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const inner = await memoryStore()
  const { promise: writing, resolve: written } = Promise.withResolvers<void>()
  const { promise: gate, resolve: open } = Promise.withResolvers<void>()
  const store = new Proxy(inner, {
    get: (target, name) => {
      if (name === 'putCertification') return async (...args: Parameters<typeof inner.putCertification>) => { written(); await gate; await target.putCertification(...args) }
      const value = Reflect.get(target, name, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const { service } = makeReplica(subnet, nodes[0]!, store, clock)
  await service.start()
  const client = new Client(clock)
  const update = client.update(actorIdOf(subnet.id, 1n))
  service.submit(update.bytes)
  const height = runHeight(service, [service])
  await writing // answered the waiters (none yet); the certificate's write is held
  const waited = service.wait(update.id, 30_000) // the manual clock never reaches the bound
  const answer = await Promise.race([waited, new Promise<'stuck'>(resolve => setTimeout(() => resolve('stuck'), 5_000))])
  t.not(answer, 'stuck', 'answered while the certificate is written')
  if (answer !== 'stuck') t.is(answer?.status, 'certified')
  open()
  await height
  const after = await service.result(update.id)
  t.true(after !== undefined && after !== 'pending' && after.status === 'certified')
})

test('upgrade and delete by a non-controller are refused with a certified receipt; a controller may', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const owner = new Client(clock)
  const stranger = new Client(clock)
  const code = await exampleCode('counter-wat')
  const other = await exampleCode('counter')
  await service.putCode(code)
  await service.putCode(other)
  service.submit(owner.install(subnet, code).bytes)
  await runHeight(service, [service])
  const actor = actorIdOf(subnet.id, 1n)
  service.submit(owner.update(actor).bytes)
  await runHeight(service, [service])

  const { rawCidOf } = await import('../../../../protocol/codec.ts')
  const badUpgrade = stranger.sign({ kind: 'upgrade', actor, code: rawCidOf(other), arg: new Uint8Array(0) })
  const badDelete = stranger.sign({ kind: 'delete', actor })
  service.submit(badUpgrade.bytes)
  service.submit(badDelete.bytes)
  await runHeight(service, [service])
  for (const id of [badUpgrade.id, badDelete.id]) {
    const result = await service.result(id)
    if (result === undefined || result === 'pending') return t.fail('no result')
    t.false(result.receipt!.ok)
    t.regex(result.receipt!.error!, /^not a controller: /)
  }
  t.is((await service.actor(actor))?.code, rawCidOf(code).toString(), 'code unchanged')

  // The owner upgrades to the JS counter (another CID): the record changes and storage stays.
  const upgrade = owner.sign({ kind: 'upgrade', actor, code: rawCidOf(other), arg: new Uint8Array(0) })
  service.submit(upgrade.bytes)
  await runHeight(service, [service])
  const upgraded = await service.actor(actor)
  t.is(upgraded?.code, rawCidOf(other).toString())
  t.is(upgraded?.upgradedAt, 4n)
  t.not(await service.store.get(actor, new TextEncoder().encode('count')), undefined, 'upgrade keeps storage')

  const del = owner.sign({ kind: 'delete', actor })
  service.submit(del.bytes)
  await runHeight(service, [service])
  t.is(await service.actor(actor), undefined)
  t.is(await service.store.get(actor, new TextEncoder().encode('count')), undefined, 'delete removes storage')
  const after = owner.update(actor)
  service.submit(after.bytes)
  await runHeight(service, [service])
  const result = await service.result(after.id)
  if (result === undefined || result === 'pending') return t.fail('no result')
  t.is(result.receipt!.error, `actor not installed: ${actor}`)
})

/** Four started replicas of one subnet on memory stores, each holding the counter-wat code. */
async function fourReplicasWithCounter () {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(4, clock)
  const replicas = await Promise.all(nodes.map(async node => makeReplica(subnet, node, await memoryStore(), clock)))
  const services = replicas.map(r => r.service)
  for (const s of services) await s.start()
  const code = await exampleCode('counter-wat')
  for (const s of services) await s.putCode(code)
  return { clock, subnet, nodes, replicas, services, code }
}

test('four replicas certify only with a quorum of matching shares', async t => {
  const { clock, subnet, replicas, services, code } = await fourReplicasWithCounter()
  const client = new Client(clock)
  const install = client.install(subnet, code)
  services[0]!.submit(install.bytes)
  await runHeight(services[0]!, services)
  t.is(BigInt(services[0]!.info().certifiedHeight), 0n, 'one share is not a certificate')
  // Exchange shares: a forged one is refused, two more make the quorum of 3.
  const share1 = replicas[1]!.shares[0]!
  const forged = decode(share1) as { ok: true, value: Record<string, unknown> }
  const tampered = encode({ ...(forged.value), signature: new Uint8Array(64) })
  t.false(await services[0]!.receiveShare(tampered))
  t.false(await services[0]!.receiveShare(new Uint8Array([1, 2, 3])))
  t.true(await services[0]!.receiveShare(share1))
  t.is(BigInt(services[0]!.info().certifiedHeight), 0n)
  t.true(await services[0]!.receiveShare(replicas[2]!.shares[0]!))
  t.is(BigInt(services[0]!.info().certifiedHeight), 1n)
  const result = await services[0]!.result(install.id)
  if (result === undefined || result === 'pending') return t.fail('no result')
  t.is(result.certified!.certificate.signers.length, 3)
  t.true(verifyCertifiedResponse(result.certified!, subnet).ok)
  t.deepEqual(services.map(s => Buffer.from(s.info().stateRoot).toString('hex')), Array(4).fill(Buffer.from(services[0]!.info().stateRoot).toString('hex')))
})

test('a replica restarted with a height it committed but never certified asks the members, and keeps only a certificate of its own roots', async t => {
  const { clock, subnet, nodes, replicas, services, code } = await fourReplicasWithCounter()
  const client = new Client(clock)
  const install = client.install(subnet, code)
  services[0]!.submit(install.bytes)
  await runHeight(services[0]!, services)
  // Members 1..3 trade shares and certify height 1; member 0 stops before any share reaches it.
  for (const i of [1, 2, 3]) for (const j of [1, 2, 3]) if (i !== j) await services[i]!.receiveShare(replicas[j]!.shares[0]!)
  t.is(BigInt(services[1]!.info().certifiedHeight), 1n)
  await services[0]!.stop()
  t.is(BigInt(services[0]!.info().certifiedHeight), 0n)

  const asked: bigint[][] = []
  const { service: restarted } = makeReplica(subnet, nodes[0]!, services[0]!.store, clock, { requestCertificates: heights => { asked.push(heights) } })
  await restarted.start()
  t.teardown(async () => { await restarted.stop() })
  t.deepEqual(asked, [[1n]], 'it asks for the height it committed and never certified')
  t.is(await restarted.storedResult(install), 'pending')

  // Member 1 answers from its store; a height it has not committed is skipped.
  const sent: Array<{ to: string, certificate: Uint8Array }> = []
  const { service: member1 } = makeReplica(subnet, nodes[1]!, services[1]!.store, clock, { sendCertificate: (to, certificate) => { sent.push({ to, certificate }) } })
  await member1.start()
  t.teardown(async () => { await member1.stop() })
  await member1.answerCertificateRequest([1n, 9n], nodes[0]!.id as NodeId)
  t.deepEqual(sent.map(s => s.to), [nodes[0]!.id])

  // A forged certificate, and a valid one of other roots, are not kept.
  const decoded = decodeCertificate(sent[0]!.certificate)
  if (!decoded.ok) return t.fail(decoded.error)
  const forged = encodeCertificate({ ...decoded.value, signatures: decoded.value.signatures.map(s => Uint8Array.from(s, (b, i) => i === 0 ? b ^ 1 : b)) })
  t.false(await restarted.receiveCertificate(forged))
  t.false(await restarted.receiveCertificate(Uint8Array.of(1, 2, 3)))
  const other: CertifiedState = { subnet: subnet.id, height: 1n as Height, stateRoot: new Uint8Array(32).fill(7), receiptsRoot: new Uint8Array(32).fill(8) }
  const otherRoots = assembleCertificate(subnet, { state: other, shares: new Map([1, 2, 3].map(i => [i, signCertification(other, nodes.find(n => n.id === subnet.memberIds[i])!)])) })
  if (!otherRoots.ok) return t.fail(otherRoots.error)
  t.true(await restarted.receiveCertificate(encodeCertificate(otherRoots.value)), 'a valid certificate, just not of this replica\'s state')
  t.is(BigInt(restarted.info().certifiedHeight), 0n)

  // The members' certificate of its own roots is stored: height 1 is certified and answers from the store.
  t.true(await restarted.receiveCertificate(sent[0]!.certificate))
  t.is(BigInt(restarted.info().certifiedHeight), 1n)
  t.not((await restarted.store.getHeight(1n as Height))?.certification, null)
  const stored = await restarted.storedResult(install)
  if (stored === undefined || stored === 'pending') return t.fail(`no certified stored result: ${String(stored)}`)
  t.true(verifyCertifiedResponse(stored.certified!, subnet).ok)
})

test('a replica that committed heights no share reached asks the members for their certificates once a height 3 above them certifies, and again 3 heights later while they stay uncertified', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(4, clock)
  const asked: bigint[][] = []
  const replicas = await Promise.all(nodes.map(async (node, i) => makeReplica(subnet, node, await memoryStore(), clock, i === 0 ? { requestCertificates: heights => { asked.push(heights) } } : {})))
  const services = replicas.map(r => r.service)
  for (const service of services) await service.start()
  const code = await exampleCode('counter-wat')
  for (const service of services) await service.putCode(code)
  const install = new Client(clock).install(subnet, code)
  services[0]!.submit(install.bytes)
  // Heights 1..5 commit on member 0, but the shares of 1..4 never reach it (it was behind).
  for (let h = 1; h <= 5; h++) await runHeight(services[0]!, services)
  t.deepEqual(asked, [])
  for (const j of [1, 2]) await services[0]!.receiveMemberShare(replicas[j]!.shares[4]!)
  t.is(BigInt(services[0]!.info().certifiedHeight), 5n)
  t.deepEqual(asked, [[1n, 2n]], 'heights 3 and 4 may still get their shares')
  await runHeight(services[0]!, services)
  for (const j of [1, 2]) await services[0]!.receiveMemberShare(replicas[j]!.shares[5]!)
  t.is(BigInt(services[0]!.info().certifiedHeight), 6n)
  t.deepEqual(asked, [[1n, 2n], [3n]], 'height 3 now; 1 and 2 not yet again')
  // An answer was lost: at 8 (three certified heights after their ask) 1 and 2 are asked for again.
  for (const h of [7, 8]) {
    await runHeight(services[0]!, services)
    for (const j of [1, 2]) await services[0]!.receiveMemberShare(replicas[j]!.shares[h - 1]!)
  }
  t.deepEqual(asked, [[1n, 2n], [3n], [4n], [1n, 2n]])
  // An answer certifies height 1: it is never asked for again; 2 is, until subnetCertificateAsksMax.
  for (const j of [2, 3]) await services[1]!.receiveMemberShare(replicas[j]!.shares[0]!)
  const certificate = await services[1]!.store.certification(1n as Height)
  if (certificate === undefined) return t.fail('member 1 holds no certificate of height 1')
  // A client waits on the install's result (height 1) on member 0: the members' certificate answers it.
  t.is(await services[0]!.result(install.id), 'pending')
  const waiting = services[0]!.wait(install.id, 60_000) // the manual clock never ends this wait
  t.true(await services[0]!.receiveCertificate(certificate))
  const answer = await Promise.race([waiting, new Promise<'still waiting'>(resolve => setTimeout(() => resolve('still waiting'), 5_000))])
  if (answer === undefined || answer === 'still waiting') return t.fail(`the waiting client was not answered: ${String(answer)}`)
  t.is(answer.status, 'certified')
  t.true(verifyCertifiedResponse(answer.certified!, subnet).ok)
  for (let h = 9; h <= 24; h++) {
    await runHeight(services[0]!, services)
    for (const j of [1, 2]) await services[0]!.receiveMemberShare(replicas[j]!.shares[h - 1]!)
  }
  t.is(asked.flat().filter(h => h === 1n).length, 2)
  t.is(asked.flat().filter(h => h === 2n).length, subnetCertificateAsksMax)
  for (const service of services) await service.stop()
})

test.serial('member shares that can change nothing are dropped before their signature check; gossiped ones are always checked; malformed ones are refused', async t => {
  const { clock, subnet, nodes, replicas, services, code } = await fourReplicasWithCounter()
  services[0]!.submit(new Client(clock).install(subnet, code).bytes)
  await runHeight(services[0]!, services)
  const counter = countVerifications()
  t.teardown(() => counter.restore())
  const forge = (share: Uint8Array, change: Record<string, unknown>): Uint8Array => {
    const decoded = decode(share) as { ok: true, value: Record<string, unknown> }
    return encode({ ...decoded.value, ...change })
  }
  const service = services[0]!
  const share1 = replicas[1]!.shares[0]!
  const forged1 = forge(share1, { signature: new Uint8Array(64) })
  // Before the certificate: a forged share is checked and refused, a valid one checked once.
  t.false(await service.receiveMemberShare(forged1))
  t.is(counter.count, 1)
  t.true(await service.receiveMemberShare(share1))
  t.is(counter.count, 2)
  t.true(await service.receiveMemberShare(share1), 'a second copy from a signer already held')
  t.true(await service.receiveMemberShare(forged1), 'held signer: dropped unchecked')
  t.is(counter.count, 2, 'no check for a signer whose verified share is held')
  t.false(await service.receiveShare(forged1), 'from gossip the same forgery is checked and refused')
  t.is(counter.count, 3)
  t.true(await service.receiveMemberShare(replicas[2]!.shares[0]!))
  t.is(BigInt(service.info().certifiedHeight), 1n)
  const certified = await service.store.getHeight(1n as never)
  let before = counter.count
  // After it: the last member's share, and a forgery of it, change nothing and cost no check.
  const share3 = replicas[3]!.shares[0]!
  const forged3 = forge(share3, { signature: new Uint8Array(64) })
  t.true(await service.receiveMemberShare(share3))
  t.true(await service.receiveMemberShare(forged3))
  t.is(counter.count, before, 'no Ed25519 verification for a certified height')
  t.deepEqual((await service.store.getHeight(1n as never))?.certification, certified?.certification, 'the stored certificate is unchanged')
  // Gossip gets a true verdict: the valid one is accepted, the forgery refused (it must not travel on).
  t.true(await service.receiveShare(share3))
  t.false(await service.receiveShare(forged3))
  t.is(counter.count, before + 2)
  t.deepEqual((await service.store.getHeight(1n as never))?.certification, certified?.certification)
  // Structural refusals need no signature check and say false on both paths.
  before = counter.count
  const state = (decode(share3) as { ok: true, value: { state: Record<string, unknown> } }).value.state
  for (const receive of [service.receiveMemberShare.bind(service), service.receiveShare.bind(service)]) {
    t.false(await receive(forge(share3, { signer: 9 })), 'no member at index 9')
    t.false(await receive(forge(share3, { state: { ...state, subnet: 'other' } })), 'another subnet')
    t.false(await receive(new Uint8Array([1, 2, 3])))
  }
  t.is(counter.count, before)
  // A replica that restarts knows its last certified height from the store and drops late shares for it too.
  for (const r of [replicas[0]!, replicas[2]!]) t.true(await services[1]!.receiveMemberShare(r.shares[0]!))
  t.is(BigInt(services[1]!.info().certifiedHeight), 1n)
  await services[1]!.stop()
  const { service: restarted } = makeReplica(subnet, nodes[1]!, services[1]!.store, clock)
  await restarted.start()
  t.is(BigInt(restarted.info().certifiedHeight), 1n)
  const afterStart = counter.count
  t.true(await restarted.receiveMemberShare(share3))
  t.is(counter.count, afterStart)
})

test('after a restart from the LevelDB store the pool refuses an executed request, and the store still answers it, certified', async t => {
  const { dir, remove } = await tempDir()
  t.teardown(remove)
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const client = new Client(clock)
  const before = await openStore(dir)
  const { actor, inc } = await counterIncrementedOnce(subnet, nodes[0]!, before, clock, client)
  await before.close()
  const store = await openStore(dir)
  t.teardown(async () => { await store.close() })
  const { service } = makeReplica(subnet, nodes[0]!, store, clock)
  await service.start()
  t.is(BigInt(service.info().height), 2n)
  t.is(BigInt(service.info().certifiedHeight), 2n)
  // The pool's own replay memory started empty; the committed history refuses the request.
  const again = service.submit(inc.bytes)
  t.false(again.ok)
  if (!again.ok) t.like(again.error, { reason: 'replay', message: `replayed request ${inc.requestId}: a committed block executed it` })
  t.is(service.mempool.size, 0)
  // Its result was memory; the store answers it: height 2's receipt, proof and certificate.
  t.is(await service.result(inc.id), undefined)
  const stored = await service.storedResult(inc)
  if (stored === undefined || stored === 'pending') return t.fail(`no stored result: ${String(stored)}`)
  t.like(stored, { status: 'certified', ingressId: inc.id, requestId: inc.requestId, height: 2n, index: 0, actor })
  t.is(utf8(stored.receipt?.result), '1')
  const certified = decodeCertifiedResponse(encodeCertifiedResponse(stored.certified!))
  if (!certified.ok) return t.fail(certified.error)
  const verified = verifyCertifiedResponse(certified.value, subnet)
  t.true(verified.ok, verified.ok ? '' : verified.error)
  t.like(decode(certified.value.receipt), { ok: true, value: { requestId: inc.requestId, index: 0 } })
  // A request no block executed has no stored result.
  t.is(await service.storedResult(client.update(actor)), undefined)
  // Nothing ran twice.
  await runHeight(service, [service])
  const query = await service.query(client.query(actor).bytes)
  t.true(query.ok)
  if (query.ok) t.is(utf8(query.value.receipt.result), '1')
})

test('a height executed but not certified here answers a stored request as pending, not as an error', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(4, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const client = new Client(clock)
  const code = await exampleCode('counter-wat')
  await service.putCode(code)
  const install = client.install(subnet, code)
  service.submit(install.bytes)
  await runHeight(service, [service])
  // One member of four: its own share is no quorum, so height 1 stays uncertified here.
  t.is(BigInt(service.info().certifiedHeight), 0n)
  t.is(await service.storedResult(install), 'pending')
  await service.stop()
})

test('verify refuses garbage payloads, foreign envelopes and a far-off block time', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  const other = makeSubnet(1, clock).subnet
  const client = new Client(clock)
  const block = (payload: Uint8Array) => ({ subnet: subnet.id, view: 1n, height: 1n, parent: new Uint8Array(32), payload, proposer: nodes[0]!.id })
  t.false(await service.verify(block(new Uint8Array([0xff, 0x00])), {}))
  t.false(await service.verify(block(encode({ timeMs: 1n, ingress: [], extra: 1 })), {}))
  t.false(await service.verify(block(encodePayload({ timeMs: BigInt(clock.now() + 120_000), ingress: [], xnet: [] })), {}))
  t.false(await service.verify(block(encodePayload({ timeMs: BigInt(clock.now()), ingress: [client.install(other, new Uint8Array([1])).bytes], xnet: [] })), {}))
  t.false(await service.verify(block(encodePayload({ timeMs: BigInt(clock.now()), ingress: [client.query(actorIdOf(subnet.id, 1n)).bytes], xnet: [] })), {}))
  t.false(await service.verify(block(encodePayload({ timeMs: BigInt(clock.now()), ingress: [new Uint8Array([1, 2, 3])], xnet: [] })), {}))
  t.false(await service.verify(block(encodePayload({ timeMs: BigInt(clock.now()), ingress: [client.install(subnet, new Uint8Array([9, 9])).bytes], xnet: [] })), {}), 'code nobody has')
  t.true(await service.verify(block(encodePayload({ timeMs: BigInt(clock.now()), ingress: [client.update(actorIdOf(subnet.id, 1n)).bytes], xnet: [] })), {}))
  t.true(await service.verify(block(new Uint8Array(0)), {}), 'an empty payload is an empty block')
})

test('verify: a block with a forged envelope is refused by every member that checks its request and passed only by the f that skip it, so it cannot gather a quorum', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(4, clock)
  const services = await Promise.all(nodes.map(async node => makeReplica(subnet, node, await memoryStore(), clock).service))
  const client = new Client(clock)
  const block = (envelope: Uint8Array): Block => ({ subnet: subnet.id, view: 1n, height: 1n, parent: new Uint8Array(32), payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: [envelope], xnet: [] }), proposer: nodes[0]!.id })
  for (let i = 0; i < 8; i++) {
    const good = client.update(actorIdOf(subnet.id, 1n))
    const forged = new Uint8Array(good.bytes)
    forged[forged.length - 1]! ^= 1
    const skipping = services.map(s => !s.checksSignature(good.requestId))
    t.is(skipping.filter(Boolean).length, subnet.genesis.f)
    const verdicts = await Promise.all(services.map(async s => await s.verify(block(forged), {})))
    t.deepEqual(verdicts, skipping, 'only the member that skips this request passes the forged block')
    t.true(verdicts.filter(Boolean).length < subnet.quorum, 'never a quorum of notarize votes')
    t.deepEqual(await Promise.all(services.map(async s => await s.verify(block(good.bytes), {}))), [true, true, true, true])
  }
})

test('a replica that verified a block and one that did not execute it alike, expiry judged at the clamped block time', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(4, clock)
  const a = makeReplica(subnet, nodes[0]!, await memoryStore(), clock).service
  const b = makeReplica(subnet, nodes[1]!, await memoryStore(), clock).service
  const client = new Client(clock)
  const actor = actorIdOf(subnet.id, 1n)
  // Height 1 carries a block time 20 s ahead (within the verify bound), so height 2's time is clamped to it.
  await runHeight(a, [a, b], { payload: encodePayload({ timeMs: BigInt(clock.now() + 20_000), ingress: [], xnet: [] }) })
  const soon = client.sign({ kind: 'update', actor, method: 'inc', payload: new Uint8Array(0), expiryMs: BigInt(clock.now() + 10_000) })
  const payload = encodePayload({ timeMs: BigInt(clock.now()), ingress: [soon.bytes], xnet: [] })
  const tip = await a.tip()
  const block = { subnet: subnet.id, view: 2n, height: 2n, parent: tip.tip.hash, payload, proposer: nodes[0]!.id }
  t.true(await a.verify(block, {}), 'valid at the proposal time')
  const { blockHash } = await import('../../../../protocol/consensus/messages.ts')
  const certificate = { kind: 'finalization' as const, view: 2n, block: blockHash(block), signers: [0], signatures: [new Uint8Array(64)] }
  await a.finalize(2n, block, certificate) // signature check skipped (memo), expiry not
  await b.finalize(2n, block, certificate) // decoded from scratch
  for (const s of [a, b]) {
    const result = await s.result(soon.id)
    t.is(result !== undefined && result !== 'pending' ? result.status : undefined, 'skipped')
  }
  t.deepEqual(a.info().stateRoot, b.info().stateRoot)
})

test('metrics count executed heights, receipts by outcome and the certified height', async t => {
  const { Registry } = await import('prom-client')
  const { PrometheusSubnetMetrics } = await import('../../../../node/subnet/subnet-metrics.ts')
  const registry = new Registry()
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { SubnetService } = await import('../../../../node/subnet/subnet-service.ts')
  const { loader } = await import('./_harness.ts')
  const { silentLogger } = await import('../../../../node/core/logger.ts')
  const service = new SubnetService(subnet, { store: await memoryStore(), loader, signer: nodes[0]!, clock, logger: silentLogger, transport: { publishShare: async () => {} }, metrics: new PrometheusSubnetMetrics(registry) }, { proposeIdleWaitMs: 0 })
  const client = new Client(clock)
  const code = await exampleCode('counter-wat')
  await service.putCode(code)
  service.submit(client.install(subnet, code).bytes)
  service.submit(client.update(actorIdOf(subnet.id, 1n), 'nope').bytes)
  await runHeight(service, [service])
  const text = await registry.metrics()
  t.regex(text, new RegExp(`pylon_subnet_messages_total\\{subnet="${subnet.id}",outcome="ok"\\} 1`))
  t.regex(text, new RegExp(`pylon_subnet_messages_total\\{subnet="${subnet.id}",outcome="failed"\\} 1`))
  t.regex(text, new RegExp(`pylon_subnet_certified_height\\{subnet="${subnet.id}"\\} 1`))
  t.regex(text, new RegExp(`pylon_subnet_finalize_seconds_count\\{subnet="${subnet.id}"\\} 1`))
})

test('an envelope twice in one block keeps its first run\'s certified result; heights certify in any order', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(4, clock)
  const replicas = await Promise.all(nodes.map(async node => makeReplica(subnet, node, await memoryStore(), clock)))
  const services = replicas.map(r => r.service)
  const code = await exampleCode('counter-wat')
  for (const s of services) await s.putCode(code)
  const client = new Client(clock)
  const install = client.install(subnet, code)
  await runHeight(services[0]!, services, { payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: [install.bytes], xnet: [] }) })
  const inc = client.update(actorIdOf(subnet.id, 1n))
  await runHeight(services[0]!, services, { payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: [inc.bytes, inc.bytes], xnet: [] }) })
  const waiting = services[0]!.wait(inc.id, 5_000)
  // Height 2's shares arrive first and certify it; height 1's arrive later and still certify it.
  for (const r of replicas.slice(1, 3)) t.true(await services[0]!.receiveShare(r.shares[1]!))
  t.is(BigInt(services[0]!.info().certifiedHeight), 2n)
  const result = await waiting
  t.is(result?.status, 'certified', 'the replayed copy did not replace the executed one')
  t.is(utf8(result?.receipt?.result), '1')
  t.is(await services[0]!.result(install.id), 'pending', 'height 1 has no certificate yet')
  for (const r of replicas.slice(1, 3)) t.true(await services[0]!.receiveShare(r.shares[0]!))
  const installed = await services[0]!.result(install.id)
  t.is(installed !== undefined && installed !== 'pending' ? installed.status : undefined, 'certified')
})

test('a member sends its certification share while its commit is being written, and certifies only once the commit landed', async t => {
  const clock = new ManualClock(1_700_000_000_000)
  const { subnet, nodes } = makeSubnet(1, clock)
  // A memory store whose height batches (the ones writing a 'blocks' row) wait until released.
  let release: () => void = () => {}
  let held = false
  class HeldKv extends MemoryKv {
    override async batch (ops: KvOp[], options: { sync: boolean }): Promise<void> {
      if (ops.some(op => op.space === 'blocks')) {
        held = true
        await new Promise<void>(resolve => { release = resolve })
        held = false
      }
      await super.batch(ops, options)
    }
  }
  const store = await KvStore.open(new HeldKv(), { checkpointIntervalHeights: 0 })
  const { service, shares } = makeReplica(subnet, nodes[0]!, store, clock)
  await service.start()
  t.teardown(async () => { await service.stop() })
  const running = runHeight(service, [service])
  for (let i = 0; i < 1_000 && !held; i++) await new Promise(resolve => setImmediate(resolve))
  t.true(held, 'the height\'s batch is being written')
  t.is(shares.length, 1, 'the share went out before the write finished')
  t.is(BigInt(store.height), 0n)
  t.is(BigInt(service.info().certifiedHeight), 0n, 'no certificate before the commit landed, even with the quorum (n = 1) held')
  release()
  await running
  t.is(BigInt(store.height), 1n)
  t.is(BigInt(service.info().certifiedHeight), 1n)
  const share = decodeShare(shares[0]!)
  t.deepEqual(share?.state.stateRoot, store.stateRoot, 'the early share signed the roots that were then committed')
})
