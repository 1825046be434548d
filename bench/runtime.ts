// `npm run bench -- runtime`: the actor runtime's costs, measured side by side in one run:
//  1. a component call through jco 1.10.2's glue and through jco 1.35.0's, against a raw wasm call
//     of the same function (goal: ≤ 3× raw) — the figure that pins the jco version;
//  2. a compute loop fuel-metered against the same loop unmetered (goal: ≤ 1.3×);
//  3. per-instance cost of the WAT and JS counters: a fresh instantiation vs a pooled instance reset
//     to its initial state (instance-pool.ts), side by side;
//  4. per-block cost of counter `inc` blocks of 1, 26 and 100 messages, fresh vs pooled instances.
// Needs `npm run build:contracts` (for the counters). Prints figures; asserts nothing.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as jcoPinned from '@bytecodealliance/jco'
import wabtInit from 'wabt'
import { silentLogger } from '../node/core/logger.ts'
import { buildWatActor } from '../node/runtime/builder.ts'
import { executeBlock } from '../node/runtime/executor.ts'
import { instrumentCoreModule } from '../node/runtime/instrument.ts'
import { ActorLoader, type CompiledActor } from '../node/runtime/loader.ts'
import { MemoryState } from '../node/runtime/state-view.ts'
import { actorIdOf, height, type SubnetId } from '../protocol/ids.ts'
import type { ActorMessage } from '../protocol/receipt.ts'

const addWat = `(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`
const addWorld = 'package bench:add;\nworld adder { export add: func(a: u32, b: u32) -> u32; }'

// xorshift32 rounds plus a running sum: a tight loop, the worst case for per-iteration fuel checks.
const computeWat = `(module
  (func (export "work") (param $n i32) (result i32) (local $x i32) (local $acc i32)
    (local.set $x (i32.const 2463534242))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (local.set $acc (i32.add (local.get $acc) (local.get $x)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $acc)))`

/** Median nanoseconds per operation over `rounds` timed runs of `ops` operations, after a warm-up. */
function nsPerOp (ops: number, run: (ops: number) => void, rounds = 7): number {
  run(ops) // warm-up: let V8 tier up
  const samples: number[] = []
  for (let r = 0; r < rounds; r++) {
    const started = process.hrtime.bigint()
    run(ops)
    samples.push(Number(process.hrtime.bigint() - started) / ops)
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!
}

type AddFn = (a: number, b: number) => number

async function componentAdd (jco: { transpile: (c: Uint8Array, o: object) => Promise<{ files: Record<string, Uint8Array> }> }, component: Uint8Array, dir: string): Promise<AddFn> {
  const { files } = await jco.transpile(component, { name: 'adder', instantiation: 'sync', noTypescript: true })
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'adder.mjs'), files['adder.js']!)
  const glue = await import(pathToFileURL(join(dir, 'adder.mjs')).href) as { instantiate: (get: (n: string) => WebAssembly.Module, imports: object) => { add: AddFn } }
  return glue.instantiate(name => new WebAssembly.Module(files[name]!), {}).add
}

