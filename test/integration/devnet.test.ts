// A devnet of 4 real daemon processes forming one subnet: deploy the counter, send updates over the
// HTTP API, SIGKILL a replica, keep going on the other three, restart it from its data dir, and check
// it catches up: same height, same state root, the exact count. Every process is stopped in teardown.

import test from 'ava'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { ActorId } from '../../protocol/ids.ts'
import { ApiClient, signEnvelope, verifyIngressResult, type SubnetInfo } from '../../node/cli/client.ts'
import { isOurDaemon, startDevnetNode } from '../../node/cli/commands/devnet.ts'
import { eventually, repoRoot, runCliAsync } from '../helpers/daemon-process.ts'
import { clientSigners, sendUpdates } from './_devnet-load.ts'
import { subnetInfo, testDevnet } from './_test-devnet.ts'

// The full run (500 + 500 updates) is `npm run test:integration:full`; npm test runs the same steps
// with 150 + 150, so the whole suite stays within its time budget on a shared 2-core machine. Both
// use the WAT counter; PYLON_DEVNET_COUNTER=counter.wasm runs the 12 MB JS one (its install takes
// ~50 s here, every replica transpiling it).
const full = process.env.PYLON_DEVNET_FULL === '1'
const perPhase = full ? 500 : 150
const counterWasm = join(repoRoot, 'contracts/build', process.env.PYLON_DEVNET_COUNTER ?? 'counter-wat.wasm')

interface CliRun { status: number | null, stdout: string, stderr: string }

/** Runs the CLI without blocking this process (the devnet's clients share the event loop). */
const utf8 = (bytes: Uint8Array | null): string => (bytes === null ? '' : new TextDecoder().decode(bytes))

