// Turns component bytes into a CompiledActor: checks its size, has a transpile worker check its
// imports, transpile it with jco (instantiation mode, our imports only), instrument every core
// module for fuel and memory limits and cache the result on disk under the code's CID, then
// compiles it asynchronously, with a pool of reset instances per compiled actor (instance-pool.ts,
// bounded per loader). It never runs actor code, never transpiles or instruments on the
// calling thread (that blocked the daemon's event loop for tens of seconds), and it refuses
// (Result) any component that imports something outside the Pylon world.
//
// Allowed imports, exactly: pylon:actor/storage@0.1.0, pylon:actor/context@0.1.0 and
// pylon:actor/outbox@0.1.0, and within them only the functions contracts/wit/actor.wit defines.
// Nothing else: no WASI (clocks, random, filesystem, sockets, cli, io), no world-level function
// imports. JS actors built by `pylon build` (componentize-js with every WASI feature disabled:
// stdio, random, clocks, http, fetch-event) import only these, so no WASI shim is needed at all,
// deterministic or otherwise; a JS actor built with any WASI feature left on is refused.
// (With those features off, StarlingMonkey's Date.now() is frozen at build time and Math.random()
// is a fixed-seed generator: deterministic, but actors should use context.now/random.)
//
// jco version, chosen by benchmark (`npm run bench -- runtime`, Node 24, x64, 2 shared cores):
//   add(u32,u32) raw wasm 4.1 ns; jco 1.10.2 glue 10.6–14.6 ns (2.5–3.5× raw);
//   jco 1.35.0 glue 2,870–3,760 ns (690–910× raw: every call goes through async-task bookkeeping).
// So jco is pinned at 1.10.2 (exact version in package.json); 1.35.0 is installed only as the
// devDependency `jco-latest` for that comparison. jco 1.10.2 transpiles componentize-js 0.23
// output correctly (the example actors are built that way and tested). Transpile options:
// instantiation 'sync' (instances are created inside the synchronous executor), no WASI shim map.

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { rawCidOf } from '../../protocol/codec.ts'
import { actorCodeBytesMax, actorCompiledCacheEntriesMax, actorMemoryPagesMax, actorStackBudget, actorStackHostCallWeight } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import type { Logger } from '../core/logger.ts'
import { ActorTrap } from './actor-trap.ts'
import { createHostImports } from './host.ts'
import { checkGlueState, InstancePool, newPoolBudget, type InstanceBinding, type PoolBudget } from './instance-pool.ts'
import { fuelImportModule, fuelImportName } from './instrument.ts'
import { stackBudgetExhausted, stackImportModule, stackImportName } from './_stack.ts'
import { readManifest, type Manifest } from './transpile-to-cache.ts'
import { TranspilePool, type TranspilePoolInit } from './transpile-pool.ts'

export { allowedImports, checkWorld } from './world-check.ts'

/** Bumped whenever admission checks, instrumentation or transpile options change, so stale caches are not reused. */
export const cacheFormat = 'v9'

/** The host side of the three interfaces, as jco's glue expects them (camelCase names). */
export interface HostImports {
  'pylon:actor/storage': {
    get (key: Uint8Array): Uint8Array | undefined
    set (key: Uint8Array, value: Uint8Array): void
    delete (key: Uint8Array): void
    range (start: Uint8Array, end: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]>
  }
  'pylon:actor/context': {
    selfId (): string
    caller (): string
    now (): bigint
    random (len: number): Uint8Array
    log (line: string): void
  }
  'pylon:actor/outbox': {
    send (to: string, method: string, payload: Uint8Array): void
    schedule (atNs: bigint, method: string, payload: Uint8Array): void
  }
}

/** An instance's exports. An actor's `err` arrives as a thrown Error (jco's ComponentError). */
export interface ActorInstance {
  init (arg: Uint8Array): void
  update (method: string, payload: Uint8Array): Uint8Array
  query (method: string, payload: Uint8Array): Uint8Array
}

/** Loaded, instrumented and compiled code: instantiating it is synchronous and cheap. */
export interface CompiledActor {
  /** Raw CID string of the component bytes. */
  readonly cid: string
  /** Size of the component in bytes. */
  readonly codeBytes: number
  /**
   * A fresh instance. `fuel` is the shared fuel global (i64) and `stack` the shared stack-weight
   * global (mutable i32, see _stack.ts); set both before every call into the instance, and before
   * instantiating (instantiation itself runs start code). Throws a WebAssembly.RuntimeError if
   * instantiation traps. `stack` defaults to a fresh global at 0 (benchmarks only: nothing resets it).
   */
  instantiate (imports: HostImports, fuel: WebAssembly.Global, stack?: WebAssembly.Global): ActorInstance
  /**
   * Instances equivalent to fresh ones, reset on release instead of instantiated afresh where the
   * reset is exact (instance-pool.ts). The executor takes every instance from here.
   */
  readonly pool: InstancePool
}

