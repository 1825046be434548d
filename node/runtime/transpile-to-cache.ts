// The slow half of loading a component, run inside a transpile worker (transpile-worker.ts) and
// never on the daemon's main thread: world check, jco transpile, instrumentation of every core
// module, and an atomic write of the cache folder. It never runs actor code, and its refusals are
// a function of the component's bytes alone (the same on every replica).

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { transpile } from '@bytecodealliance/jco'
import { actorCoreModuleBytesMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { instrumentCoreModule } from './instrument.ts'
import { checkGlueImports, checkWorld } from './world-check.ts'

/** What a cache folder holds besides its files: `manifest.json`. */
export interface Manifest {
  cid: string
  codeBytes: number
  coreModules: string[]
}

/** One component to transpile into `folder`; structured-cloneable (it crosses to the worker). */
export interface TranspileJob {
  code: Uint8Array
  /** Raw CID string of `code`, computed by the caller. */
  cid: string
  /** The cache folder to create, `<cacheDir>/<format>/<cid>`. */
  folder: string
  /** Where the folder is written before its atomic rename; unique per job, removed on failure. */
  tmp: string
  memoryPagesMax?: number
  meter?: boolean
}

/**
 * Transpiles, instruments and caches one component. Returns its manifest, or why the component is
 * refused (the loader's error texts). Throws on I/O failure (and on a bug in jco or binaryen).
 */
export async function transpileToCache (job: TranspileJob): Promise<Result<Manifest>> {
  const { code, cid, folder, tmp } = job
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
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true })
  let written = false
  try {
    const coreModules: string[] = []
    for (const [name, bytes] of Object.entries(files)) {
      if (!name.endsWith('.wasm')) continue
      const instrumented = instrumentCoreModule(bytes, { memoryPagesMax: job.memoryPagesMax, meter: job.meter })
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
      written = true
    } catch (error) {
      // Another process cached the same CID first; its entry is complete (it was renamed whole).
      if (await readManifest(folder) === undefined) throw error
    }
    return ok(manifest)
  } finally {
    if (!written) await rm(tmp, { recursive: true, force: true })
  }
}

/** A cache folder's manifest, or undefined when the folder is absent or incomplete. */
export async function readManifest (folder: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as Manifest
  } catch {
    return undefined
  }
}
