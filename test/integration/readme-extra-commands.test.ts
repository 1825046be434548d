// The commands README.md shows that no other test runs, run as the README shows them:
// `pylon store info` on an exec state directory and `pylon quickstart --single` (a foreground
// daemon stopped with Ctrl-C). readme-commands.test.ts counts these runs. Writes only in its
// temporary folder.

import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoRoot, runCliAsync } from '../helpers/daemon-process.ts'

/** Runs the CLI (never blocking this process); a foreground daemon is Ctrl-C'd once its output matches `until`. */
const cli = async (args: string[], options: { env?: Record<string, string>, until?: RegExp, timeoutMs?: number } = {}): Promise<{ status: number | null, stdout: string, stderr: string }> => await runCliAsync(args, { timeoutMs: 60_000, ...options })

test('README commands no other test runs: pylon store info, pylon quickstart --single', async t => {
  t.timeout(110_000)
  const dir = mkdtempSync(join(tmpdir(), 'pylon-readme-commands-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const env = { HOME: dir, PYLON_CACHE_DIR: join(dir, 'cache') }
  const state = join(dir, 'exec')
  const wasm = join(repoRoot, 'contracts/build/counter-wat.wasm')
  for (const expected of ['1', '2']) {
    const inc = await cli(['exec', wasm, 'inc', '--state-dir', state], { env })
    t.is(inc.stdout.trim(), expected, inc.stderr)
  }
  const info = await cli(['store', 'info', '--data-dir', state, '--json'], { env })
  t.is(info.status, 0, info.stderr)
  const parsed = JSON.parse(info.stdout) as { height: string | number, stateRoot: string }
  t.is(String(parsed.height), '2', 'one height per update')
  t.regex(parsed.stateRoot, /^[0-9a-f]{64}$/)
  const human = await cli(['store', 'info', '--data-dir', state], { env })
  t.regex(human.stdout, /^store +.*\nheight +2\nstate root +[0-9a-f]{64}$/m)
  const missing = await cli(['store', 'info', '--data-dir', join(dir, 'nothing')], { env })
  t.is(missing.status, 1)
  t.regex(missing.stderr, /^pylon: .*nothing/)

  // The one-node quickstart: a daemon in the foreground that prints its id, API and capacity; Ctrl-C stops it (exit 0).
  const single = await cli(['quickstart', '--single', '--data-dir', join(dir, 'dev')], { env, until: /api +http:\/\/127\.0\.0\.1:\d+/, timeoutMs: 90_000 })
  t.is(single.status, 0, single.stderr)
  t.regex(single.stdout, /^created .*dev \(node key and config\)\nnode +12D3KooW\w+\napi +http:\/\/127\.0\.0\.1:\d+/m)
})
