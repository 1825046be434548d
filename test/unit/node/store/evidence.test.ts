// The store's evidence space, against the LevelDB store and the in-memory store alike: listing by
// view then signer (newest first), one record per key, the evidenceStoredMax bound (oldest views
// dropped first), refusals that write nothing, and (LevelDB) records that survive a close and reopen.

import test, { type ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encode, sha256Bytes } from '../../../../protocol/codec.ts'
import { decodeEvidence, encodeEvidence, verifyEvidence } from '../../../../protocol/consensus/evidence.ts'
import { evidenceBytesMax, evidenceStoredMax } from '../../../../protocol/limits.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { StoreError, type EvidenceKey, type Store } from '../../../../node/store/store.ts'
import { membership, subnet, vote } from '../../protocol/consensus/_fixture.ts'

const blockA = sha256Bytes(encode(['block', 'a']))
const blockB = sha256Bytes(encode(['block', 'b']))

/** A real record: member `signer` notarized two blocks in `view`. */
function doubleVote (signer: number, view: bigint): { key: EvidenceKey, record: Uint8Array } {
  const first = vote(signer, 'notarize', view, blockA)
  const second = vote(signer, 'notarize', view, blockB)
  return { key: { view, signer, first: 'notarize', second: 'notarize' }, record: encodeEvidence(subnet, { signer, view, first, second }) }
}

const small = (n: number): Uint8Array => Uint8Array.of(n & 0xff, n >> 8)

