// Turns component bytes into a CompiledActor: checks size and imports, transpiles with jco
// (instantiation mode, our imports only), instruments every core module for fuel and memory
// limits, caches the result on disk under the code's CID, and compiles it. It never runs actor
// code, and it refuses (Result) any component that imports something outside the Pylon world.
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

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { componentWit, transpile } from '@bytecodealliance/jco'
import { rawCidOf } from '../../protocol/codec.ts'
import { actorCodeBytesMax, actorCompiledCacheEntriesMax, actorCoreModuleBytesMax, actorMemoryPagesMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import type { Logger } from '../core/logger.ts'
import { fuelImportModule, fuelImportName, instrumentCoreModule } from './instrument.ts'

/** The interfaces an actor may import, and the functions of each (from contracts/wit/actor.wit). */
export const allowedImports: Readonly<Record<string, readonly string[]>> = {
  'pylon:actor/storage@0.1.0': ['get', 'set', 'delete', 'range'],
  'pylon:actor/context@0.1.0': ['self-id', 'caller', 'now', 'random', 'log'],
  'pylon:actor/outbox@0.1.0': ['send', 'schedule']
}

/** Bumped whenever admission checks, instrumentation or transpile options change, so stale caches are not reused. */
export const cacheFormat = 'v3'

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
   * A fresh instance. `fuel` is the shared fuel global; set it before calling (instantiation
   * itself runs start code). Throws a WebAssembly.RuntimeError if instantiation traps.
   */
  instantiate (imports: HostImports, fuel: WebAssembly.Global): ActorInstance
}

type Instantiate = (getCoreModule: (name: string) => WebAssembly.Module, imports: unknown,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance) => ActorInstance

interface Manifest {
  cid: string
  codeBytes: number
  coreModules: string[]
}

export interface ActorLoaderInit {
  /** Where transpiled, instrumented output is cached, one folder per code CID. */
  cacheDir: string
  logger: Logger
  /** @default actorMemoryPagesMax — smaller only in tests of the memory cap. */
  memoryPagesMax?: number
  /** @default true — false only for the benchmark's unmetered baseline. */
  meter?: boolean
}

export class ActorLoader {
  readonly #init: ActorLoaderInit
  readonly #compiled = new BoundedMap<string, Promise<Result<CompiledActor>>>(actorCompiledCacheEntriesMax)

  constructor (init: ActorLoaderInit) {
    this.#init = init
  }

  /** Loads code (validating it on first sight). Concurrent loads of one CID share the work. */
  async load (code: Uint8Array): Promise<Result<CompiledActor>> {
    if (!(code instanceof Uint8Array)) return err('code must be bytes')
    if (code.length > actorCodeBytesMax) return err(`component too large: ${code.length} > ${actorCodeBytesMax} bytes`)
    const cid = rawCidOf(code).toString()
    const cached = this.#compiled.get(cid)
    if (cached !== undefined) return await cached
    const loading = this.#load(cid, code)
    this.#compiled.set(cid, loading)
    const result = await loading
    if (!result.ok) this.#compiled.delete(cid) // a refusal is cheap to recompute; don't pin it
    return result
  }

  get #dir (): string {
    const pages = this.#init.memoryPagesMax ?? actorMemoryPagesMax
    return join(this.#init.cacheDir, `${cacheFormat}-p${pages}${this.#init.meter === false ? '-unmetered' : ''}`)
  }

  async #load (cid: string, code: Uint8Array): Promise<Result<CompiledActor>> {
    const folder = join(this.#dir, cid)
    let manifest = await readManifest(folder)
    if (manifest === undefined) {
      const built = await this.#transpileToCache(cid, code, folder)
      if (!built.ok) return built
      manifest = built.value
    }
    const modules = new Map<string, WebAssembly.Module>()
    try {
      for (const name of manifest.coreModules) modules.set(name, await WebAssembly.compile(await readFile(join(folder, name))))
    } catch (error) {
      return err(`instrumented module does not compile: ${(error as Error).message}`)
    }
    const glue = await import(pathToFileURL(join(folder, 'actor.mjs')).href) as { instantiate: Instantiate }
    return ok(compiledActor(manifest, modules, glue.instantiate))
  }

