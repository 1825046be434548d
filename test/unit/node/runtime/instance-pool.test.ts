// InstancePool and the executor's use of it: an instance reused from the pool behaves byte for byte
// like a fresh instantiation (receipts, writes, outbox), nothing one block leaves in wasm memory,
// globals or the JS engine's heap shows in the next (nor what a failed call left), and instances
// that cannot be reset exactly (grown memory, over the budget, unknown glue state, unexported
// state) are dropped.
// Builds one JS fixture (componentize-js output differs per build) into a temporary transpile cache.

import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import fc from 'fast-check'
import wabtInit from 'wabt'
import { silentLogger } from '../../../../node/core/logger.ts'
import { buildJsActor } from '../../../../node/runtime/builder.ts'
import { executeBlock, executeQuery, type ExecutionState } from '../../../../node/runtime/executor.ts'
import { checkGlueState, restore, takeSnapshot } from '../../../../node/runtime/instance-pool.ts'
import { instrumentCoreModule, stateMarkerExport } from '../../../../node/runtime/instrument.ts'
import { ActorLoader, cacheFormat, type CompiledActor } from '../../../../node/runtime/loader.ts'
import { MemoryState } from '../../../../node/runtime/state-view.ts'
import { actorIdOf, parseSubnetId, type ActorId } from '../../../../protocol/ids.ts'
import { encodeReceipt, type ActorMessage, type BlockOutcome } from '../../../../protocol/receipt.ts'
import { blockAt, exampleCode, loadCode, text, update, utf8 } from './_fixtures.ts'
import { buildSticky, stickyState } from './_sticky.ts'

const examplesCache = fileURLToPath(new URL('../../../../contracts/build/.transpiled/', import.meta.url))
const subnet = parseSubnetId('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
if (!subnet.ok) throw new Error(subnet.error)
const actor = (n: bigint): ActorId => actorIdOf(subnet.value, n)

/** The same actors loaded twice: through pooling loaders and through loaders that instantiate afresh every time. */
interface Fixtures {
  pooled: Record<string, CompiledActor>
  fresh: Record<string, CompiledActor>
  loaders: ActorLoader[]
  dir: string
}

let fixtures: Promise<Fixtures> | undefined

/** Loads once per file (the JS fixture build and transpile take tens of seconds); shared by the tests below. */
async function load (): Promise<Fixtures> {
  fixtures ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pylon-instance-pool-'))
    const loaders = [
      new ActorLoader({ cacheDir: examplesCache, logger: silentLogger }),
      new ActorLoader({ cacheDir: examplesCache, logger: silentLogger, instancePool: false }),
      new ActorLoader({ cacheDir: dir, logger: silentLogger }),
      new ActorLoader({ cacheDir: dir, logger: silentLogger, instancePool: false })
    ]
    const [examplesPooled, examplesFresh, ownPooled, ownFresh] = loaders as [ActorLoader, ActorLoader, ActorLoader, ActorLoader]
    const codes: Record<string, [Uint8Array, ActorLoader, ActorLoader]> = {
      counter: [await exampleCode('counter'), examplesPooled, examplesFresh],
      'counter-wat': [await exampleCode('counter-wat'), examplesPooled, examplesFresh],
      'sticky-wat': [await buildSticky(), ownPooled, ownFresh],
      'sticky-js': [await buildJsActor(fileURLToPath(new URL('./fixtures/sticky-actor.js', import.meta.url))), ownPooled, ownFresh]
    }
    const pooled: Record<string, CompiledActor> = {}
    const fresh: Record<string, CompiledActor> = {}
    for (const [name, [code, withPool, withoutPool]] of Object.entries(codes)) {
      pooled[name] = await loadCode(code, withPool)
      fresh[name] = await loadCode(code, withoutPool) // the same cache entry: transpiled once
    }
    return { pooled, fresh, loaders, dir }
  })()
  return await fixtures
}

test.after.always(async () => {
  if (fixtures === undefined) return
  const { loaders, dir } = await fixtures
  for (const loader of loaders) await loader.close()
  await rm(dir, { recursive: true, force: true })
})

// Actor ids 1–5: the JS counter, the WAT counter, two sticky WAT actors sharing one code (two
// instances of one pool in a block) and the sticky JS actor.
const cast: Array<[ActorId, string]> = [[actor(1n), 'counter'], [actor(2n), 'counter-wat'], [actor(3n), 'sticky-wat'], [actor(4n), 'sticky-wat'], [actor(5n), 'sticky-js']]

