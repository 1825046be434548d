// State sync with real processes: a 4-daemon devnet whose genesis sets a small checkpoint interval
// and catch-up window. One replica is stopped, the other three run far past its window, and the
// restarted replica state-syncs a certified checkpoint over libp2p (its log and /metrics say so),
// then catches up block by block: all four end at the same height and state root, same count.

import test from 'ava'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ActorId } from '../../protocol/ids.ts'
import { consensusFetchItemsMax } from '../../protocol/limits.ts'
import { ApiClient, signEnvelope, type SubnetInfo } from '../../node/cli/client.ts'
import { isOurDaemon, startDevnetNode } from '../../node/cli/commands/devnet.ts'
import { eventually, repoRoot, runCliAsync } from '../helpers/daemon-process.ts'
import { clientSigners, sendUpdates } from './_devnet-load.ts'
import { subnetInfo, testDevnet } from './_test-devnet.ts'

const counterWasm = join(repoRoot, 'contracts/build/counter-wat.wasm')
const interval = 10
const window = 24

/** Runs the CLI without blocking this process (the devnet's clients share the event loop). */
const runCli = async (args: string[], env: Record<string, string> = {}): Promise<{ status: number | null, stdout: string, stderr: string }> => await runCliAsync(args, { env, timeoutMs: 60_000 })

test('a replica stopped past the catch-up window state-syncs a certified checkpoint from the other daemons and ends with the same height and root', async t => {
  t.timeout(180_000)
  if (!existsSync(counterWasm)) t.fail(`${counterWasm} is missing: run npm run build:contracts`)
  const started = performance.now()
  const { dir, file } = await testDevnet(t, { prefix: 'pylon-state-sync-', nodes: 4, up: { deltaMs: 100, logLevel: 'info', stateSync: { checkpointIntervalHeights: interval, catchUpBlocksMax: window } } })
  const upSeconds = (performance.now() - started) / 1000
  const subnetId = file.subnet!
  const apis = file.nodes.map(n => new ApiClient(n.api))
  const { subnet } = await apis[0]!.subnet(subnetId)
  t.is(subnet.genesis.params.checkpointIntervalHeights, interval)
  t.is(subnet.genesis.params.catchUpBlocksMax, window)

  const deployed = await runCli(['deploy', counterWasm, '--api', file.nodes[0]!.api, '--json'], { HOME: join(dir, 'home'), PYLON_IDENTITY: '' })
  t.is(deployed.status, 0, deployed.stderr + deployed.stdout)
  const { actor } = JSON.parse(deployed.stdout) as { actor: ActorId }
  const signers = clientSigners(5)
  const first = await sendUpdates({ apis, signers, actor, method: 'inc', count: 10, concurrency: 10, subnet })
  t.is(first.ok, 10, first.failures.slice(0, 3).join('; '))

  // Stop one replica (SIGTERM: a clean stop) and let the other three run past its window.
  const victim = file.nodes[3]!
  const stoppedAt = Number((await subnetInfo(victim.api, subnetId))!.height)
  process.kill(victim.pid!, 'SIGTERM')
  await eventually('the stopped replica to exit', () => !isOurDaemon(victim), 15_000)
  const second = await sendUpdates({ apis: apis.slice(0, 3), signers, actor, method: 'inc', count: 10, concurrency: 10, subnet })
  t.is(second.ok, 10, second.failures.slice(0, 3).join('; '))
  // One catch-up answer carries up to consensusFetchItemsMax blocks: a gap that fits in one is walked, not synced.
  const beyond = stoppedAt + consensusFetchItemsMax + window + interval
  await eventually(`the others past height ${beyond}`, async () => Number((await subnetInfo(file.nodes[0]!.api, subnetId))?.height ?? 0) > beyond, 90_000, 500)

  // Restart it: it is too far behind to walk back, so it must state-sync, then follow.
  const restartedAt = performance.now()
  const beforeRestartSeconds = (restartedAt - started) / 1000
  victim.pid = startDevnetNode(victim)
  let agreed: SubnetInfo[] = []
  await eventually('all four replicas at the same height and state root', async () => {
    const infos = await Promise.all(file.nodes.map(async n => await subnetInfo(n.api, subnetId)))
    if (infos.some(i => i === undefined)) return false
    agreed = infos as SubnetInfo[]
    return agreed.every(i => i.height === agreed[0]!.height && i.stateRoot === agreed[0]!.stateRoot) && Number(agreed[0]!.height) > beyond
  }, 90_000, 300)
  const syncSeconds = (performance.now() - restartedAt) / 1000

  // Its log says it state-synced (not replayed) and from which checkpoint; /metrics counts it.
  const log = await readFile(victim.log, 'utf8')
  const done = log.split('\n').filter(line => line.includes('"state sync done"')).map(line => JSON.parse(line) as { height: string | number, chunks: number, bytes: number, seconds: number })
  t.is(done.length, 1, 'exactly one state sync')
  t.true(Number(done[0]!.height) > stoppedAt + window - interval && Number(done[0]!.height) % interval === 0, `synced to checkpoint ${done[0]!.height}`)
  t.true(done[0]!.chunks >= 2, 'state and code chunks')
  const metrics = await (await fetch(`${victim.api}/metrics`)).text()
  t.regex(metrics, new RegExp(`pylon_state_sync_height ${Number(done[0]!.height)}\\b`))
  t.regex(metrics, /pylon_state_sync_chunks_total [1-9]/)

  // pylon status shows where the sync stands (a line under the subnet, and the object in --json).
  const status = await runCli(['status', '--api', victim.api])
  t.is(status.status, 0, status.stderr)
  t.regex(status.stdout, new RegExp(`\\n  sync   done: checkpoint ${Number(done[0]!.height)}, ${done[0]!.chunks}/${done[0]!.chunks} chunks, [0-9.]+ kB, 1 attempt\\n`))
  const statusJson = JSON.parse((await runCli(['status', '--api', victim.api, '--json'])).stdout) as { subnets: Array<{ id: string, stateSync?: { phase: string, height: string } }> }
  t.like(statusJson.subnets.find(s => s.id === subnetId)?.stateSync, { phase: 'done', height: String(done[0]!.height) })

  // The count is exact everywhere, the synced replica included.
  const [querier] = clientSigners(1)
  for (const api of apis) {
    const answer = await api.query(signEnvelope({ kind: 'query', actor, method: 'get', payload: new Uint8Array() }, querier!))
    t.is(answer.resultUtf8, '20', `count on ${api.url}`)
  }
  t.log(`stopped at ${stoppedAt}, synced checkpoint ${done[0]!.height} (${done[0]!.chunks} chunks, ${done[0]!.bytes} bytes in ${done[0]!.seconds} s), all 4 at ${agreed[0]!.height} ${syncSeconds.toFixed(1)} s after the restart; devnet up ${upSeconds.toFixed(1)} s, restart at ${beforeRestartSeconds.toFixed(1)} s, test ${((performance.now() - started) / 1000).toFixed(1)} s`)
})
