// Transpiling off the main thread: the event loop keeps ticking while the 12 MB JS counter is
// transpiled and instrumented uncached, and a transpile worker's bounds (count, queue, time,
// heap, close) end in a clear thrown PylonError without taking the process down or writing a
// half cache entry.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { rawCidOf } from '../../../../protocol/codec.ts'
import { createLogger, silentLogger } from '../../../../node/core/logger.ts'
import { PylonError } from '../../../../node/core/errors.ts'
import { ActorLoader, cacheFormat } from '../../../../node/runtime/loader.ts'
import { TranspilePool } from '../../../../node/runtime/transpile-pool.ts'
import type { TranspileJob } from '../../../../node/runtime/transpile-to-cache.ts'
import { exampleCode } from './_fixtures.ts'

async function tempDir (t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-transpile-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

function job (dir: string, code: Uint8Array): TranspileJob {
  const cid = rawCidOf(code).toString()
  return { code, cid, folder: join(dir, cid), tmp: join(dir, `${cid}.tmp-test`) }
}

/** A PylonError's code and message, to assert both at once. */
async function thrown (t: ExecutionContext, run: () => Promise<unknown>): Promise<{ code: string, message: string }> {
  const error = await t.throwsAsync(run, { instanceOf: PylonError })
  return { code: (error as PylonError).code, message: error?.message ?? '' }
}

// Serial: ava runs it before the others, alone, so their main-thread work does not count as a stall.
test.serial('ActorLoader keeps the main thread responsive while it transpiles the JS counter uncached', async t => {
  t.timeout(240_000) // ~10 s alone; several times that on a loaded 2-core machine
  const dir = await tempDir(t)
  const code = await exampleCode('counter')
  let last = performance.now()
  let gapMaxMs = 0
  let ticks = 0
  const ticker = setInterval(() => {
    const now = performance.now()
    gapMaxMs = Math.max(gapMaxMs, now - last)
    last = now
    ticks++
  }, 10)
  t.teardown(() => { clearInterval(ticker) })
  const started = performance.now()
  const loaded = await new ActorLoader({ cacheDir: dir, logger: silentLogger }).load(code)
  const loadMs = performance.now() - started
  clearInterval(ticker)
  gapMaxMs = Math.max(gapMaxMs, performance.now() - last)
  t.log(`uncached load ${Math.round(loadMs)} ms; main thread: ${ticks} ticks, longest gap ${Math.round(gapMaxMs)} ms`)
  t.true(loaded.ok, loaded.ok ? '' : loaded.error)
  t.deepEqual(await readdir(join(dir, `${cacheFormat}-p512`)), [rawCidOf(code).toString()], 'one complete cache entry, no temporary folder')
  t.true(gapMaxMs < 2000, `the event loop stalled for ${Math.round(gapMaxMs)} ms`)
})

test('ActorLoader shares one transpile among concurrent loads of one CID', async t => {
  const dir = await tempDir(t)
  const lines: string[] = []
  const loader = new ActorLoader({ cacheDir: dir, logger: createLogger('test', { write: line => { lines.push(line) } }) })
  const code = await exampleCode('counter-wat')
  const [a, b, c] = await Promise.all([loader.load(code), loader.load(code), loader.load(new Uint8Array(code))])
  t.true(a.ok && b.ok && c.ok)
  if (a.ok && b.ok && c.ok) t.true(a.value === b.value && b.value === c.value, 'one compiled actor')
  t.is(lines.filter(l => l.includes('actor transpiled')).length, 1)
})

test('Transpiling one component twice writes byte-identical cache folders: each job gets a fresh worker', async t => {
  // binaryen numbers its log-execution calls from a process-wide counter, so in one long-lived
  // process the second transpile of a module differed in those (ignored) constants.
  const dir = await tempDir(t)
  const code = await exampleCode('pong')
  const pool = new TranspilePool()
  const first = await pool.run(job(join(dir, 'a'), code))
  await pool.run(job(join(dir, 'b'), await exampleCode('ping')))
  const second = await pool.run(job(join(dir, 'c'), code))
  t.true(first.ok && second.ok)
  if (!first.ok || !second.ok) return
  t.deepEqual(first.value, second.value)
  const cid = rawCidOf(code).toString()
  const files = await readdir(join(dir, 'a', cid))
  t.deepEqual(files.sort(), ['actor.core.wasm', 'actor.core2.wasm', 'actor.core3.wasm', 'actor.mjs', 'manifest.json'])
  for (const name of files) t.deepEqual(await readFile(join(dir, 'a', cid, name)), await readFile(join(dir, 'c', cid, name)), name)
})

test('TranspilePool runs one worker at a time and refuses a job past its queue, naming the limit', async t => {
  const dir = await tempDir(t)
  const pool = new TranspilePool({ workersMax: 1, queueMax: 1 })
  const [first, second, third] = await Promise.all(['counter-wat', 'ping', 'pong'].map(exampleCode))
  let runningMax = 0
  const sampler = setInterval(() => { runningMax = Math.max(runningMax, pool.running) }, 5)
  t.teardown(() => { clearInterval(sampler) })
  const a = pool.run(job(dir, first!))
  const b = pool.run(job(dir, second!))
  t.is(pool.running, 1, 'the second job waits in the queue')
  t.deepEqual(await thrown(t, async () => await pool.run(job(dir, third!))), {
    code: 'transpile-queue-full',
    message: 'transpile queue full: 1 components waiting for 1 worker(s) (actorTranspileQueueMax)'
  })
  const [resultA, resultB] = await Promise.all([a, b])
  clearInterval(sampler)
  t.true(resultA.ok && resultB.ok)
  t.is(runningMax, 1)
  t.is(pool.running, 0)
  t.deepEqual((await readdir(dir)).sort(), [rawCidOf(first!).toString(), rawCidOf(second!).toString()].sort())
})

test('TranspilePool stops a worker past its time bound with a clear error and no cache entry; the node goes on', async t => {
  const dir = await tempDir(t)
  const code = await exampleCode('counter-wat')
  const cid = rawCidOf(code).toString()
  const slow = new ActorLoader({ cacheDir: dir, logger: silentLogger, transpile: { timeoutMs: 20 } })
  t.deepEqual(await thrown(t, async () => await slow.load(code)), {
    code: 'transpile-timeout',
    message: `transpiling ${cid} (${code.length} bytes) took longer than 20 ms (actorTranspileTimeoutMs); its worker was stopped`
  })
  t.deepEqual(await readdir(join(dir, `${cacheFormat}-p512`)).catch(() => []), [], 'nothing half-written is left')
  const loaded = await new ActorLoader({ cacheDir: dir, logger: silentLogger }).load(code)
  t.true(loaded.ok, 'a later load with the normal bound succeeds')
})

test('TranspilePool reports a worker that exceeds its heap limit, and the process survives it', async t => {
  const dir = await tempDir(t)
  const code = await exampleCode('counter-wat')
  const loader = new ActorLoader({ cacheDir: dir, logger: silentLogger, transpile: { heapMiB: 8 } })
  t.deepEqual(await thrown(t, async () => await loader.load(code)), {
    code: 'transpile-out-of-memory',
    message: `transpiling ${rawCidOf(code).toString()} (${code.length} bytes) exceeded the worker heap limit of 8 MiB (actorTranspileHeapMiB)`
  })
  t.throws(() => new TranspilePool({ heapMiB: 1 }), { message: 'heapMiB must be at least 4 (actorTranspileHeapMiBMin), got 1' })
})

test('ActorLoader.close stops a running transpile: its load and later first loads throw', async t => {
  const dir = await tempDir(t)
  const loader = new ActorLoader({ cacheDir: dir, logger: silentLogger })
  const loading = loader.load(await exampleCode('counter-wat'))
  await loader.close()
  const closed = { code: 'transpile-closed', message: 'actor loader closed: transpile stopped' }
  t.deepEqual(await thrown(t, async () => await loading), closed)
  t.deepEqual(await thrown(t, async () => await loader.load(await exampleCode('ping'))), closed)
})
