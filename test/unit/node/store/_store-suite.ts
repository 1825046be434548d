// One behavioural suite for every Store implementation: store.test.ts runs it against the LevelDB
// store and the in-memory store alike.
import type { ExecutionContext, TestFn } from 'ava'
import fc from 'fast-check'
import { rawCidOf, sha256Bytes } from '../../../../protocol/codec.ts'
import { height, type ActorId } from '../../../../protocol/ids.ts'
import { stateKeyBytesMax, stateValueBytesMax, stateWritesPerHeightMax, storeRangeCacheWindowsMax } from '../../../../protocol/limits.ts'
import { emptyRoot, toHex } from '../../../../protocol/state/merkle-trie.ts'
import { receiptsRoot, verifyReceiptProof } from '../../../../protocol/state/receipts-root.ts'
import { verifyStateProof } from '../../../../protocol/state/state-proof.ts'
import { CheckpointError, StoreError, type ChunkSource, type StateWrite, type Store } from '../../../../node/store/store.ts'
import type { StoreInit } from '../../../../node/store/kv-store.ts'
import type { KvOp, OrderedKv } from '../../../../node/store/_kv.ts'
import type { CheckpointManifest } from '../../../../protocol/state/checkpoint.ts'

/** Opens a fresh store; `wrap`, when given, goes around its key-value backend (to gate batches). */
export type OpenStore = (t: ExecutionContext, init?: StoreInit, wrap?: (kv: OrderedKv) => OrderedKv) => Promise<Store>

/** `kv` with its batch replaced by `batch` (everything else passes through): for faults and gates. */
function withBatch (kv: OrderedKv, batch: OrderedKv['batch']): OrderedKv {
  return {
    kind: kv.kind,
    get: async (space, key) => await kv.get(space, key),
    getMany: async (space, keys) => await kv.getMany(space, keys),
    has: async (space, key) => await kv.has(space, key),
    entries: (space, range) => kv.entries(space, range),
    clear: async (space, range) => { await kv.clear(space, range) },
    close: async () => { await kv.close() },
    batch
  }
}

/**
 * A backend whose batches matching `holds` stop at a gate until release(): a commit held open in
 * the middle of its write, deterministically (no sleeps). `reached` resolves when one is held.
 */
export function gatedKv (holds: (ops: KvOp[]) => boolean): { wrap: (kv: OrderedKv) => OrderedKv, reached: Promise<void>, release: () => void } {
  const reached = Promise.withResolvers<void>()
  const gate = Promise.withResolvers<void>()
  const wrap = (kv: OrderedKv): OrderedKv => withBatch(kv, async (ops, options) => {
    if (holds(ops)) {
      reached.resolve()
      await gate.promise
    }
    await kv.batch(ops, options)
  })
  return { wrap, reached: reached.promise, release: () => { gate.resolve() } }
}

/**
 * `kv` counting the state reads that reach it; while `hold` is set, a state read has read its value
 * and waits for release() before answering (a read overlapping a commit, deterministically).
 */
function readProbe (): { wrap: (kv: OrderedKv) => OrderedKv, reads: () => number, hold: () => Promise<void>, release: () => void } {
  let reads = 0
  let gate: PromiseWithResolvers<void> | undefined
  let reached = Promise.withResolvers<void>()
  const wait = async (): Promise<void> => {
    if (gate === undefined) return
    reached.resolve()
    await gate.promise
  }
  const wrap = (kv: OrderedKv): OrderedKv => ({
    ...withBatch(kv, async (ops, options) => { await kv.batch(ops, options) }),
    get: async (space, key) => { if (space === 'state') reads++; const value = await kv.get(space, key); if (space === 'state') await wait(); return value },
    getMany: async (space, keys) => { if (space === 'state') reads++; return await kv.getMany(space, keys) },
    entries: async function * (space, range) {
      if (space === 'state') reads++
      const rows: Array<[Uint8Array, Uint8Array]> = []
      for await (const row of kv.entries(space, range)) rows.push(row)
      if (space === 'state') await wait()
      yield * rows
    }
  })
  return {
    wrap,
    reads: () => reads,
    hold: async () => { gate = Promise.withResolvers<void>(); reached = Promise.withResolvers<void>(); await Promise.resolve() },
    release: () => { const g = gate; gate = undefined; g?.resolve() }
  }
}

const actor = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy.7' as ActorId
const other = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy.70' as ActorId
const te = new TextEncoder()
const b = (text: string): Uint8Array => te.encode(text)
const hex = toHex

export function put (key: string, value: string, who: ActorId = actor): StateWrite {
  return { actor: who, key: b(key), value: b(value) }
}

export async function commitWrites (store: Store, writes: StateWrite[], receipts: Uint8Array[] = []): Promise<void> {
  await store.commitHeight({ height: height(BigInt(store.height) + 1n), writes, receipts })
}

export function sourceOf (store: Store, manifest: CheckpointManifest, alter: (index: number, bytes: Uint8Array) => Uint8Array | undefined = (_i, bytes) => bytes): ChunkSource {
  return {
    async chunk (index) {
      const bytes = await store.checkpointChunk(manifest.height, index)
      const altered = bytes === undefined ? undefined : alter(index, bytes)
      if (altered === undefined) throw new Error(`no chunk ${index}`)
      return altered
    }
  }
}