async function tempDir (t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-evidence-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

const backends: Array<[string, (t: ExecutionContext) => Promise<Store>]> = [
  ['LevelDB store', async t => {
    const store = await openStore(await tempDir(t), { checkpointIntervalHeights: 0 })
    t.teardown(async () => { await store.close() })
    return store
  }],
  ['memory store', async t => {
    const store = await memoryStore({ checkpointIntervalHeights: 0 })
    t.teardown(async () => { await store.close() })
    return store
  }]
]

for (const [name, open] of backends) {
  test(`${name}: putEvidence keeps records and evidence() lists them by view then signer, newest first`, async t => {
    const store = await open(t)
    t.deepEqual(await store.evidence(), [])
    t.is(await store.evidenceCount(), 0)
    const records = [doubleVote(1, 7n), doubleVote(3, 2n), doubleVote(0, 7n), doubleVote(2, 300n)]
    for (const { key, record } of records) t.true(await store.putEvidence(key, record))
    const listed = await store.evidence()
    t.deepEqual(listed.map(e => [e.key.view, e.key.signer]), [[300n, 2], [7n, 1], [7n, 0], [2n, 3]])
    t.deepEqual(listed[1], { key: records[0]!.key, record: records[0]!.record }, 'bytes back as written')
    t.deepEqual((await store.evidence({ limit: 2 })).map(e => e.key.view), [300n, 7n])
    t.is(await store.evidenceCount(), 4)
    const decoded = decodeEvidence(listed[0]!.record)
    t.true(decoded.ok && verifyEvidence(membership, decoded.value.evidence).ok, 'a stored record still verifies')
  })

  test(`${name}: putEvidence stores one record per (view, signer, kinds) and answers false for the repeat`, async t => {
    const store = await open(t)
    const { key, record } = doubleVote(2, 5n)
    t.true(await store.putEvidence(key, record))
    t.false(await store.putEvidence(key, record), 'the same equivocation again')
    t.false(await store.putEvidence({ ...key }, small(1)), 'another record under the same key changes nothing')
    t.deepEqual((await store.evidence()).map(e => e.record), [record])
    // Another shape of misbehaviour by the same member in the same view is a record of its own.
    t.true(await store.putEvidence({ view: 5n, signer: 2, first: 'finalize', second: 'nullify' }, small(2)))
    t.true(await store.putEvidence({ view: 5n, signer: 2, first: 'nullify', second: 'finalize' }, small(3)))
    t.is(await store.evidenceCount(), 3)
  })

  test(`${name}: beyond evidenceStoredMax the oldest views are dropped first, and an older record is not kept`, async t => {
    const store = await open(t)
    const key = (view: bigint, signer = 0): EvidenceKey => ({ view, signer, first: 'notarize', second: 'notarize' })
    for (let i = 1; i <= evidenceStoredMax; i++) if (!await store.putEvidence(key(BigInt(i) * 2n), small(i))) t.fail(`record ${i} was not stored`)
    t.is(await store.evidenceCount(), evidenceStoredMax, 'full, at the bound')
    t.true(await store.putEvidence(key(5_000n), small(9)), 'one past the bound is stored')
    t.is(await store.evidenceCount(), evidenceStoredMax)
    let listed = await store.evidence()
    t.is(listed.length, evidenceStoredMax)
    t.is(listed[0]!.key.view, 5_000n)
    t.is(listed.at(-1)!.key.view, 4n, 'view 2, the oldest, went')
    // Between two kept views: stored, and again the oldest goes.
    t.true(await store.putEvidence(key(5n), small(10)))
    listed = await store.evidence()
    t.is(listed.at(-1)!.key.view, 5n)
    t.is(listed.length, evidenceStoredMax)
    // Older than everything kept: it would be the first to go, so it is not stored at all.
    t.false(await store.putEvidence(key(1n), small(11)))
    t.is(await store.evidenceCount(), evidenceStoredMax)
    t.is((await store.evidence()).at(-1)!.key.view, 5n)
  })

  test(`${name}: putEvidence and evidence refuse bad input naming the value and the bound, writing nothing`, async t => {
    const store = await open(t)
    const { key } = doubleVote(1, 1n)
    const tooLarge = await t.throwsAsync(store.putEvidence(key, new Uint8Array(evidenceBytesMax + 1)), { instanceOf: StoreError })
    t.is(tooLarge?.code, 'store/limit')
    t.regex(tooLarge?.message ?? '', new RegExp(`1\\.\\.${evidenceBytesMax} bytes, got ${evidenceBytesMax + 1}`))
    t.true(await store.putEvidence({ ...key, view: 2n }, new Uint8Array(evidenceBytesMax)), 'exactly at the bound is kept')
    await t.throwsAsync(store.putEvidence(key, new Uint8Array(0)), { message: /got 0/ })
    await t.throwsAsync(store.putEvidence({ ...key, signer: 64 }, small(1)), { message: /member index 0\.\.63, got 64/ })
    await t.throwsAsync(store.putEvidence({ ...key, view: 2n ** 64n }, small(1)), { message: /view must be a u64/ })
    await t.throwsAsync(store.putEvidence({ ...key, first: 'propose' as never }, small(1)), { message: /kinds must be notarize, nullify or finalize/ })
    await t.throwsAsync(store.evidence({ limit: evidenceStoredMax + 1 }), { message: new RegExp(`limit must be 0\\.\\.${evidenceStoredMax}, got ${evidenceStoredMax + 1}`) })
    t.is(await store.evidenceCount(), 1, 'only the record at the bound was written')
  })
}

test('LevelDB store: evidence survives a close and a reopen, with its count and its duplicate check', async t => {
  const dir = await tempDir(t)
  const records = [doubleVote(1, 9n), doubleVote(2, 3n)]
  const first = await openStore(dir, { checkpointIntervalHeights: 0 })
  for (const { key, record } of records) await first.putEvidence(key, record, { sync: false })
  await first.close()
  const store = await openStore(dir, { checkpointIntervalHeights: 0 })
  t.teardown(async () => { await store.close() })
  const listed = await store.evidence()
  t.deepEqual(listed, [{ key: records[0]!.key, record: records[0]!.record }, { key: records[1]!.key, record: records[1]!.record }])
  t.is(await store.evidenceCount(), 2, 'counted from disk')
  t.false(await store.putEvidence(records[0]!.key, records[0]!.record), 'still a duplicate after the reopen')
  for (const { record } of listed) {
    const decoded = decodeEvidence(record)
    t.true(decoded.ok && verifyEvidence(membership, decoded.value.evidence).ok)
  }
})

test('Store.close waits for an evidence write in flight, and a write after close is refused', async t => {
  const dir = await tempDir(t)
  const store = await openStore(dir, { checkpointIntervalHeights: 0 })
  const { key, record } = doubleVote(3, 4n)
  const writing = store.putEvidence(key, record)
  await store.close()
  t.true(await writing, 'the write queued before close landed')
  await t.throwsAsync(store.putEvidence({ ...key, view: 5n }, record), { instanceOf: StoreError, message: /closed/ })
  const again = await openStore(dir, { checkpointIntervalHeights: 0 })
  t.teardown(async () => { await again.close() })
  t.is(await again.evidenceCount(), 1)
})