  async #transpileToCache (cid: string, code: Uint8Array, folder: string): Promise<Result<Manifest>> {
    const imports = await checkWorld(code)
    if (!imports.ok) return imports
    let files: Record<string, Uint8Array>
    try {
      ({ files } = await transpile(code, { name: 'actor', instantiation: 'sync', noTypescript: true } as Parameters<typeof transpile>[1]) as unknown as { files: Record<string, Uint8Array> })
    } catch (error) {
      return err(`component does not transpile: ${(error as Error).message}`)
    }
    const glue = files['actor.js']
    if (glue === undefined) return err('transpile produced no glue')
    const used = checkGlueImports(new TextDecoder().decode(glue))
    if (!used.ok) return used
    const tmp = `${folder}.tmp-${process.pid}`
    await rm(tmp, { recursive: true, force: true })
    await mkdir(tmp, { recursive: true })
    const coreModules: string[] = []
    for (const [name, bytes] of Object.entries(files)) {
      if (!name.endsWith('.wasm')) continue
      const instrumented = instrumentCoreModule(bytes, { memoryPagesMax: this.#init.memoryPagesMax, meter: this.#init.meter })
      if (!instrumented.ok) return err(`core module ${name}: ${instrumented.error}`)
      if (instrumented.value.length > actorCoreModuleBytesMax) return err(`core module ${name} too large: ${instrumented.value.length} > ${actorCoreModuleBytesMax} bytes`)
      await writeFile(join(tmp, name), instrumented.value)
      coreModules.push(name)
    }
    await writeFile(join(tmp, 'actor.mjs'), glue) // ESM: .mjs so Node imports it as a module
    const manifest: Manifest = { cid, codeBytes: code.length, coreModules }
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest))
    try {
      await rename(tmp, folder) // atomic: a crash leaves no half-written cache entry
    } catch (error) {
      // Another process cached the same CID first; its entry is complete (it was renamed whole).
      await rm(tmp, { recursive: true, force: true })
      if (await readManifest(folder) === undefined) throw error
    }
    this.#init.logger.info('actor transpiled', { cid, codeBytes: code.length, coreModules: coreModules.length })
    return ok(manifest)
  }
}

async function readManifest (folder: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as Manifest
  } catch {
    return undefined
  }
}

/**
 * The component's imports, from its WIT world, against the allowed list, and its exports against
 * the contract's. Refuses with every offending import named, e.g. `imports outside the Pylon
 * world (2): wasi:clocks/wall-clock@0.2.3, …`, or each export that differs.
 */
export async function checkWorld (code: Uint8Array): Promise<Result<string[]>> {
  let wit: string
  try {
    wit = await componentWit(code)
  } catch (error) {
    return err(`not a valid component: ${(error as Error).message.split('\n')[0]}`)
  }
  const world = /\bworld\s+[\w-]+\s*\{([\s\S]*?)\n\}/.exec(wit)
  if (world === null) return err('component has no world')
  const imports = [...world[1]!.matchAll(/^\s*import\s+([^;{]+?)\s*[;{]/gm)].map(m => m[1]!.replace(/\s+/g, ' '))
  const offending = imports.filter(name => !(name in allowedImports))
  if (offending.length > 0) return err(`imports outside the Pylon world (${offending.length}): ${offending.join(', ')}; allowed: ${Object.keys(allowedImports).join(', ')}`)
  const exports = new Map([...world[1]!.matchAll(/^\s*export\s+([\w-]+):\s*(func[^;]*);/gm)].map(m => [m[1]!, withoutParamNames(m[2]!)]))
  const wrong = Object.entries(requiredExports).filter(([name, signature]) => exports.get(name) !== signature)
  if (wrong.length > 0) {
    return err(`exports do not match the Pylon world: ${wrong.map(([name, signature]) => `${name} must be \`${signature}\`, found ${exports.has(name) ? `\`${exports.get(name)}\`` : 'none'}`).join('; ')}`)
  }
  return ok(imports)
}

/** The exports every actor has, as types only (parameter names are the author's business). */
const requiredExports: Readonly<Record<string, string>> = {
  init: 'func(list<u8>) -> result<_, string>',
  update: 'func(string, list<u8>) -> result<list<u8>, string>',
  query: 'func(string, list<u8>) -> result<list<u8>, string>'
}

function withoutParamNames (signature: string): string {
  return signature.replace(/\s+/g, ' ').replace(/([(,]\s*)[\w-]+:\s*/g, '$1').replace(/,\s*/g, ', ').trim()
}

/** The functions jco's glue takes from each interface must be ones we provide (same names). */
function checkGlueImports (glue: string): Result<void> {
  const offending: string[] = []
  for (const match of glue.matchAll(/const \{([^}]*)\} = imports\['([^']+)'\];/g)) {
    const iface = match[2]!
    const allowed = Object.entries(allowedImports).find(([name]) => name.replace(/@[^@]*$/, '') === iface)
    for (const part of match[1]!.split(',')) {
      const name = part.split(':')[0]!.trim()
      if (name === '') continue
      const kebab = name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`)
      if (allowed === undefined || !allowed[1].includes(kebab)) offending.push(`${iface}#${kebab}`)
    }
  }
  return offending.length === 0 ? ok(undefined) : err(`imports outside the Pylon world (${offending.length}): ${offending.join(', ')}`)
}

function compiledActor (manifest: Manifest, modules: Map<string, WebAssembly.Module>, instantiate: Instantiate): CompiledActor {
  return {
    cid: manifest.cid,
    codeBytes: manifest.codeBytes,
    instantiate (imports, fuel) {
      const fuelImports = { [fuelImportModule]: { [fuelImportName]: fuel } }
      return instantiate(
        name => modules.get(name) ?? assertNever(name),
        imports,
        (module, importObject) => new WebAssembly.Instance(module, { ...importObject, ...fuelImports })
      )
    }
  }
}

function assertNever (name: string): never {
  throw new Error(`transpiled glue asked for an unknown core module ${name}`)
}