const cli = async (args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<CliRun> => await runCliAsync(args, { env, timeoutMs })

test('a 4-process devnet finalizes every update across a SIGKILL and restart, and all replicas agree', async t => {
  t.timeout(full ? 600_000 : 240_000)
  if (!existsSync(counterWasm)) t.fail(`${counterWasm} is missing: run npm run build:contracts`)
  const { dir, file } = await testDevnet(t, { prefix: 'pylon-devnet-', nodes: 4 })
  const home = join(dir, 'home')
  const subnetId = file.subnet!
  t.truthy(subnetId)
  const apis = file.nodes.map(n => new ApiClient(n.api))
  const { subnet } = await apis[0]!.subnet(subnetId)
  t.deepEqual([...subnet.memberIds].sort(), file.nodes.map(n => n.nodeId).sort(), 'the genesis lists every devnet node')

  // Deploy through the CLI, with no identity yet: it creates one at the default path and says so.
  const deployed = await cli(['deploy', counterWasm, '--api', file.nodes[0]!.api, '--json'], { HOME: home, PYLON_IDENTITY: '' })
  t.is(deployed.status, 0, deployed.stderr + deployed.stdout)
  t.regex(deployed.stderr, /created a client identity at .*home\/\.pylon\/identity/)
  const { actor, certified } = JSON.parse(deployed.stdout) as { actor: ActorId, certified: boolean }
  t.true(certified)
  t.true(actor.startsWith(`${subnetId}.`), actor)

  // Phase 1: concurrent updates to all four nodes; every result certified, each count seen once.
  const signers = clientSigners(20)
  const first = await sendUpdates({ apis, signers, actor, method: 'inc', count: perPhase, concurrency: 50, subnet })
  t.deepEqual(first.failures.slice(0, 5), [], `phase 1: ${first.failures.length} failures`)
  t.is(first.ok, perPhase)

  // One more update, sent to the replica about to be killed and kept: after that replica restarts,
  // the same envelope sent to it again must be answered from its store, and run nothing twice.
  const victim = file.nodes[3]!
  const [keeper] = clientSigners(1)
  const kept = signEnvelope({ kind: 'update', actor, method: 'inc', payload: new Uint8Array() }, keeper!)
  const keptOutcome = verifyIngressResult(await apis[3]!.submit(kept), subnet, kept)
  t.is(utf8(keptOutcome.result), String(perPhase + 1))
  // Its height's certificate is written just after the answer; a process kill loses nothing LevelDB wrote.
  await eventually('the victim to store the certificate of that height', async () => BigInt((await subnetInfo(victim.api, subnetId))?.certifiedHeight ?? '0') >= keptOutcome.height, 30_000)

  // SIGKILL one replica (the last: a member that is not node 0, which others bootstrap to first).
  process.kill(victim.pid!, 'SIGKILL')
  await eventually('the killed replica to be gone', () => !isOurDaemon(victim), 10_000)
  // One update while it is down: it commits that height only by catching up, when the shares for it
  // are long gone, so it can answer for it only with a certificate it asks the others for.
  const keptDown = signEnvelope({ kind: 'update', actor, method: 'inc', payload: new Uint8Array() }, keeper!)
  const keptDownOutcome = verifyIngressResult(await apis[0]!.submit(keptDown), subnet, keptDown)
  t.is(utf8(keptDownOutcome.result), String(perPhase + 2))

  // Phase 2: the remaining three (a quorum of 2f+1 = 3) keep finalizing.
  const second = await sendUpdates({ apis: apis.slice(0, 3), signers, actor, method: 'inc', count: perPhase, concurrency: 50, subnet })
  t.deepEqual(second.failures.slice(0, 5), [], `phase 2: ${second.failures.length} failures`)
  t.is(second.ok, perPhase)
  const counts = [...first.results, utf8(keptOutcome.result), utf8(keptDownOutcome.result), ...second.results].map(Number).sort((a, b) => a - b)
  t.deepEqual(counts, Array.from({ length: 2 * perPhase + 2 }, (_, i) => i + 1), 'each increment saw a distinct count: 1..N, none lost, none twice')

  // Restart it from its data dir: it recovers from its WAL and store and catches up.
  victim.pid = startDevnetNode(victim)
  let agreed: SubnetInfo[] = []
  await eventually('all four replicas at the same height and state root', async () => {
    const infos = await Promise.all(file.nodes.map(async n => await subnetInfo(n.api, subnetId)))
    if (infos.some(i => i === undefined)) return false
    agreed = infos as SubnetInfo[]
    return agreed.every(i => i.height === agreed[0]!.height && i.stateRoot === agreed[0]!.stateRoot) && BigInt(agreed[0]!.height) >= 2n
  }, 120_000, 500)
  t.log(`all 4 replicas at height ${agreed[0]!.height}, state root ${agreed[0]!.stateRoot.slice(0, 16)}…`)

  // The kept envelope, sent again to the restarted replica (whose memory of results is gone): the
  // same certified receipt, from its store, and no second increment.
  const again = verifyIngressResult(await apis[3]!.submit(kept), subnet, kept)
  t.is(again.height, keptOutcome.height)
  t.is(utf8(again.result), String(perPhase + 1))
  // The update sent while it was down: its height was caught up on, certified here with the
  // certificate the restarted replica asked the others for.
  const askedAt = performance.now()
  const caughtUp = verifyIngressResult(await apis[3]!.submit(keptDown), subnet, keptDown)
  t.is(caughtUp.height, keptDownOutcome.height)
  t.is(utf8(caughtUp.result), String(perPhase + 2))
  t.log(`node 3 answered for height ${caughtUp.height}, which it caught up on, ${Math.round(performance.now() - askedAt)} ms after being asked`)

  // The count is exact on every replica, including the restarted one.
  const [querier] = clientSigners(1)
  for (const api of apis) {
    const answer = await api.query(signEnvelope({ kind: 'query', actor, method: 'get', payload: new Uint8Array() }, querier!))
    t.is(answer.resultUtf8, String(2 * perPhase + 2), `count on ${api.url}`)
  }

  // The CLI's view of the same devnet: call verifies the certificate; errors are one clear line.
  const env = { HOME: home, PYLON_IDENTITY: '' }
  const call = await cli(['call', actor, 'inc', '--api', file.nodes[3]!.api, '--json'], env)
  t.is(call.status, 0, call.stderr)
  t.like(JSON.parse(call.stdout), { ok: true, result: String(2 * perPhase + 3), certified: true })
  const query = await cli(['query', actor, 'get', '--api', file.nodes[1]!.api], env)
  t.is(query.status, 0, query.stderr)
  t.regex(query.stdout, new RegExp(`^ok      true\\nresult  ${2 * perPhase + 3}\\n`))
  const actorError = await cli(['call', actor, 'nope', '--api', file.nodes[0]!.api, '--json'], env)
  t.is(actorError.status, 1, 'an actor error is a non-zero exit')
  t.like(JSON.parse(actorError.stdout), { ok: false, certified: true })
  t.regex((JSON.parse(actorError.stdout) as { error: string }).error, /unknown (update )?method/)
  const unknown = await cli(['call', `${subnetId}.999`, 'inc', '--api', file.nodes[0]!.api], env)
  t.is(unknown.status, 1)
  t.is(unknown.stderr, `pylon: unknown actor ${subnetId}.999 (never installed on its subnet, or deleted)\n`)
})