function stateOf (code: Record<string, CompiledActor>): ExecutionState & { storage: MemoryState } {
  const installed = new Map(cast.map(([id, name]) => [id, code[name]!]))
  return { storage: new MemoryState(), code: id => installed.get(id) }
}

/** What one actor may be sent: methods that succeed, fail, trap, run out of fuel and grow memory. */
const menu: Record<string, Array<Pick<ActorMessage, 'method' | 'fuelLimit'>>> = {
  counter: [{ method: 'inc' }, { method: 'inc' }, { method: 'dec' }, { method: 'inc', fuelLimit: 20_000n }],
  'counter-wat': [{ method: 'inc' }, { method: 'nope' }, { method: 'inc', fuelLimit: 30n }],
  'sticky-wat': [{ method: 'bump' }, { method: 'bump' }, { method: 'peek' }, { method: 'trap' }, { method: 'spin', fuelLimit: 10_000n }, { method: 'grow' }],
  'sticky-js': [{ method: 'bump' }, { method: 'bump' }, { method: 'peek' }, { method: 'trap' }, { method: 'spin', fuelLimit: 3_000_000n }, { method: 'big' }]
}

const messageArb = fc.constantFrom(...cast).chain(([id, name]) => fc.record({
  pick: fc.constantFrom(...menu[name]!),
  payload: fc.uint8Array({ maxLength: 8 })
}).map(({ pick, payload }): ActorMessage => ({ ...update(id, pick.method, payload), ...(pick.fuelLimit === undefined ? {} : { fuelLimit: pick.fuelLimit }) })))
const programArb = fc.array(fc.record({
  messages: fc.array(messageArb, { minLength: 1, maxLength: 8 }),
  queries: fc.array(fc.constantFrom(...cast.map(([id]) => id)), { maxLength: 2 })
}), { minLength: 2, maxLength: 4 })

/** Everything a block or query produced, as bytes: what replicas must agree on. */
function outcomeBytes (outcome: BlockOutcome): string[] {
  return [
    ...outcome.receipts.map(r => Buffer.from(encodeReceipt(r)).toString('hex')),
    ...outcome.writes.map(w => `${w.actor}/${Buffer.from(w.key).toString('hex')}=${w.value === null ? 'deleted' : Buffer.from(w.value).toString('hex')}`),
    ...outcome.outbox.map(o => `${o.from}>${o.to}:${o.method}:${Buffer.from(o.payload).toString('hex')}`),
    `fuel ${outcome.fuelUsed}`
  ]
}

function run (state: ExecutionState & { storage: MemoryState }, program: Array<{ messages: ActorMessage[], queries: ActorId[] }>, from: number): string[][] {
  return program.map(({ messages, queries }, i) => {
    const outcome = executeBlock(state, messages, blockAt(from + i))
    state.storage.apply(outcome.writes)
    const answers = queries.map(id => Buffer.from(encodeReceipt(executeQuery(state, { actor: id, caller: 'q', method: 'get', payload: new Uint8Array(0) }, blockAt(from + i)))).toString('hex'))
    return [...outcomeBytes(outcome), ...answers]
  })
}

const reusedIn = (code: Record<string, CompiledActor>): number => Object.values(code).reduce((sum, c) => sum + c.pool.stats.reused, 0)

test('random blocks through reset pooled instances give byte-identical receipts, writes and outbox to fresh instances', async t => {
  t.timeout(240_000)
  const { pooled, fresh } = await load()
  const reusedBefore = reusedIn(pooled)
  let height = 1
  await fc.assert(fc.property(programArb, program => {
    const pooledState = stateOf(pooled)
    const freshState = stateOf(fresh)
    const expected = run(freshState, program, height)
    const actual = run(pooledState, program, height)
    height += program.length
    // fast-check shrinks on a false, printing its seed and the smallest failing program.
    return JSON.stringify(actual) === JSON.stringify(expected)
  }), { numRuns: 12 })
  t.true(reusedIn(pooled) - reusedBefore > 20, `the pooled path reused instances (${reusedIn(pooled) - reusedBefore} times)`)
  t.is(reusedIn(fresh), 0, 'the fresh path never reuses one')
  for (const name of ['counter', 'counter-wat', 'sticky-wat', 'sticky-js']) t.true(pooled[name]!.pool.stats.reused > 0, `${name} was reused`)
})