export function storeSuite (test: TestFn, name: string, open: OpenStore): void {
  test(`${name}: a fresh store is at height 0 with the empty root`, async t => {
    const store = await open(t)
    t.is(BigInt(store.height), 0n)
    t.is(hex(store.stateRoot), hex(emptyRoot))
    t.is(await store.get(actor, b('x')), undefined)
    t.is(await store.getHeight(height(0)), undefined)
  })

  test(`${name}: commitHeight stores writes, receipts and the block, and returns both roots`, async t => {
    const store = await open(t)
    const receipts = [b('r0'), b('r1'), b('r2')]
    const result = await store.commitHeight({ height: height(1), writes: [put('a', '1'), put('b', '2')], receipts, block: b('block-1'), certificate: b('cert-1') })
    t.is(BigInt(result.height), 1n)
    t.is(BigInt(store.height), 1n)
    t.is(hex(store.stateRoot), hex(result.stateRoot))
    t.is(hex(result.receiptsRoot), hex(receiptsRoot(receipts)))
    t.deepEqual(await store.get(actor, b('a')), b('1'))
    const record = await store.getHeight(height(1))
    t.truthy(record)
    t.deepEqual(record!.block, b('block-1'))
    t.deepEqual(record!.certificate, b('cert-1'))
    t.is(record!.receiptCount, 3)
    t.is(record!.certification, null)
    t.deepEqual(await store.receipts(height(1)), receipts)
    const proof = await store.proveReceipt(height(1), 2)
    t.true(proof !== undefined && verifyReceiptProof(result.receiptsRoot, receipts[2]!, proof).ok)
    t.is(await store.proveReceipt(height(1), 3), undefined)
    await store.putCertification(height(1), b('signed-roots'))
    t.deepEqual((await store.getHeight(height(1)))!.certification, b('signed-roots'))
    await t.throwsAsync(store.putCertification(height(2), b('x')), { instanceOf: StoreError, message: /not committed/ })
  })

  test(`${name}: certifications are read back per height, leave the height record alone, and a later one replaces an earlier`, async t => {
    const store = await open(t)
    for (let i = 1; i <= 3; i++) await store.commitHeight({ height: height(i), writes: [put(`k${i}`, 'v')], receipts: [b(`r${i}`)], block: b(`block-${i}`), certificate: b(`final-${i}`) })
    await store.putCertification(height(2), b('cert-2'))
    await store.putCertification(height(1), b('cert-1'))
    const records = await Promise.all([1, 2, 3].map(async h => await store.getHeight(height(h))))
    t.deepEqual(records.map(r => r?.certification === null ? null : new TextDecoder().decode(r!.certification)), ['cert-1', 'cert-2', null])
    t.deepEqual(records.map(r => new TextDecoder().decode(r!.block!)), ['block-1', 'block-2', 'block-3'])
    t.deepEqual(records.map(r => new TextDecoder().decode(r!.certificate!)), ['final-1', 'final-2', 'final-3'])
    await store.putCertification(height(2), b('cert-2-again'))
    t.deepEqual((await store.getHeight(height(2)))!.certification, b('cert-2-again'))
    // The certification alone, without the height record.
    t.deepEqual(await store.certification(height(2)), b('cert-2-again'))
    t.deepEqual(await store.certification(height(1)), b('cert-1'))
    t.is(await store.certification(height(3)), undefined)
    t.is(await store.certification(height(4)), undefined)
    await t.throwsAsync(store.putCertification(height(0), b('x')), { instanceOf: StoreError, message: /cannot certify height 0: it is not committed/ })
    await t.throwsAsync(store.putCertification(height(4), b('x')), { instanceOf: StoreError, message: /cannot certify height 4: it is not committed/ })
    t.is(await store.getHeight(height(4)), undefined)
  })

  test(`${name}: a WAL append, a WAL truncate and a certification complete while a commit is held in its write`, async t => {
    const gated = gatedKv(ops => ops.some(op => op.type === 'put' && op.space === 'blocks'))
    let holding = false
    const store = await open(t, {}, kv => { const inner = gated.wrap(kv); return { ...inner, batch: async (ops, options) => { await (holding ? inner.batch(ops, options) : kv.batch(ops, options)) } } })
    await commitWrites(store, [put('a', '1')])
    t.is(await store.walAppend(b('vote-0')), 0n)
    holding = true
    const commit = store.commitHeight({ height: height(2), writes: [put('b', '2')], receipts: [], block: b('block-2') })
    await gated.reached
    // The commit of height 2 is inside its batch and cannot finish before release().
    t.is(await store.walAppend(b('vote-1')), 1n)
    t.is(await store.walAppend(b('vote-2'), { sync: false }), 2n)
    await store.walTruncate(1n)
    await store.putCertification(height(1), b('cert-1'))
    t.is(BigInt(store.height), 1n, 'the commit is still held')
    const wal: string[] = []
    for await (const e of store.walEntries()) wal.push(`${e.seq}:${new TextDecoder().decode(e.record)}`)
    t.deepEqual(wal, ['1:vote-1', '2:vote-2'])
    t.deepEqual((await store.getHeight(height(1)))!.certification, b('cert-1'))
    gated.release()
    await commit
    t.is(BigInt(store.height), 2n)
    t.deepEqual((await store.getHeight(height(2)))!.block, b('block-2'))
    t.deepEqual(await store.get(actor, b('b')), b('2'))
  })

  test(`${name}: a commit whose write fails changes nothing, and the next commit starts from the stored trie`, async t => {
    let failNext = false
    const store = await open(t, {}, kv => withBatch(kv, async (ops, options) => {
      if (failNext && ops.some(op => op.type === 'put' && op.space === 'blocks')) { failNext = false; throw new Error('disk full') }
      await kv.batch(ops, options)
    }))
    const twin = await open(t)
    const first = Array.from({ length: 40 }, (_, i) => put(`k${i}`, `v${i}`))
    await commitWrites(store, first)
    await commitWrites(twin, first)
    // The failed height rewrote the kept top of the trie in memory; none of it may leak into the next.
    failNext = true
    await t.throwsAsync(commitWrites(store, Array.from({ length: 40 }, (_, i) => put(`k${i}`, 'lost'))), { message: /disk full/ })
    t.is(BigInt(store.height), 1n)
    t.is(hex(store.stateRoot), hex(twin.stateRoot))
    const second = [put('k3', 'kept'), { actor, key: b('k4'), value: null }, put('new', 'row')]
    await commitWrites(store, second)
    await commitWrites(twin, second)
    t.is(hex(store.stateRoot), hex(twin.stateRoot))
    t.deepEqual(await store.get(actor, b('k5')), b('v5'))
    t.true((await store.verify()).ok)
    const proof = await store.prove(actor, b('k3'))
    t.deepEqual(verifyStateProof(store.stateRoot, actor, b('k3'), proof), { ok: true, value: b('kept') })
  })

  test(`${name}: WAL appends issued together get seqs in call order and land in that order`, async t => {
    const store = await open(t)
    const seqs = await Promise.all(Array.from({ length: 20 }, async (_, i) => await store.walAppend(b(`r${i}`), { sync: i % 5 === 4 })))
    t.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => BigInt(i)))
    const [truncated] = await Promise.all([store.walTruncate(10n), store.walAppend(b('after'))])
    t.is(truncated, undefined)
    const wal: string[] = []
    for await (const e of store.walEntries()) wal.push(`${e.seq}:${new TextDecoder().decode(e.record)}`)
    t.deepEqual(wal, [...Array.from({ length: 10 }, (_, i) => `${i + 10}:r${i + 10}`), '20:after'])
  })

  test(`${name}: commitHeight refuses a height that is not the next one and changes nothing`, async t => {
    const store = await open(t)
    await commitWrites(store, [put('a', '1')])
    const root = hex(store.stateRoot)
    for (const h of [1, 3, 0]) {
      await t.throwsAsync(store.commitHeight({ height: height(h), writes: [put('a', '2')], receipts: [] }), { instanceOf: StoreError, message: new RegExp(`commit of height ${h} refused: the store is at 1, next is 2`) })
    }
    t.is(BigInt(store.height), 1n)
    t.is(hex(store.stateRoot), root)
    t.deepEqual(await store.get(actor, b('a')), b('1'))
  })

  test(`${name}: commitHeight refuses over-limit keys, values and write counts and changes nothing`, async t => {
    const store = await open(t)
    const bad: StateWrite[][] = [
      [put('ok', '1'), { actor, key: new Uint8Array(stateKeyBytesMax + 1), value: b('v') }],
      [put('ok', '1'), { actor, key: b('k'), value: new Uint8Array(stateValueBytesMax + 1) }],
      Array.from({ length: stateWritesPerHeightMax + 1 }, () => put('k', 'v'))
    ]
    const messages = [/storage key too long: 1025 > 1024 bytes/, /storage value too large: 1048577 > 1048576 bytes/, /too many writes in height 1: 100001 > 100000/]
    for (const [i, writes] of bad.entries()) {
      await t.throwsAsync(store.commitHeight({ height: height(1), writes, receipts: [] }), { instanceOf: StoreError, message: messages[i] })
    }
    t.is(BigInt(store.height), 0n)
    t.is(await store.get(actor, b('ok')), undefined)
    // Exactly at the limits is fine.
    await commitWrites(store, [{ actor, key: new Uint8Array(stateKeyBytesMax), value: new Uint8Array(stateValueBytesMax) }])
    t.is((await store.get(actor, new Uint8Array(stateKeyBytesMax)))?.length, stateValueBytesMax)
  })

  test(`${name}: the last write to a key in a height wins, deletes remove, and the root tracks contents only`, async t => {
    const store = await open(t)
    await commitWrites(store, [put('a', '1'), put('a', '2'), put('b', '1'), { actor, key: b('b'), value: null }, put('c', '3')])
    t.deepEqual(await store.get(actor, b('a')), b('2'))
    t.is(await store.get(actor, b('b')), undefined)
    const twin = await open(t)
    await commitWrites(twin, [put('c', '3')])
    await commitWrites(twin, [put('a', '2'), { actor, key: b('zz'), value: null }])
    t.is(hex(twin.stateRoot), hex(store.stateRoot))
    // Deleting everything returns to the empty root; deleting an absent key changes nothing.
    await commitWrites(store, [{ actor, key: b('a'), value: null }, { actor, key: b('c'), value: null }, { actor, key: b('never'), value: null }])
    t.is(hex(store.stateRoot), hex(emptyRoot))
  })

  test(`${name}: range and actorEntries read one actor's keys in order with bounds and a limit`, async t => {
    const store = await open(t)
    await commitWrites(store, [put('b', '2'), put('a', '1'), put('c', '3'), put('d', '4'), put('a', 'x', other), put('z', 'y', other)])
    const keys = (rows: Array<{ key: Uint8Array }>): string[] => rows.map(r => new TextDecoder().decode(r.key))
    t.deepEqual(keys(await store.range(actor)), ['a', 'b', 'c', 'd'])
    t.deepEqual(keys(await store.range(actor, { start: b('b'), end: b('d') })), ['b', 'c'])
    t.deepEqual(keys(await store.range(actor, { start: b('b'), limit: 1 })), ['b'])
    t.deepEqual(keys(await store.range(other)), ['a', 'z'])
    t.deepEqual(await store.range(actor, { limit: 0 }), [])
    await t.throwsAsync(store.range(actor, { limit: 10_001 }), { instanceOf: StoreError, message: /range limit must be 0..10000/ })
    const all: string[] = []
    for await (const row of store.actorEntries(actor)) all.push(new TextDecoder().decode(row.key))
    t.deepEqual(all, ['a', 'b', 'c', 'd'])
  })

  test(`${name}: prove gives inclusion and non-inclusion proofs that verify against the state root`, async t => {
    const store = await open(t)
    const absentOnEmpty = await store.prove(actor, b('k'))
    t.deepEqual(verifyStateProof(store.stateRoot, actor, b('k'), absentOnEmpty), { ok: true, value: null })
    await commitWrites(store, Array.from({ length: 64 }, (_, i) => put(`k${i}`, `v${i}`)))
    for (const key of ['k0', 'k17', 'k63']) {
      const proof = await store.prove(actor, b(key))
      const result = verifyStateProof(store.stateRoot, actor, b(key), proof)
      t.true(result.ok)
      if (result.ok) t.deepEqual(result.value, b(`v${key.slice(1)}`))
    }
    const absent = await store.prove(actor, b('k64'))
    t.deepEqual(verifyStateProof(store.stateRoot, actor, b('k64'), absent), { ok: true, value: null })
    t.false(verifyStateProof(store.stateRoot, actor, b('k1'), absent).ok)
  })

  test(`${name}: code is stored by CID, and bytes that do not match their CID are refused`, async t => {
    const store = await open(t)
    const wasm = b('\0asm fake component')
    const cid = rawCidOf(wasm).toString()
    await store.putCode(cid, wasm)
    t.deepEqual(await store.getCode(cid), wasm)
    await t.throwsAsync(store.putCode(cid, b('other bytes')), { instanceOf: StoreError, message: /do not hash to their CID/ })
    await t.throwsAsync(store.putCode('not-a-cid', wasm), { instanceOf: StoreError, message: /not a CID/ })
    const code2 = b('second component')
    await store.commitHeight({ height: height(1), writes: [], receipts: [], code: [{ cid: rawCidOf(code2).toString(), bytes: code2 }] })
    t.deepEqual(await store.getCode(rawCidOf(code2).toString()), code2)
    await t.throwsAsync(store.commitHeight({ height: height(2), writes: [put('a', '1')], receipts: [], code: [{ cid, bytes: code2 }] }), { instanceOf: StoreError })
    t.is(BigInt(store.height), 1n)
  })

  test(`${name}: the WAL appends in order, truncates a prefix and refuses empty records`, async t => {
    const store = await open(t)
    const seqs = [await store.walAppend(b('vote-1')), await store.walAppend(b('vote-2')), await store.walAppend(b('vote-3'))]
    t.deepEqual(seqs, [0n, 1n, 2n])
    const read = async (): Promise<string[]> => { const out: string[] = []; for await (const e of store.walEntries()) out.push(`${e.seq}:${new TextDecoder().decode(e.record)}`); return out }
    t.deepEqual(await read(), ['0:vote-1', '1:vote-2', '2:vote-3'])
    await store.walTruncate(2n)
    t.deepEqual(await read(), ['2:vote-3'])
    t.is(await store.walAppend(b('vote-4')), 3n)
    await t.throwsAsync(store.walAppend(new Uint8Array(0)), { instanceOf: StoreError, message: /WAL record must be 1\.\./ })
  })

  test(`${name}: metadata round-trips and the store's own names are refused`, async t => {
    const store = await open(t)
    await store.metaPut('node/config', b('cfg'))
    t.deepEqual(await store.metaGet('node/config'), b('cfg'))
    await t.throwsAsync(store.metaPut('store/height', b('9')), { instanceOf: StoreError, message: /belong to the store/ })
    await t.throwsAsync(store.metaPut('', b('9')), { instanceOf: StoreError })
  })

  test(`${name}: a checkpoint exported from one store imports into an empty one with the same root`, async t => {
    const source = await open(t)
    const code = b('component bytes')
    await source.commitHeight({ height: height(1), writes: Array.from({ length: 300 }, (_, i) => put(`k${i}`, `v${i}`.repeat(i % 7))), receipts: [], code: [{ cid: rawCidOf(code).toString(), bytes: code }] })
    await commitWrites(source, [put('k5', 'changed'), { actor, key: b('k6'), value: null }, put('q', 'r', other)])
    const manifest = await source.checkpoint()
    t.is(BigInt(manifest.height), 2n)
    t.is(hex(manifest.stateRoot), hex(source.stateRoot))
    t.is(manifest.entries, 300)
    t.deepEqual((await source.checkpoints()).map(m => m.height), [2n])
    t.is(hex((await source.checkpoint()).stateRoot), hex(manifest.stateRoot)) // reused, not rebuilt

    const target = await open(t)
    await target.importCheckpoint(manifest, sourceOf(source, manifest))
    t.is(BigInt(target.height), 2n)
    t.is(hex(target.stateRoot), hex(source.stateRoot))
    t.deepEqual(await target.get(actor, b('k5')), b('changed'))
    t.is(await target.get(actor, b('k6')), undefined)
    t.deepEqual(await target.getCode(rawCidOf(code).toString()), code)
    t.true((await target.verify()).ok)
    // The imported store keeps committing from there.
    await commitWrites(target, [put('after', 'import')])
    await commitWrites(source, [put('after', 'import')])
    t.is(hex(target.stateRoot), hex(source.stateRoot))
    await t.throwsAsync(target.importCheckpoint(manifest, sourceOf(source, manifest)), { instanceOf: CheckpointError, message: /needs an empty store/ })
  })

  test(`${name}: receipts of many sizes round-trip in order across row boundaries, with proofs`, async t => {
    const store = await open(t)
    // Small ones share a row; large ones (over half a row each) split rows; an empty receipt is kept.
    const receipts = [...Array.from({ length: 300 }, (_, i) => b(`small-${i}`)), new Uint8Array(0), ...Array.from({ length: 5 }, (_, i) => new Uint8Array(200_000).fill(i)), b('last')]
    const result = await store.commitHeight({ height: height(1), writes: [], receipts })
    await commitWrites(store, [], [b('next-height')])
    const read = await store.receipts(height(1))
    t.is(read.length, receipts.length)
    t.true(read.every((r, i) => hex(r) === hex(receipts[i]!)))
    t.deepEqual(await store.receipts(height(2)), [b('next-height')])
    t.deepEqual(await store.receipts(height(3)), [])
    for (const index of [0, 299, 300, 303, 306]) {
      const proof = await store.proveReceipt(height(1), index)
      t.true(proof !== undefined && verifyReceiptProof(result.receiptsRoot, receipts[index]!, proof).ok, `receipt ${index}`)
    }
    t.is(await store.proveReceipt(height(1), 307), undefined)
  })

  test(`${name}: a WAL append and a certification complete while a replacing import waits for a chunk; the import keeps the WAL and drops old certifications`, async t => {
    const source = await open(t)
    for (let i = 1; i <= 3; i++) await commitWrites(source, [put(`k${i}`, `v${i}`)])
    const manifest = await source.checkpoint()
    const target = await open(t)
    await commitWrites(target, [put('old', 'x')])
    await target.walAppend(b('vote-before'))
    const chunkAsked = Promise.withResolvers<void>()
    const chunkGate = Promise.withResolvers<void>()
    const importing = target.importCheckpoint(manifest, {
      chunk: async i => { chunkAsked.resolve(); await chunkGate.promise; return (await source.checkpointChunk(manifest.height, i))! }
    }, { replace: true, tip: { receiptsRoot: new Uint8Array(32), block: b('tip-block'), certificate: b('tip-final'), certification: b('tip-cert') } })
    await chunkAsked.promise
    t.is(await target.walAppend(b('vote-during')), 1n)
    await target.putCertification(height(1), b('old-cert'))
    chunkGate.resolve()
    await importing
    t.is(BigInt(target.height), 3n)
    t.is(hex(target.stateRoot), hex(source.stateRoot))
    const wal: string[] = []
    for await (const e of target.walEntries()) wal.push(new TextDecoder().decode(e.record))
    t.deepEqual(wal, ['vote-before', 'vote-during'])
    t.is(await target.getHeight(height(1)), undefined, 'the old height is gone, its certification with it')
    await t.throwsAsync(target.putCertification(height(1), b('x')), { instanceOf: StoreError, message: /not committed/ })
    const tip = await target.getHeight(height(3))
    t.deepEqual(tip!.certification, b('tip-cert'))
    t.deepEqual(tip!.block, b('tip-block'))
    await target.putCertification(height(3), b('tip-cert-2'))
    t.deepEqual((await target.getHeight(height(3)))!.certification, b('tip-cert-2'))
    t.is(await target.walAppend(b('vote-after')), 2n)
  })

  test(`${name}: a corrupted, missing or wrong-root checkpoint is refused and the target stays empty`, async t => {
    const source = await open(t)
    await commitWrites(source, Array.from({ length: 50 }, (_, i) => put(`k${i}`, `v${i}`)))
    const manifest = await source.checkpoint()
    const target = await open(t)
    const flip = (bytes: Uint8Array): Uint8Array => { const copy = bytes.slice(); copy[copy.length - 1]! ^= 1; return copy }
    await t.throwsAsync(target.importCheckpoint(manifest, sourceOf(source, manifest, (_i, bytes) => flip(bytes))), { instanceOf: CheckpointError, message: /chunk 0 of 1 is corrupt: sha256 [0-9a-f]{64}, manifest says/ })
    await t.throwsAsync(target.importCheckpoint(manifest, sourceOf(source, manifest, () => undefined)), { instanceOf: CheckpointError, message: /chunk 0 of 1 is missing: no chunk 0/ })
    await t.throwsAsync(target.importCheckpoint(manifest, sourceOf(source, manifest, (_i, bytes) => bytes.subarray(1))), { instanceOf: CheckpointError, message: /bytes, manifest says/ })
    await t.throwsAsync(target.importCheckpoint({ ...manifest, stateRoot: new Uint8Array(32) }, sourceOf(source, manifest)), { instanceOf: CheckpointError, message: /rebuild state root [0-9a-f]{64}, manifest says 0{64}/ })
    await t.throwsAsync(target.importCheckpoint({ ...manifest, entries: 49 }, sourceOf(source, manifest)), { instanceOf: CheckpointError, message: /hold 50 entries, manifest says 49/ })
    t.is(BigInt(target.height), 0n)
    t.is(hex(target.stateRoot), hex(emptyRoot))
    t.deepEqual(await target.range(actor), [])
    t.deepEqual(await target.checkpoints(), [])
    // After all those refusals, the good checkpoint still imports.
    await target.importCheckpoint(manifest, sourceOf(source, manifest))
    t.is(hex(target.stateRoot), hex(source.stateRoot))
  })

  test(`${name}: automatic checkpoints every K heights, keeping the latest two`, async t => {
    const store = await open(t, { checkpointIntervalHeights: 3 })
    for (let i = 1; i <= 10; i++) await commitWrites(store, [put(`k${i}`, `v${i}`)])
    t.deepEqual((await store.checkpoints()).map(m => m.height), [9n, 6n])
    t.is(await store.checkpointChunk(height(3), 0), undefined)
    const latest = (await store.checkpoints())[0]!
    t.is(latest.entries, 9)
    const chunk = await store.checkpointChunk(height(9), 0)
    t.is(hex(sha256Bytes(chunk!)), hex(latest.chunks[0]!.hash))
  })

  test(`${name}: verify recomputes the recorded root from the stored entries`, async t => {
    const store = await open(t)
    t.true((await store.verify()).ok)
    await commitWrites(store, Array.from({ length: 100 }, (_, i) => put(`k${i}`, `v${i}`)))
    await commitWrites(store, [{ actor, key: b('k3'), value: null }])
    const report = await store.verify()
    t.true(report.ok, report.firstDifference)
    t.is(report.entries, 99)
    t.is(hex(report.computedRoot), hex(store.stateRoot))
  })

  test(`${name}: a closed store refuses work`, async t => {
    const store = await open(t)
    await store.close()
    await store.close()
    await t.throwsAsync(store.get(actor, b('a')), { instanceOf: StoreError, message: /closed/ })
    await t.throwsAsync(commitWrites(store, []), { instanceOf: StoreError, message: /closed/ })
  })

  test(`${name}: repeated reads of committed rows and of a small actor's state come from memory, and every commit shows through`, async t => {
    const probe = readProbe()
    const store = await open(t, {}, probe.wrap)
    const big = 'v'.repeat(2048) // over storeRowCacheValueBytesMax: read from the database every time
    await commitWrites(store, [put('a', '1'), put('b', '2'), put('x', big, other)])
    const text = (bytes: Uint8Array | undefined): string | undefined => bytes === undefined ? undefined : new TextDecoder().decode(bytes)
    const entries = async (): Promise<string[]> => { const out: string[] = []; for await (const e of store.actorEntries(actor)) out.push(`${text(e.key)}=${text(e.value)}`); return out }
    let before = probe.reads()
    t.is(text(await store.get(other, b('x'))), big)
    t.is(text(await store.get(other, b('missing'))), undefined)
    t.is(probe.reads() - before, 2)
    before = probe.reads()
    const held = (await store.get(other, b('missing')))
    t.is(held, undefined, 'known absent')
    t.is(text(await store.get(other, b('x'))), big)
    t.is(probe.reads() - before, 1, 'a large value is read again, an absent key is not')
    // A small actor read whole (as preloading does) answers gets, ranges and the next preload.
    t.deepEqual(await entries(), ['a=1', 'b=2'])
    before = probe.reads()
    t.deepEqual(await entries(), ['a=1', 'b=2'])
    const a = await store.get(actor, b('a'))
    t.is(text(a), '1')
    a!.fill(0) // a caller scribbling on what it got changes nothing the store holds
    t.is(text(await store.get(actor, b('a'))), '1')
    t.deepEqual((await store.range(actor, { start: b('b') })).map(e => text(e.key)), ['b'])
    t.deepEqual((await store.getMany(actor, [b('b'), b('zz')])).map(text), ['2', undefined])
    t.is(probe.reads(), before, 'nothing reached the database')
    // A commit's writes show through at once: a set, a delete, a new key, a row that was absent.
    await commitWrites(store, [put('a', '3'), { actor, key: b('b'), value: null }, put('c', '4'), put('missing', 'now', other)])
    before = probe.reads()
    t.deepEqual(await entries(), ['a=3', 'c=4'])
    t.is(text(await store.get(actor, b('a'))), '3')
    t.is(await store.get(actor, b('b')), undefined)
    t.deepEqual((await store.range(actor, { start: b('b'), end: b('d'), limit: 5 })).map(e => text(e.key)), ['c'])
    t.deepEqual((await store.range(actor, { limit: 1 })).map(e => text(e.key)), ['a'])
    t.is(text(await store.get(other, b('missing'))), 'now')
    t.is(probe.reads(), before, 'still nothing read from the database')
    // An actor grown past storeActorCacheBytesMax is dropped and read from the database again, correctly.
    await commitWrites(store, Array.from({ length: 40 }, (_, i) => put(`big-${String(i).padStart(2, '0')}`, 'w'.repeat(2000))))
    before = probe.reads()
    t.is((await entries()).length, 42)
    t.true(probe.reads() > before)
  })

  test(`${name}: ranges read with readAheadUntil answer the next ranges from the same start from memory, commits included`, async t => {
    const probe = readProbe()
    const store = await open(t, {}, probe.wrap)
    const q = (i: number): string => `q/${String(i).padStart(3, '0')}`
    await commitWrites(store, [...Array.from({ length: 100 }, (_, i) => put(q(i + 1), `v${i + 1}`)), put('r', 'outside')])
    const keys = async (end: string, limit?: number): Promise<string[]> =>
      (await store.range(actor, { start: b('q/'), end: b(end), readAheadUntil: b('q0'), ...(limit === undefined ? {} : { limit }) })).map(e => new TextDecoder().decode(e.key))
    const upTo = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => q(from + i))
    let before = probe.reads()
    t.deepEqual(await keys(q(3)), upTo(1, 2))
    t.is(probe.reads() - before, 2, 'the range and the keys past it')
    before = probe.reads()
    t.deepEqual(await keys(q(10)), upTo(1, 9))
    t.deepEqual(await keys(q(60), 5), upTo(1, 5))
    t.deepEqual(await keys(q(66)), upTo(1, 65))
    t.is(probe.reads(), before, '64 keys past the first end were read with it')
    // A commit deletes the due keys and adds one among the known ones: the next ranges see both.
    await commitWrites(store, [{ actor, key: b(q(1)), value: null }, { actor, key: b(q(2)), value: null }, put('q/004x', 'new')])
    before = probe.reads()
    t.deepEqual(await keys(q(6)), [q(3), q(4), 'q/004x', q(5)])
    t.is(probe.reads(), before)
    // Past the keys it has seen it reads again, and gets the same answer a plain read gives.
    t.deepEqual(await keys(q(90)), ['q/004x', ...upTo(3, 89)].sort())
    t.true(probe.reads() > before)
    t.deepEqual((await store.range(actor, { start: b('q/'), end: b(q(90)) })).map(e => new TextDecoder().decode(e.key)), ['q/004x', ...upTo(3, 89)].sort())
    // Fewer keys left than the read-ahead: the window reaches readAheadUntil, and new keys below it show.
    t.deepEqual(await keys(q(99)), ['q/004x', ...upTo(3, 98)].sort())
    await commitWrites(store, [put('q/500', 'late')])
    before = probe.reads()
    t.deepEqual((await keys('q/999')).slice(-3), [q(99), q(100), 'q/500'])
    t.is(probe.reads(), before)
  })

  test(`${name}: every read answers what the committed state holds, whatever was read and committed before (model check)`, async t => {
    const keys = ['a', 'b', 'c', 'q/1', 'q/2', 'q/3', 'q/4', 'q/5', 'r']
    const op = fc.oneof(
      fc.record({ kind: fc.constant('commit' as const), writes: fc.array(fc.record({ who: fc.boolean(), key: fc.constantFrom(...keys), value: fc.option(fc.string({ maxLength: 3 }), { nil: null, freq: 2 }) }), { maxLength: 4 }) }),
      fc.record({ kind: fc.constant('get' as const), who: fc.boolean(), key: fc.constantFrom(...keys) }),
      fc.record({ kind: fc.constant('many' as const), who: fc.boolean(), keys: fc.array(fc.constantFrom(...keys), { maxLength: 3 }) }),
      fc.record({ kind: fc.constant('range' as const), who: fc.boolean(), start: fc.option(fc.constantFrom(...keys, 'q/'), { nil: undefined }), end: fc.option(fc.constantFrom(...keys, 'q0', 'z'), { nil: undefined }), limit: fc.integer({ min: 0, max: 4 }), ahead: fc.boolean() }),
      fc.record({ kind: fc.constant('all' as const), who: fc.boolean() })
    )
    const text = (bytes: Uint8Array | undefined): string | undefined => bytes === undefined ? undefined : new TextDecoder().decode(bytes)
    const store0 = await open(t) as Store & { kind?: string }
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 40, size: 'max' }), async ops => {
      const store = await open(t)
      const model = new Map<string, string>() // `${actor}|${key}` → value
      const at = (who: boolean): ActorId => who ? other : actor
      const sorted = (who: boolean): Array<[string, string]> => [...model].filter(([k]) => k.startsWith(`${at(who)}|`)).map(([k, v]): [string, string] => [k.slice(at(who).length + 1), v]).sort((x, y) => (x[0] < y[0] ? -1 : 1))
      for (const o of ops) {
        if (o.kind === 'commit') {
          await commitWrites(store, o.writes.map(w => ({ actor: at(w.who), key: b(w.key), value: w.value === null ? null : b(w.value) })))
          for (const w of o.writes) { if (w.value === null) model.delete(`${at(w.who)}|${w.key}`); else model.set(`${at(w.who)}|${w.key}`, w.value) }
        } else if (o.kind === 'get') {
          if (text(await store.get(at(o.who), b(o.key))) !== model.get(`${at(o.who)}|${o.key}`)) return false
        } else if (o.kind === 'many') {
          const got = (await store.getMany(at(o.who), o.keys.map(b))).map(text)
          if (JSON.stringify(got) !== JSON.stringify(o.keys.map(k => model.get(`${at(o.who)}|${k}`)))) return false
        } else if (o.kind === 'range') {
          const got = (await store.range(at(o.who), { ...(o.start === undefined ? {} : { start: b(o.start) }), ...(o.end === undefined ? {} : { end: b(o.end) }), limit: o.limit, ...(o.ahead ? { readAheadUntil: b('q0') } : {}) })).map(e => `${text(e.key)}=${text(e.value)}`)
          const want = sorted(o.who).filter(([k]) => (o.start === undefined || k >= o.start) && (o.end === undefined || k < o.end)).slice(0, o.limit).map(([k, v]) => `${k}=${v}`)
          if (JSON.stringify(got) !== JSON.stringify(want)) return false
        } else {
          const got: string[] = []
          for await (const e of store.actorEntries(at(o.who))) got.push(`${text(e.key)}=${text(e.value)}`)
          if (JSON.stringify(got) !== JSON.stringify(sorted(o.who).map(([k, v]) => `${k}=${v}`))) return false
        }
      }
      return true
    }), { numRuns: store0.kind === 'memory' ? 100 : 10 }) // a LevelDB run opens a database per case
    t.pass()
  })

  test(`${name}: an empty or inverted range answers nothing and keeps no window, even with a read-ahead (a model-check counterexample)`, async t => {
    const store = await open(t)
    await commitWrites(store, [put('q/2', 'x'), put('a', 'y')])
    t.deepEqual(await store.range(actor, { start: b('q/1'), end: b('a'), limit: 1, readAheadUntil: b('q0') }), [])
    t.deepEqual(await store.range(actor, { start: b('q/1'), end: b('q/1'), readAheadUntil: b('q0') }), [])
    const read = (v: Uint8Array | undefined): string | undefined => v === undefined ? undefined : new TextDecoder().decode(v)
    t.deepEqual((await store.getMany(actor, [b('q/2'), b('a')])).map(read), ['x', 'y'])
    t.is(read(await store.get(actor, b('q/2'))), 'x')
    t.deepEqual((await store.range(actor, { start: b('q/1'), end: b('q0') })).map(e => read(e.key)), ['q/2'])
  })

  test(`${name}: more actors read whole than the cache keeps windows for: every read stays right through commits`, async t => {
    const store = await open(t)
    const many = Array.from({ length: storeRangeCacheWindowsMax + 10 }, (_, i) => `${actor.slice(0, actor.lastIndexOf('.'))}.${100 + i}` as ActorId)
    const whole = async (who: ActorId): Promise<string[]> => { const out: string[] = []; for await (const e of store.actorEntries(who)) out.push(new TextDecoder().decode(e.value)); return out }
    await commitWrites(store, many.map(who => put('k', 'v1', who)))
    for (const who of many) t.deepEqual(await whole(who), ['v1'])
    await commitWrites(store, many.map((who, i) => put(i % 2 === 0 ? 'k' : 'j', 'v2', who)))
    for (const [i, who] of many.entries()) {
      t.deepEqual(await whole(who), i % 2 === 0 ? ['v2'] : ['v2', 'v1'])
      t.deepEqual(new TextDecoder().decode(await store.get(who, b('k'))), i % 2 === 0 ? 'v2' : 'v1')
    }
  })

  test(`${name}: a read that overlaps a commit never leaves the old value behind`, async t => {
    const probe = readProbe()
    const store = await open(t, {}, probe.wrap)
    await commitWrites(store, [put('a', '1'), put('b', '1', other)])
    const text = (bytes: Uint8Array | undefined): string | undefined => bytes === undefined ? undefined : new TextDecoder().decode(bytes)
    await probe.hold()
    const row = store.get(other, b('b')) // reads "1", then waits
    const whole = (async () => { const out: string[] = []; for await (const e of store.actorEntries(actor)) out.push(text(e.value)!); return out })()
    await new Promise(resolve => setImmediate(resolve))
    await commitWrites(store, [put('a', '2'), put('b', '2', other)])
    probe.release()
    t.is(text(await row), '1', 'the read began before the commit')
    t.deepEqual(await whole, ['1'])
    t.is(text(await store.get(other, b('b'))), '2')
    t.is(text(await store.get(actor, b('a'))), '2')
    const after: string[] = []
    for await (const e of store.actorEntries(actor)) after.push(text(e.value)!)
    t.deepEqual(after, ['2'])
  })

  test(`${name}: a failed commit changes no value read; after a replacing import nothing read before it answers`, async t => {
    let fail = false
    const store = await open(t, {}, kv => withBatch(kv, async (ops, options) => {
      if (fail && ops.some(op => op.space === 'blocks')) throw new Error('disk full')
      await kv.batch(ops, options)
    }))
    const text = (bytes: Uint8Array | undefined): string | undefined => bytes === undefined ? undefined : new TextDecoder().decode(bytes)
    await commitWrites(store, [put('a', '1'), put('k1', 'old')])
    t.is(text(await store.get(actor, b('a'))), '1')
    for await (const _ of store.actorEntries(actor)) {} // keeps the actor whole
    fail = true
    await t.throwsAsync(commitWrites(store, [put('a', '2')]), { message: /disk full/ })
    fail = false
    t.is(text(await store.get(actor, b('a'))), '1', 'the failed height changed nothing')
    await commitWrites(store, [put('a', '3')])
    t.is(text(await store.get(actor, b('a'))), '3')
    // A replacing import swaps the whole state: nothing read before it may answer after it.
    const source = await open(t)
    for (let i = 1; i <= 3; i++) await commitWrites(source, [put(`k${i}`, `new-${i}`)])
    const manifest = await source.checkpoint()
    t.is(text(await store.get(actor, b('k1'))), 'old')
    await store.importCheckpoint(manifest, sourceOf(source, manifest), { replace: true })
    t.is(text(await store.get(actor, b('k1'))), 'new-1')
    t.is(await store.get(actor, b('a')), undefined)
    const whole: string[] = []
    for await (const e of store.actorEntries(actor)) whole.push(text(e.value)!)
    t.deepEqual(whole, ['new-1', 'new-2', 'new-3'])
  })
}
