// `pylon watch` as a real process against an in-process node (1-node subnet, real API server).

import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { actorIdOf } from '../../../../protocol/ids.ts'
import { hex, setupWatch, type WatchSetup } from './_watch.ts'

const root = fileURLToPath(new URL('../../../../', import.meta.url))

interface Run {
  done: Promise<{ code: number | null, stdout: string, stderr: string }>
  kill: (signal: NodeJS.Signals) => void
  /** What it printed on stdout so far. */
  stdout: () => string
}

function pylon (t: { teardown: (fn: () => void) => void }, args: string[]): Run {
  const child = spawn(process.execPath, ['node/cli/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += String(d) })
  child.stderr.on('data', d => { stderr += String(d) })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  t.teardown(() => { clearTimeout(timer); child.kill('SIGKILL') })
  const done = new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
  return { done, kill: signal => { child.kill(signal) }, stdout: () => stdout }
}

/** Waits (≤ 20 s: a CLI process starts in ~1 s on a quiet machine) until the node streams to `n` watchers. */
async function watchers (s: WatchSetup, n: number): Promise<void> {
  const deadline = Date.now() + 20_000
  while (s.hub.size < n) {
    if (Date.now() > deadline) throw new Error(`${s.hub.size} of ${n} watchers connected in 20 s`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

test('pylon watch: --count 2 --json: two JSON lines, then exit 0', async t => {
  const s = await setupWatch(t)
  const run = pylon(t, ['watch', s.actor, '--api', s.url, '--count', '2', '--json'])
  await watchers(s, 1)
  const h2 = await s.height(s.client.update(s.actor).bytes)
  const h3 = await s.height(s.client.update(s.actor).bytes, s.client.update(s.actor).bytes)
  const { code, stdout, stderr } = await run.done
  t.is(code, 0, stderr)
  const lines = stdout.trim().split('\n').map(line => JSON.parse(line) as Record<string, unknown>)
  t.deepEqual(lines, [
    { actor: s.actor, height: String(h2), index: 0, method: 'inc', caller: s.client.id, ok: true, changedKeys: [hex('count')], changedKeyCount: 1, certified: false },
    { actor: s.actor, height: String(h3), index: 0, method: 'inc', caller: s.client.id, ok: true, changedKeys: [hex('count')], changedKeyCount: 1, certified: false }
  ])
  // The client said goodbye: the node dropped its slot.
  const deadline = Date.now() + 5_000
  while (s.hub.size > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 25))
  t.is(s.hub.size, 0)
})

test('pylon watch: human output: one line per event; Ctrl-C exits 0', async t => {
  const s = await setupWatch(t)
  const run = pylon(t, ['watch', s.actor, '--api', s.url])
  await watchers(s, 1)
  await s.height(s.client.update(s.actor).bytes)
  await s.height(s.client.update(s.actor, 'nope').bytes)
  const deadline = Date.now() + 10_000
  while (run.stdout().split('\n').length < 3 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 25))
  run.kill('SIGINT')
  const { code, stdout, stderr } = await run.done
  t.is(code, 0, stderr)
  const lines = stdout.trim().split('\n')
  t.is(lines.length, 2, stdout)
  t.regex(lines[0]!, new RegExp(`^height 2  #0  inc  ok  by ${s.client.id.slice(0, 10)}…${s.client.id.slice(-8)}  keys count$`))
  t.regex(lines[1]!, /^height 3  #0  nope  FAILED  by .+  keys -$/)
})

test('pylon watch: refusals are one line and exit 1: unknown actor, not a member (with members), bad actor id, bad --count', async t => {
  const s = await setupWatch(t)
  const unknown = await pylon(t, ['watch', actorIdOf(s.subnet.id, 9n), '--api', s.url]).done
  t.is(unknown.code, 1)
  t.is(unknown.stderr, `pylon: unknown actor ${actorIdOf(s.subnet.id, 9n)} (never installed on its subnet, or deleted)\n`)
  const foreign = await pylon(t, ['watch', actorIdOf(s.foreign.id, 1n), '--api', s.url, '--json']).done
  t.is(foreign.code, 1)
  const answer = JSON.parse(foreign.stdout) as { ok: boolean, error: string, code: string }
  t.is(answer.code, 'not-member')
  t.is(answer.error, `${s.url} does not serve the subnet of ${actorIdOf(s.foreign.id, 1n)}; watch it on a member: ${s.foreign.memberIds.join(', ')}`)
  const bad = await pylon(t, ['watch', 'nope', '--api', s.url]).done
  t.is(bad.code, 1)
  t.regex(bad.stderr, /^pylon: actor id must be .*\n$/)
  const count = await pylon(t, ['watch', s.actor, '--api', s.url, '--count', '-3']).done
  t.not(count.code, 0)
  t.is(s.hub.size, 0)
})