type Instantiate = (getCoreModule: (name: string) => WebAssembly.Module, imports: unknown,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance) => ActorInstance

export interface ActorLoaderInit {
  /** Where transpiled, instrumented output is cached, one folder per code CID. */
  cacheDir: string
  logger: Logger
  /** @default actorMemoryPagesMax — smaller only in tests of the memory cap. */
  memoryPagesMax?: number
  /** @default true — false only for the benchmark's unmetered baseline. */
  meter?: boolean
  /** Bounds of the loader's transpile workers. @default the actorTranspile* limits — others only in tests. */
  transpile?: TranspilePoolInit
  /** @default true — false (every instance fresh) only to compare against in tests and benchmarks. */
  instancePool?: boolean
  /** @default actorInstancePoolBytesMax — smaller only in tests of the bound. */
  instancePoolBytesMax?: number
}

/** Numbers each job's temporary folder, unique in this process even across loaders sharing a cache dir. */
let transpileJobs = 0

export class ActorLoader {
  readonly #init: ActorLoaderInit
  readonly #compiled = new BoundedMap<string, Promise<Result<CompiledActor>>>(actorCompiledCacheEntriesMax)
  /** One pool per loader, and one loader per daemon: the worker bound holds per node. */
  readonly #pool: TranspilePool
  /** Memory the instance pools of this loader's actors keep alive, bounded across all of them. */
  readonly #budget: PoolBudget

  constructor (init: ActorLoaderInit) {
    this.#init = init
    this.#pool = new TranspilePool(init.transpile)
    this.#budget = newPoolBudget(init.instancePoolBytesMax)
  }

