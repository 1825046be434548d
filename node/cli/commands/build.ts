// `pylon build ENTRY.js|ENTRY.wat [-o OUT.wasm]`: builds an actor component against the Pylon
// contract (contracts/wit/actor.wit), checks that the runtime would accept its imports, and
// writes it. Progress goes to stderr; stdout carries only the result.

import { writeFile } from 'node:fs/promises'
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { rawCidOf } from '../../../protocol/codec.ts'
import { actorCodeBytesMax } from '../../../protocol/limits.ts'
import { buildJsActor, buildWatActor } from '../../runtime/builder.ts'
import { checkWorld } from '../../runtime/loader.ts'
import { CliError, emit } from '../output.ts'

interface BuildFlags { output?: string, json?: boolean, quiet?: boolean }

export function register (program: Command): void {
  program.command('build')
    .description('build an actor (JavaScript module or WAT) into a WebAssembly component for Pylon')
    .argument('<entry>', 'a JS module exporting init/update/query, or a .wat core module')
    .option('-o, --output <file>', 'output component (default: ENTRY with .wasm)')
    .option('--quiet', 'no progress on stderr')
    .option('--json', 'print { output, bytes, cid, imports, elapsedMs } as JSON')
    .action(async (entry: string, flags: BuildFlags) => {
      const output = flags.output ?? entry.replace(/\.(m?js|wat)$/, '') + '.wasm'
      if (output === entry) throw new CliError(`output ${output} would overwrite the entry`)
      const started = performance.now()
      const stages = ['build', 'check imports', 'write']
      const stage = progress(flags.quiet === true || flags.json === true, stages.length)
      let code: Uint8Array
      try {
        stage(1, `${stages[0]} ${entry}`)
        code = entry.endsWith('.wat')
          ? await buildWatActor(await readFile(entry, 'utf8'))
          : await buildJsActor(entry, { onStage: detail => { stage(1, detail) } })
      } catch (error) {
        throw new CliError(`build failed: ${buildError(error)}`, 'build/failed')
      }
      stage(2, stages[1]!)
      if (code.length > actorCodeBytesMax) throw new CliError(`component too large: ${code.length} > ${actorCodeBytesMax} bytes`, 'build/too-large')
      const imports = await checkWorld(code)
      if (!imports.ok) throw new CliError(imports.error, 'build/imports')
      stage(3, `${stages[2]} ${output}`)
      await writeFile(output, code)
      const elapsedMs = Math.round(performance.now() - started)
      const value = { output, bytes: code.length, cid: rawCidOf(code).toString(), imports: imports.value, elapsedMs }
      emit(flags.json, value, () => `built ${output}: ${code.length} bytes in ${(elapsedMs / 1000).toFixed(1)} s\ncid ${value.cid}`)
    })
}

/** The line of a build error a person needs: the JS error (file:line), not wizer's preamble. */
function buildError (error: unknown): string {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n').map(l => l.trim()).filter(l => l !== '')
  return lines.find(l => /\b\w*Error\b/.test(l) && !l.startsWith('Failed to initialize')) ?? lines.at(-1) ?? 'unknown error'
}

/** A stage indicator on stderr: "[2/3] check imports (12.1 s)". Silent when asked. */
function progress (silent: boolean, total: number): (n: number, what: string) => void {
  const started = performance.now()
  return (n, what) => {
    if (silent) return
    process.stderr.write(`[${n}/${total}] ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`)
  }
}
