// Builds actor components against contracts/wit/actor.wit: JavaScript with componentize-js (every
// WASI feature disabled, so the result imports only the Pylon world), and hand-written WAT with
// wabt + jco's componentEmbed/componentNew APIs (not the jco CLI). Build tooling only: the daemon's
// execution path never calls it.

import { access, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { componentEmbed, componentNew } from '@bytecodealliance/jco'
import wabtInit from 'wabt'

/** The contract's folder and world. */
export const witPath = fileURLToPath(new URL('../../contracts/wit/', import.meta.url))
export const worldName = 'actor'

/** componentize-js features that pull in WASI imports; all off, so nothing ambient remains. */
export const disabledFeatures = ['stdio', 'random', 'clocks', 'http', 'fetch-event'] as const

export interface BuildJsOptions {
  /** Called as each stage starts, for progress output. */
  onStage?: (stage: string) => void
}

/** A JS actor (ES module exporting init/update/query) as component bytes. Takes ~11 s. */
export async function buildJsActor (sourcePath: string, options: BuildJsOptions = {}): Promise<Uint8Array> {
  const source = resolve(sourcePath)
  try {
    await access(source)
  } catch {
    throw new Error(`actor source not found: ${sourcePath}`)
  }
  // A pure component (no WASI stdio) traps on an uncaught Error instead of returning err(...), so
  // a generated entry beside the source wraps each export: whatever it throws becomes the error
  // text of the message. It imports the source by relative path, as componentize-js requires.
  const entry = join(dirname(source), `.pylon-entry-${process.pid}-${basename(source)}`)
  await writeFile(entry, wrapperSource(`./${basename(source)}`))
  options.onStage?.('componentize (embeds the StarlingMonkey JS engine, ~11 s)')
  try {
    const { componentize } = await import('@bytecodealliance/componentize-js')
    const { component } = await componentize({
      sourcePath: entry,
      witPath,
      worldName,
      disableFeatures: [...disabledFeatures]
    })
    return component
  } finally {
    await rm(entry, { force: true })
  }
}

function wrapperSource (specifier: string): string {
  return `import * as actor from ${JSON.stringify(specifier)}
const text = e => (e instanceof Error ? e.message : String(e))
const wrap = (name, f) => (...args) => {
  if (typeof f !== 'function') throw \`actor has no \${name} export\`
  try { return f(...args) } catch (e) { throw text(e) }
}
export const init = wrap('init', actor.init ?? (() => {}))
export const update = wrap('update', actor.update)
export const query = wrap('query', actor.query)
`
}

/** A core module in WAT text, embedded against `witSource`'s world and wrapped as a component. */
export async function buildWatActor (watText: string, options: { witSource?: string, world?: string } = {}): Promise<Uint8Array> {
  const wabt = await wabtInit()
  const parsed = wabt.parseWat('actor.wat', watText, { bulk_memory: true, multi_value: true, mutable_globals: true })
  let core: Uint8Array
  try {
    parsed.resolveNames()
    parsed.validate()
    core = parsed.toBinary({}).buffer
  } finally {
    parsed.destroy()
  }
  const witSource = options.witSource ?? await readFile(new URL('actor.wit', `file://${witPath}`), 'utf8')
  const embedded = await componentEmbed({ binary: core, witSource, world: options.world ?? worldName } as Parameters<typeof componentEmbed>[0])
  return await componentNew(embedded, [])
}
