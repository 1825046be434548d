// `npm run build:contracts`: builds every example actor in contracts/examples/ into the git-ignored
// contracts/build/<name>.wasm, skipping those whose inputs (sources, the WIT, tool versions) are
// unchanged, then warms the runtime's transpile cache (contracts/build/.transpiled) so tests and
// benchmarks never pay jco + instrumentation. It only writes under contracts/build/.

import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLogger } from '../node/core/logger.ts'
import { buildJsActor, buildWatActor, disabledFeatures } from '../node/runtime/builder.ts'
import { ActorLoader, cacheFormat } from '../node/runtime/loader.ts'
import { contractsBuildAttemptsMax } from '../protocol/limits.ts'

const root = fileURLToPath(new URL('./', import.meta.url))
export const buildDir = join(root, 'build')
export const transpileCacheDir = join(buildDir, '.transpiled')
const examplesDir = join(root, 'examples')

/** Everything that changes a build's output: tool versions and the builder's own options. */
async function toolStamp (): Promise<string> {
  const version = async (pkg: string): Promise<string> =>
    (JSON.parse(await readFile(fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url)), 'utf8')) as { version: string }).version
  return JSON.stringify({
    jco: await version('@bytecodealliance/jco'),
    componentizeJs: await version('@bytecodealliance/componentize-js'),
    wabt: await version('wabt'),
    disabledFeatures,
    builder: await readFile(fileURLToPath(new URL('../node/runtime/builder.ts', import.meta.url)), 'utf8')
  })
}

async function inputsHash (dir: string, files: string[], stamp: string): Promise<string> {
  const hash = createHash('sha256').update(stamp).update(await readFile(join(root, 'wit', 'actor.wit')))
  for (const file of files.sort()) hash.update(file).update('\0').update(await readFile(join(dir, file))).update('\0')
  return hash.digest('hex')
}

export async function buildContracts (log: (line: string) => void): Promise<void> {
  await mkdir(buildDir, { recursive: true })
  const release = await lock(log)
  try {
    await buildAll(log)
  } finally {
    await release()
  }
}

/**
 * One build at a time per checkout: several `npm test` runs may start together, and a second
 * build would rewrite outputs and prune caches under the first. A lock directory names its
 * holder's pid; a holder that no longer runs is presumed crashed and its lock is taken over.
 */
async function lock (log: (line: string) => void): Promise<() => Promise<void>> {
  const dir = join(buildDir, '.lock')
  const deadline = Date.now() + 20 * 60_000
  for (let waited = false; ;) {
    try {
      await mkdir(dir)
      await writeFile(join(dir, 'pid'), String(process.pid))
      return async () => { await rm(dir, { recursive: true, force: true }) }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const holder = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => '0'))
    if (holder > 0 && !isRunning(holder)) {
      await rm(dir, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) throw new Error(`contracts/build is locked by pid ${holder} for over 20 minutes`)
    if (!waited) log(`waiting for another build (pid ${holder || 'starting'})`)
    waited = true
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}

function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function buildAll (log: (line: string) => void): Promise<void> {
  const stamp = await toolStamp()
  const loader = new ActorLoader({ cacheDir: transpileCacheDir, logger: createLogger('pylon:contracts', { level: 'warn' }) })
  const current = new Set<string>()
  for (const name of (await readdir(examplesDir)).sort()) {
    const dir = join(examplesDir, name)
    const files = (await readdir(dir)).filter(f => (f.endsWith('.js') || f.endsWith('.wat')) && !f.startsWith('.'))
    const wat = files.find(f => f.endsWith('.wat'))
    const entry = wat ?? files.find(f => f === `${name}.js`)
    if (entry === undefined) continue
    const out = join(buildDir, `${name}.wasm`)
    const hashFile = join(buildDir, `${name}.inputs`)
    const hash = await inputsHash(dir, files, stamp)
    let code: Uint8Array
    if (await readFile(hashFile, 'utf8').catch(() => '') === hash) {
      log(`${name}: up to date`)
      code = await readFile(out)
    } else {
      const started = performance.now()
      code = wat !== undefined
        ? await buildWatActor(await readFile(join(dir, wat), 'utf8'))
        : await buildJsActor(join(dir, entry))
      // Atomic: a test process reading the output sees the old or the new file, never half of one.
      await writeFile(`${out}.tmp`, code)
      await rename(`${out}.tmp`, out)
      await writeFile(hashFile, hash)
      log(`${name}: built ${code.length} bytes in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
    const loaded = await loader.load(code)
    if (!loaded.ok) throw new Error(`${name}: the runtime refuses it: ${loaded.error}`)
    current.add(loaded.value.cid)
  }
  await pruneCache(current, log)
}

/** Drops cached transpilations of code no example builds any more, so rebuilds do not pile up. */
async function pruneCache (current: Set<string>, log: (line: string) => void): Promise<void> {
  for (const format of await readdir(transpileCacheDir)) {
    if (!format.startsWith(cacheFormat)) {
      await rm(join(transpileCacheDir, format), { recursive: true, force: true })
      log(`pruned old transpile cache format ${format}`)
      continue
    }
    for (const cid of await readdir(join(transpileCacheDir, format))) {
      if (current.has(cid) || cid.includes('.tmp-')) continue // a .tmp- folder is a loader at work
      await rm(join(transpileCacheDir, format, cid), { recursive: true, force: true })
      log(`pruned stale transpile cache ${format}/${cid}`)
    }
  }
}

/** Builds in a child process, and in another after one that crashed (at most contractsBuildAttemptsMax in all). */
function buildWithRetry (): number {
  for (let attempt = 1; ; attempt++) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, PYLON_BUILD_CHILD: '1' } })
    // A signal is a crash of the VM itself (see contractsBuildAttemptsMax), and the build is
    // idempotent, so it runs again; an exit code is the build's own verdict and stands.
    if (child.signal === null || attempt >= contractsBuildAttemptsMax) return child.status ?? 1
    process.stderr.write(`build:contracts crashed (${child.signal}); building again (attempt ${attempt + 1} of ${contractsBuildAttemptsMax})\n`)
  }
}

if (import.meta.main) {
  if (process.env.PYLON_BUILD_CHILD === '1') await buildContracts(line => process.stderr.write(`build:contracts ${line}\n`))
  else process.exitCode = buildWithRetry()
}