test('state a block leaves in wasm globals, memory and the JS heap is not visible in the next block', async t => {
  t.timeout(240_000)
  const { pooled } = await load()
  const state = stateOf(pooled)
  const wat = actor(3n)
  const js = actor(5n)
  const first = executeBlock(state, [update(wat, 'bump'), update(wat, 'bump'), update(js, 'bump'), update(js, 'bump', text('x'))], blockAt(1))
  t.deepEqual(first.receipts.map(r => r.error), [null, null, null, null])
  t.deepEqual(stickyState(first.receipts[1]!.result), [2, 2], 'within a block the instance keeps its state')
  t.is(utf8(first.receipts[3]!.result), '2:2')
  const reused = { wat: pooled['sticky-wat']!.pool.stats.reused, js: pooled['sticky-js']!.pool.stats.reused }
  const second = executeBlock(state, [update(wat, 'bump'), update(js, 'bump')], blockAt(2))
  t.deepEqual(stickyState(second.receipts[0]!.result), [1, 1], 'the next block starts from the initial global and memory')
  t.is(utf8(second.receipts[1]!.result), '1:1', 'and from the initial JS heap')
  t.is(pooled['sticky-wat']!.pool.stats.reused, reused.wat + 1, 'on a reused instance')
  t.is(pooled['sticky-js']!.pool.stats.reused, reused.js + 1, 'on a reused instance')
  t.is(utf8(executeQuery(state, { actor: js, caller: 'q', method: 'peek', payload: new Uint8Array(0) }, blockAt(2)).result), '0:0', 'a query too')
})

test('a failed call\'s instance is reset and reused as fresh; one whose memory grew is dropped', async t => {
  t.timeout(240_000)
  const { pooled } = await load()
  const state = stateOf(pooled)
  const { stats } = pooled['sticky-wat']!.pool
  executeBlock(state, [update(actor(3n), 'peek')], blockAt(1)) // leaves one idle instance
  const { dropped, reused, fresh } = stats
  const outcome = executeBlock(state, [update(actor(3n), 'bump'), update(actor(3n), 'trap'), update(actor(3n), 'bump'), update(actor(3n), 'grow')], blockAt(2))
  // The second bump sees the fresh state (the first bump's memory is gone with the trap), as a fresh instance would.
  t.deepEqual(outcome.receipts.map(r => r.ok ? stickyState(r.result) : r.error), [[1, 1], 'trap: unreachable', [1, 1], [2, 2]])
  t.is(stats.dropped, dropped + 1, 'only the grown instance')
  t.is(stats.reused, reused + 2, 'the idle instance, then the trapped one, reset')
  t.is(stats.fresh, fresh, 'no instantiation')
  const after = executeBlock(state, [update(actor(3n), 'bump')], blockAt(3))
  t.deepEqual(stickyState(after.receipts[0]!.result), [1, 1])
})

test('the pool keeps nothing past its byte budget, and the results stay the same', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-instance-pool-budget-'))
  const small = new ActorLoader({ cacheDir: dir, logger: silentLogger, instancePoolBytesMax: 64 * 1024 })
  t.teardown(async () => {
    await small.close()
    await rm(dir, { recursive: true, force: true })
  })
  const code = await loadCode(await buildSticky(), small)
  const installed = { storage: new MemoryState(), code: () => code }
  for (let h = 1; h <= 3; h++) {
    const outcome = executeBlock(installed, [update(actor(3n), 'bump')], blockAt(h))
    t.deepEqual(stickyState(outcome.receipts[0]!.result), [1, 1])
  }
  t.is(code.pool.stats.reused, 0, 'one page of memory kept twice (128 KiB) is over a 64 KiB budget')
  t.is(small.pooledBytes, 0)
})

test('checkGlueState accepts the glue jco emits for the example actors and refuses any other closure state', async t => {
  const format = join(examplesCache, `${cacheFormat}-p512`)
  const glues = await Promise.all((await readdir(format)).filter(cid => !cid.includes('.tmp-')).map(async cid => await readFile(join(format, cid, 'actor.mjs'), 'utf8').catch(() => '')))
  const real = glues.filter(glue => glue !== '')
  t.true(real.length >= 2)
  for (const glue of real) t.deepEqual(checkGlueState(glue), { ok: true, value: undefined })
  const glue = real[0]!
  const marker = '  let dv = '
  t.true(glue.includes(marker))
  t.deepEqual(checkGlueState(glue.replace(marker, '  const handleTable = new Map();\n' + marker)), { ok: false, error: 'the glue declares const handleTable, which may keep state between calls' })
  t.deepEqual(checkGlueState(glue.replace(marker, '    let resourceCount = 0;\n' + marker)), { ok: false, error: 'the glue declares let resourceCount, which may keep state between calls' })
  t.deepEqual(checkGlueState(glue.replace(marker, '  const m = new WebAssembly.Memory({ initial: 1 });\n' + marker)), { ok: false, error: 'the glue creates wasm memories, tables or globals itself' })
})

