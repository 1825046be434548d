// `pylon build` and `pylon exec` as a user runs them: real processes, a real LevelDB state dir,
// checked afterwards by `pylon store verify`.

import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'

const main = fileURLToPath(new URL('../../node/cli/main.ts', import.meta.url))
const built = (name: string): string => fileURLToPath(new URL(`../../contracts/build/${name}.wasm`, import.meta.url))
const transpiled = fileURLToPath(new URL('../../contracts/build/.transpiled', import.meta.url))

interface Run { code: number | null, stdout: string, stderr: string }

function pylon (args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYLON_CACHE_DIR: transpiled } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 240_000) // generous: a JS build on a loaded 2-core machine
    child.on('error', reject)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

async function tempDir (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-exec-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

test('pylon exec keeps state across runs, prints results, fails with the actor error, and the store verifies', async t => {
  const dir = await tempDir(t)
  const exec = (...args: string[]): Promise<Run> => pylon(['exec', built('counter-wat'), ...args, '--state-dir', dir])
  t.is((await exec('inc')).stdout, '1\n')
  t.is((await exec('inc')).stdout, '2\n')
  t.is((await exec('get', '--query')).stdout, '2\n')
  const failed = await exec('dec')
  t.is(failed.code, 1)
  t.is(failed.stderr, `pylon: actor error: unknown method (fuel used ${/fuel used (\d+)/.exec(failed.stderr)?.[1]})\n`)
  const json = JSON.parse((await exec('inc', '--json')).stdout) as Record<string, unknown>
  t.like(json, { ok: true, result: '3', resultEncoding: 'utf8', error: null, installed: false })
  t.regex(json.fuelUsed as string, /^\d+$/)
  const verify = await pylon(['store', 'verify', '--data-dir', dir])
  t.is(verify.code, 0, verify.stderr)
  t.regex(verify.stdout, /^ok: height 4, 1 entries/, 'two incs, a failed dec and an inc committed; the query did not')
})

test('pylon exec stops a spinning actor by fuel and refuses bad arguments clearly', async t => {
  const dir = await tempDir(t)
  const spin = await pylon(['exec', built('spin'), 'go', '--fuel', '5000', '--json', '--state-dir', dir])
  t.is(spin.code, 1)
  t.like(JSON.parse(spin.stdout), { ok: false, error: 'out of fuel', fuelUsed: '5000' })
  const badFuel = await pylon(['exec', built('spin'), 'go', '--fuel', '0', '--state-dir', dir])
  t.is(badFuel.code, 1)
  t.is(badFuel.stderr, 'pylon: --fuel must be an integer in 1..200000000, got "0"\n')
  const missing = await pylon(['exec', join(dir, 'nope.wasm'), 'go', '--state-dir', dir])
  t.is(missing.stderr, `pylon: cannot read ${join(dir, 'nope.wasm')}: ENOENT\n`)
  const garbage = join(dir, 'garbage.wasm')
  await writeFile(garbage, 'not wasm')
  const refused = await pylon(['exec', garbage, 'go', '--state-dir', dir])
  t.is(refused.code, 1)
  t.regex(refused.stderr, /^pylon: .*garbage\.wasm: not a valid component/)
  const broken = join(dir, 'broken.js')
  await writeFile(broken, 'export function update( {\n')
  const build = await pylon(['build', broken, '--quiet'])
  t.is(build.code, 1)
  t.is(build.stderr, 'pylon: build failed: broken.js:2:1 SyntaxError: expected property name, got end of script\n')
})

test('pylon build turns a JS module into an actor that pylon exec runs (UTF-8 payloads, hex results)', async t => {
  t.timeout(400_000) // a JS build (~11 s) and a first transpile (~8 s), many times slower on a busy 2-core machine
  const dir = await tempDir(t)
  const entry = join(dir, 'echo.js')
  await writeFile(entry, `
import { log } from 'pylon:actor/context@0.1.0'
export function update (method, payload) {
  if (method === 'bytes') return new Uint8Array([0xff, 0x00, 0xfe])
  log('echo ' + payload.length)
  return payload
}
export function query (method, payload) { return payload }
`)
  const build = await pylon(['build', entry, '-o', join(dir, 'echo.wasm'), '--json'])
  t.is(build.code, 0, build.stderr)
  const report = JSON.parse(build.stdout) as { output: string, imports: string[] }
  t.is(report.output, join(dir, 'echo.wasm'))
  t.true(report.imports.every(name => name.startsWith('pylon:actor/')), 'no WASI import: the runtime accepts it')
  const run = (...args: string[]): Promise<Run> => pylon(['exec', join(dir, 'echo.wasm'), ...args, '--state-dir', join(dir, 'state')])
  const echo = await run('say', 'héllo')
  t.is(echo.stdout, 'héllo\n')
  t.is(echo.stderr, 'log: echo 6\n')
  const bytes = await run('bytes', '--json')
  t.is(bytes.code, 0, bytes.stderr)
  t.like(JSON.parse(bytes.stdout), { result: 'ff00fe', resultEncoding: 'hex' })
})