  /** Bytes this loader's instance pools keep alive now (at most actorInstancePoolBytesMax). */
  get pooledBytes (): number { return this.#budget.bytesHeld }

  /**
   * Loads code (validating it on first sight). Concurrent loads of one CID share the work.
   * Resolves to a refusal (a function of the bytes alone) or the compiled actor; throws a
   * PylonError (with a stable `code`) when transpiling fails otherwise (worker crash, heap or
   * time bound, full queue, closed loader, an exception such as an I/O error): not a verdict on
   * the code, so nothing is cached and a later load tries again.
   */
  async load (code: Uint8Array): Promise<Result<CompiledActor>> {
    if (!(code instanceof Uint8Array)) return err('code must be bytes')
    if (code.length > actorCodeBytesMax) return err(`component too large: ${code.length} > ${actorCodeBytesMax} bytes`)
    const cid = rawCidOf(code).toString()
    const cached = this.#compiled.get(cid)
    if (cached !== undefined) return await cached
    const loading = this.#load(cid, code)
    const evicted = this.#compiled.set(cid, loading)
    // An evicted actor's pooled instances are let go (its users may keep it, but unpooled).
    if (evicted !== undefined) void evicted[1].then(result => { if (result.ok) result.value.pool.close() }, () => {})
    // Neither a refusal (cheap to recompute) nor a failure (maybe transient) is pinned.
    const forget = (): void => { if (this.#compiled.get(cid) === loading) this.#compiled.delete(cid) }
    try {
      const result = await loading
      if (!result.ok) forget()
      return result
    } catch (error) {
      forget()
      this.#init.logger.warn('actor transpile failed', { cid, codeBytes: code.length, code: (error as { code?: string }).code, error: (error as Error).message })
      throw error
    }
  }

  /**
   * The load of code `cid` (a raw CID string) this loader already holds, done or under way, or
   * undefined: a caller that knows the CID skips reading and hashing the bytes again (sha2-256 of
   * an 11.5 MB component costs tens of ms, and a subnet loads its actors' code every block).
   */
  cached (cid: string): Promise<Result<CompiledActor>> | undefined {
    return this.#compiled.get(cid)
  }

  /** Stops running transpile workers; loads waiting on them, and later first loads, throw. */
  async close (): Promise<void> {
    for (const loading of this.#compiled.values()) void loading.then(result => { if (result.ok) result.value.pool.close() }, () => {})
    await this.#pool.close()
  }

  get #dir (): string {
    const pages = this.#init.memoryPagesMax ?? actorMemoryPagesMax
    return join(this.#init.cacheDir, `${cacheFormat}-p${pages}${this.#init.meter === false ? '-unmetered' : ''}`)
  }

  async #load (cid: string, code: Uint8Array): Promise<Result<CompiledActor>> {
    const folder = join(this.#dir, cid)
    let manifest = await readManifest(folder)
    if (manifest === undefined) {
      const tmp = `${folder}.tmp-${process.pid}-${++transpileJobs}`
      const built = await this.#pool.run({ code, cid, folder, tmp, memoryPagesMax: this.#init.memoryPagesMax, meter: this.#init.meter })
      if (!built.ok) return built
      manifest = built.value
      this.#init.logger.info('actor transpiled', { cid, codeBytes: code.length, coreModules: manifest.coreModules.length })
    }
    const modules = new Map<string, WebAssembly.Module>()
    try {
      // WebAssembly.compile, not new WebAssembly.Module: V8 validates and compiles a 12 MB
      // module on background threads instead of blocking this one.
      for (const name of manifest.coreModules) modules.set(name, await WebAssembly.compile(await readFile(join(folder, name))))
    } catch (error) {
      return err(`instrumented module does not compile: ${(error as Error).message}`)
    }
    const url = pathToFileURL(join(folder, 'actor.mjs'))
    const glue = await import(url.href) as { instantiate: Instantiate }
    const glueState = checkGlueState(await readFile(url, 'utf8'))
    const unresettable = this.#init.instancePool === false ? 'the loader pools no instances' : glueState.ok ? undefined : glueState.error
    return ok(compiledActor(manifest, modules, glue.instantiate, { unresettable, budget: this.#budget }))
  }
}

function compiledActor (manifest: Manifest, modules: Map<string, WebAssembly.Module>, instantiate: Instantiate,
  pooling: { unresettable: string | undefined, budget: PoolBudget }): CompiledActor {
  const create = (imports: HostImports, fuel: WebAssembly.Global, stack: WebAssembly.Global, cores?: WebAssembly.Instance[]): ActorInstance => {
    const ours = { [fuelImportModule]: { [fuelImportName]: fuel }, [stackImportModule]: { [stackImportName]: stack } }
    // Functions the component's own core instances export: wasm, counted by their own entry checks.
    const wasmFunctions = new WeakSet<object>()
    return instantiate(
      name => modules.get(name) ?? assertNever(name),
      imports,
      (module, importObject = {}) => {
        const instance = new WebAssembly.Instance(module, { ...weighHostCalls(importObject, stack, wasmFunctions), ...ours })
        for (const value of Object.values(instance.exports)) if (typeof value === 'function') wasmFunctions.add(value)
        cores?.push(instance)
        return instance
      }
    )
  }
  return {
    cid: manifest.cid,
    codeBytes: manifest.codeBytes,
    instantiate: (imports, fuel, stack = new WebAssembly.Global({ value: 'i32', mutable: true }, 0)) => create(imports, fuel, stack),
    pool: new InstancePool((binding: InstanceBinding, cores) => create(createHostImports(binding.slot), binding.fuel, binding.stack, cores), pooling)
  }
}

/**
 * The import object with every JS function (jco's glue and the host behind it) wrapped to hold
 * actorStackHostCallWeight on the stack global while it runs. Without it, wasm calling the host
 * whose glue calls back into wasm (cabi_realloc), repeatedly, would pile up JS frames the budget
 * never counted. Functions of the component's own core instances stay as they are (they count
 * themselves, and a JS wrapper could not pass v128 values).
 */
function weighHostCalls (importObject: WebAssembly.Imports, stack: WebAssembly.Global, wasmFunctions: WeakSet<object>): WebAssembly.Imports {
  const out: WebAssembly.Imports = {}
  for (const [moduleName, fields] of Object.entries(importObject)) {
    const wrapped: Record<string, WebAssembly.ImportValue> = {}
    for (const [name, value] of Object.entries(fields)) {
      wrapped[name] = typeof value === 'function' && !wasmFunctions.has(value) ? weighed(value as (...args: unknown[]) => unknown, stack) : value
    }
    out[moduleName] = wrapped
  }
  return out
}

function weighed (host: (...args: unknown[]) => unknown, stack: WebAssembly.Global): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]): unknown {
    const used = stack.value as number
    if (used > actorStackBudget - actorStackHostCallWeight) {
      stack.value = -1
      throw new ActorTrap(stackBudgetExhausted)
    }
    stack.value = used + actorStackHostCallWeight
    const result = host.apply(this, args)
    // Given back on return only: a throw fails the whole message (wasm cannot catch it, the
    // instrumenter refuses exception handling, and no import of the Pylon world returns a
    // result<> the glue would catch into), and a budget trap deeper down must leave its -1.
    stack.value = used
    return result
  }
}

function assertNever (name: string): never {
  throw new Error(`transpiled glue asked for an unknown core module ${name}`)
}