async function callCosts (work: string): Promise<string[]> {
  const wabt = await wabtInit()
  const core = wabt.parseWat('add.wat', addWat).toBinary({}).buffer
  const raw = new WebAssembly.Instance(new WebAssembly.Module(core)).exports.add as AddFn
  const component = await buildWatActor(addWat, { witSource: addWorld, world: 'adder' })
  const pinned = await componentAdd(jcoPinned as never, component, join(work, 'pinned'))
  let latest: AddFn | undefined
  let latestVersion = 'not installed'
  try {
    const jcoLatest = await import('jco-latest' as string) as never
    latest = await componentAdd(jcoLatest, component, join(work, 'latest'))
    latestVersion = (JSON.parse(await readFile(new URL('../node_modules/jco-latest/package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch (error) {
    latestVersion = `unavailable (${(error as Error).message.split('\n')[0]})`
  }
  const loop = (f: AddFn) => (n: number): void => {
    let acc = 0
    for (let i = 0; i < n; i++) acc = f(acc, i) >>> 0
    if (acc === 0.5) throw new Error('unreachable')
  }
  const rawNs = nsPerOp(2_000_000, loop(raw))
  const pinnedNs = nsPerOp(2_000_000, loop(pinned))
  const lines = [
    '1. call add(u32, u32): component glue vs raw wasm (goal ≤ 3×)',
    `   raw wasm call                 ${rawNs.toFixed(1).padStart(8)} ns`,
    `   jco 1.10.2 glue (pinned)      ${pinnedNs.toFixed(1).padStart(8)} ns   ${(pinnedNs / rawNs).toFixed(1)}× raw`
  ]
  if (latest !== undefined) {
    const latestNs = nsPerOp(200_000, loop(latest))
    lines.push(`   ${`jco ${latestVersion} glue`.padEnd(30)}${latestNs.toFixed(1).padStart(8)} ns   ${(latestNs / rawNs).toFixed(1)}× raw`)
  } else {
    lines.push(`   jco latest: ${latestVersion}`)
  }
  return lines
}

async function meteringCost (): Promise<string[]> {
  const wabt = await wabtInit()
  const core = wabt.parseWat('compute.wat', computeWat).toBinary({}).buffer
  const metered = instrumentCoreModule(core)
  if (!metered.ok) throw new Error(metered.error)
  const fuel = new WebAssembly.Global({ value: 'i64', mutable: true }, 0n)
  const plain = new WebAssembly.Instance(new WebAssembly.Module(core)).exports.work as (n: number) => number
  const fueled = new WebAssembly.Instance(new WebAssembly.Module(metered.value), { 'pylon:fuel': { remaining: fuel } }).exports.work as (n: number) => number
  const iterations = 20_000_000
  const plainNs = nsPerOp(1, () => { plain(iterations) }, 5)
  const fueledNs = nsPerOp(1, () => { fuel.value = 1_000_000_000_000n; fueled(iterations) }, 5)
  return [
    '2. compute loop (xorshift, 2×10^7 iterations): metered vs unmetered (goal ≤ 1.3×)',
    `   unmetered   ${(plainNs / 1e6).toFixed(1).padStart(8)} ms   ${(plainNs / iterations).toFixed(2)} ns/iteration`,
    `   metered     ${(fueledNs / 1e6).toFixed(1).padStart(8)} ms   ${(fueledNs / iterations).toFixed(2)} ns/iteration   ${(fueledNs / plainNs).toFixed(2)}×`
  ]
}

/** Per-instance cost: a fresh instantiation against taking a pooled instance and resetting it on release. */
function instantiations (fresh: Record<string, CompiledActor>, pooled: Record<string, CompiledActor>): string[] {
  const lines = [
    '3. per-instance cost: fresh instantiation vs pooled instance reset to its initial state',
    `   ${'actor'.padEnd(12)} ${'fresh'.padStart(12)} ${'pooled'.padStart(12)}   ratio   memory reset per instance`
  ]
  for (const name of Object.keys(fresh)) {
    const count = name.includes('wat') ? 20_000 : 100
    const cost = (code: CompiledActor): number => nsPerOp(count, n => {
      for (let i = 0; i < n; i++) {
        const acquired = code.pool.acquire()
        if (!acquired.ok) throw new Error(String(acquired.error))
        code.pool.release(acquired.lease, true)
      }
    }, 3)
    const freshNs = cost(fresh[name]!)
    const pooledNs = cost(pooled[name]!)
    const memory = `${(pooled[name]!.pool.stats.resetBytes / MiB).toFixed(2)} MiB`
    lines.push(`   ${name.padEnd(12)} ${`${(freshNs / 1e3).toFixed(1)} µs`.padStart(12)} ${`${(pooledNs / 1e3).toFixed(1)} µs`.padStart(12)}   ${(freshNs / pooledNs).toFixed(1).padStart(5)}×   ${memory}`)
  }
  return lines
}

const MiB = 1024 * 1024

/**
 * Per-block cost with one instance per block: blocks of 1, 26 (what 64 closed-loop clients made in
 * `bench consensus`) and 100 counter `inc` messages, fresh instances against pooled ones.
 */
function perBlock (fresh: Record<string, CompiledActor>, pooled: Record<string, CompiledActor>): string[] {
  const lines = [
    '4. counter `inc` blocks: one instance per block, fresh vs pooled',
    `   ${'actor'.padEnd(12)} ${'msgs/block'.padStart(10)} ${'fresh ms/block'.padStart(15)} ${'pooled ms/block'.padStart(16)}   ratio ${'fresh msgs/s'.padStart(13)} ${'pooled msgs/s'.padStart(14)}`
  ]
  const subnet = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' as SubnetId
  const actor = actorIdOf(subnet, 1n)
  for (const name of Object.keys(fresh)) {
    for (const size of [1, 26, 100]) {
      const messages: ActorMessage[] = Array.from({ length: size }, () => ({ kind: 'update', actor, caller: 'bench', method: 'inc', payload: new Uint8Array(0), requestId: null }))
      const blocks = name.includes('wat') ? 400 : 30
      const cost = (code: CompiledActor): number => {
        const storage = new MemoryState()
        const state = { storage, code: () => code }
        let h = 0
        return nsPerOp(blocks, n => {
          for (let i = 0; i < n; i++) {
            const outcome = executeBlock(state, messages, { height: height(++h), timeNs: BigInt(h), seed: new Uint8Array(32) })
            storage.apply(outcome.writes)
          }
        }, 3)
      }
      const freshNs = cost(fresh[name]!)
      const pooledNs = cost(pooled[name]!)
      lines.push(`   ${name.padEnd(12)} ${String(size).padStart(10)} ${(freshNs / 1e6).toFixed(3).padStart(15)} ${(pooledNs / 1e6).toFixed(3).padStart(16)}   ${(freshNs / pooledNs).toFixed(1).padStart(4)}× ${Math.round(size * 1e9 / freshNs).toString().padStart(13)} ${Math.round(size * 1e9 / pooledNs).toString().padStart(14)}`)
    }
  }
  return lines
}

export default async function runtimeBench (_args: string[]): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'pylon-bench-runtime-'))
  try {
    const cacheDir = new URL('../contracts/build/.transpiled', import.meta.url).pathname
    // Two loaders over one cache: one pools instances, the other instantiates afresh every time.
    const pooledLoader = new ActorLoader({ cacheDir, logger: silentLogger })
    const freshLoader = new ActorLoader({ cacheDir, logger: silentLogger, instancePool: false })
    const pooled: Record<string, CompiledActor> = {}
    const fresh: Record<string, CompiledActor> = {}
    for (const name of ['counter-wat', 'counter']) {
      const code = await readFile(new URL(`../contracts/build/${name}.wasm`, import.meta.url)).catch(() => {
        throw new Error(`contracts/build/${name}.wasm missing: run npm run build:contracts`)
      })
      for (const [loader, into] of [[pooledLoader, pooled], [freshLoader, fresh]] as const) {
        const loaded = await loader.load(new Uint8Array(code))
        if (!loaded.ok) throw new Error(loaded.error)
        into[name] = loaded.value
      }
    }
    const out = (lines: string[]): void => { process.stdout.write(lines.join('\n') + '\n\n') }
    process.stdout.write(`runtime bench — node ${process.version}, ${process.arch}\n\n`)
    out(await callCosts(work))
    out(await meteringCost())
    out(instantiations(fresh, pooled))
    out(perBlock(fresh, pooled))
    await pooledLoader.close()
    await freshLoader.close()
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
