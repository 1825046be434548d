// The node CLI's error paths as a user meets them: one line on stderr, exit code 1, nothing changed.

import test from 'ava'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../helpers/daemon-process.ts'

test('pylon init creates a 0600 key and refuses to overwrite it; pylon id prints the same id', t => {
  const dir = join(mkdtempSync(join(tmpdir(), 'pylon-cli-')), 'node')
  const first = runCli(['init', '--data-dir', dir, '--json', '--rack', 'r1'])
  t.is(first.status, 0, first.stderr)
  const { nodeId } = JSON.parse(first.stdout) as { nodeId: string }
  t.is(statSync(join(dir, 'node.key')).mode & 0o777, 0o600)
  t.is(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).rack, 'r1')
  const key = readFileSync(join(dir, 'node.key'))
  const again = runCli(['init', '--data-dir', dir])
  t.is(again.status, 1)
  t.regex(again.stderr, /^pylon: .*node\.key already exists: refusing to overwrite the node's identity\n$/)
  t.deepEqual(readFileSync(join(dir, 'node.key')), key)
  const id = runCli(['id', '--data-dir', dir])
  t.is(id.stdout.trim(), nodeId)
})

test('a bad setting is one line naming it, from a flag or from the config file, and nothing starts', t => {
  const dir = join(mkdtempSync(join(tmpdir(), 'pylon-cli-')), 'node')
  const bad = runCli(['init', '--data-dir', dir, '--api', 'x'])
  t.is(bad.status, 1)
  t.is(bad.stderr, 'pylon: bad config: api must be HOST:PORT, got "x"\n')
  t.throws(() => statSync(dir), undefined, 'a refused init leaves no directory')
  t.is(runCli(['init', '--data-dir', dir]).status, 0)
  const daemon = runCli(['daemon', '--data-dir', dir, '--bootstrap', '/ip4/127.0.0.1/tcp/1'])
  t.is(daemon.status, 1)
  t.regex(daemon.stderr, /^pylon: bad config: bootstrap must be a multiaddr ending in \/p2p\/<peer id>, got "\/ip4\/127\.0\.0\.1\/tcp\/1"/)
  const json = runCli(['daemon', '--data-dir', dir, '--network', 'mars', '--json'])
  t.deepEqual(JSON.parse(json.stdout), { ok: false, error: 'bad config: network must be local or public, got "mars"', code: 'config' })
})

test('client commands without a daemon say so in one line', t => {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-cli-'))
  const byDir = runCli(['capacity', '--data-dir', dir])
  t.is(byDir.status, 1)
  t.regex(byDir.stderr, /^pylon: no daemon running on .* \(no .*api\.json\): start one with `pylon daemon --data-dir/)
  const byUrl = runCli(['status', '--api', 'http://127.0.0.1:9'])
  t.is(byUrl.stderr, 'pylon: no daemon at http://127.0.0.1:9: is `pylon daemon` running?\n')
  const byEnv = runCli(['peers'], { env: { PYLON_API: 'http://127.0.0.1:9' } })
  t.is(byEnv.stderr, 'pylon: no daemon at http://127.0.0.1:9: is `pylon daemon` running?\n')
  const badUrl = runCli(['peers', '--api', 'not a url'])
  t.is(badUrl.stderr, 'pylon: --api must be a URL like http://127.0.0.1:7373, got "not a url"\n')
})