test('instrumentCoreModule exports every memory, table and mutable global with the marker, and no marker when a reset could not be exact', async t => {
  const wabt = await wabtInit()
  const wasm = (wat: string): Uint8Array => wabt.parseWat('t.wat', wat, { bulk_memory: true, reference_types: true, simd: true }).toBinary({}).buffer
  const names = (bytes: Uint8Array): string[] => WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map(e => e.name)
  const full = instrumentCoreModule(wasm('(module (memory 1) (table 2 funcref) (global (mut i32) (i32.const 5)) (global (mut i64) (i64.const 1)) (global i32 (i32.const 1)) (func (export "f")))'))
  if (!full.ok) return t.fail(full.error)
  t.deepEqual(names(full.value).sort(), ['f', 'pylon$state', 'pylon$state$global$0', 'pylon$state$global$1', 'pylon$state$memory$0', 'pylon$state$table$0'])
  const noFunctions = instrumentCoreModule(wasm('(module (table 1 funcref))'))
  if (!noFunctions.ok) return t.fail(noFunctions.error)
  t.deepEqual(names(noFunctions.value).sort(), ['pylon$state', 'pylon$state$table$0'])
  const refused = {
    'memory.init': '(module (memory 1) (data "x") (func (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 1))))',
    'table.set': '(module (table 1 funcref) (func $f (table.set (i32.const 0) (ref.func $f))) (elem declare func $f))',
    'table.grow': '(module (table 1 funcref) (func (drop (table.grow (ref.null func) (i32.const 1)))))',
    'v128 global': '(module (global (mut v128) (v128.const i32x4 0 0 0 0)) (func))'
  }
  for (const [what, wat] of Object.entries(refused)) {
    const out = instrumentCoreModule(wasm(wat))
    if (!out.ok) { t.fail(`${what}: ${out.error}`); continue }
    t.false(Buffer.from(out.value).includes(Buffer.from(stateMarkerExport)), `${what}: no marker`)
  }
})

test('takeSnapshot refuses unexported state and NaN globals; restore refuses a grown memory', async t => {
  const wabt = await wabtInit()
  const instance = (wat: string, instrument = true): WebAssembly.Instance => {
    const raw = wabt.parseWat('t.wat', wat).toBinary({}).buffer
    const bytes = instrument ? instrumentCoreModule(raw) : { ok: true as const, value: raw }
    if (!bytes.ok) throw new Error(bytes.error)
    return new WebAssembly.Instance(new WebAssembly.Module(bytes.value), { 'pylon:fuel': { remaining: new WebAssembly.Global({ value: 'i64', mutable: true }, 1000n) } })
  }
  t.deepEqual(takeSnapshot([instance('(module (memory 1))', false)]), { ok: false, error: 'core instance 0 does not export all its state' })
  const nan = takeSnapshot([instance('(module (global (mut f64) (f64.const nan)) (func))')])
  t.deepEqual(nan, { ok: false, error: 'core instance 0: global pylon$state$global$0 holds a NaN' })
  const grown = instance('(module (memory 1) (global $g (mut i32) (i32.const 7)) (func (export "set") (global.set $g (i32.const 9)) (i32.store (i32.const 8) (i32.const 9))) (func (export "grow") (drop (memory.grow (i32.const 1)))))')
  const snapshot = takeSnapshot([grown])
  if (!snapshot.ok) return t.fail(snapshot.error)
  ;(grown.exports.set as () => void)()
  t.true(restore(snapshot.value))
  t.is((grown.exports['pylon$state$global$0'] as WebAssembly.Global).value, 7)
  t.is(new DataView((grown.exports['pylon$state$memory$0'] as WebAssembly.Memory).buffer).getInt32(8, true), 0)
  ;(grown.exports.grow as () => void)()
  t.false(restore(snapshot.value))
})
