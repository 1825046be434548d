// `npm run bench -- lifecycle [--calls N] [--rounds R]`: a devnet of 8 daemons on loopback, a subnet
// of 4 made by POST /v1/subnets (so four nodes are not members); deploy phases of the JS and WAT
// counters, call latency through a member and through a non-member (which relays the whole request
// to a member over /pylon/api-relay/1.0.0), side by side; then a second subnet of 4 on the other
// nodes and the ping–pong round trip across the two subnets beside the same round trip within one.
// It measures only; it stops every process it starts, also on error.

import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ActorId, SubnetId } from '../protocol/ids.ts'
import { clientDeployWaitMs } from '../protocol/limits.ts'
import type { Signer } from '../protocol/signature.ts'
import type { Subnet } from '../protocol/subnet.ts'
import { ApiClient, signEnvelope, verifyIngressResult, type IngressResult } from '../node/cli/client.ts'
import { devnetUp, isOurDaemon, stopNodes, type DevnetFile } from '../node/cli/commands/devnet.ts'
import { clientSigners, percentile, sendUpdate, type UpdateOutcome } from '../test/integration/_devnet-load.ts'

const repoRoot = join(import.meta.dirname, '..')
/** Bounds of every wait in this bench (ms): cluster formation, one subnet creation, one call. */
const formationWaitMs = 90_000
const callWaitMs = 30_000
/** Poll interval of GET /v1/ingress/:id for envelopes sent without a server-side wait (the non-member's answer is 202 at once). */
const pollMs = 5
const concurrentCalls = 200
const concurrency = 16
const concurrentDeadlineMs = 30_000
/** The interleaved sequential rounds start no new round after this. */
const sequentialDeadlineMs = 180_000
/** Daemons: two subnets of 4, and non-members of the first until the second forms. */
const daemons = 8
/** Ping–pong rounds start no new round after this; one round waits at most callWaitMs for its reply. */
const roundTripDeadlineMs = 120_000
/** Poll interval of ping's `stats` query while a round waits for the reply. */
const statsPollMs = 20

interface Created { ok: boolean, id?: string, members?: string[], error?: string }

export default async function lifecycleBench (args: string[]): Promise<void> {
  const at = args.indexOf('--calls')
  const calls = Math.min(1_000, Math.max(10, Number(at >= 0 ? args[at + 1] : 100) || 100))
  const at2 = args.indexOf('--rounds')
  const rounds = Math.min(500, Math.max(5, Number(at2 >= 0 ? args[at2 + 1] : 30) || 30))
  const loadStart = loadavg()
  const dir = mkdtempSync(join(tmpdir(), 'pylon-bench-lifecycle-'))
  let file: DevnetFile | undefined
  const killAll = (): void => { for (const n of file?.nodes ?? []) if (isOurDaemon(n)) process.kill(n.pid!, 'SIGKILL') }
  process.once('exit', killAll)
  const onSigint = (): void => { killAll(); process.exit(130) }
  process.once('SIGINT', onSigint)
  const out = (line: string): void => { process.stdout.write(line + '\n') }
  try {
    file = await devnetUp({ nodes: daemons, dir: join(dir, 'net'), subnets: 0, logLevel: 'warn' })
    const apis = file.nodes.map(n => new ApiClient(n.api))
    const ids = file.nodes.map(n => n.nodeId).sort()
    await eventually(`every capacity book to hold all ${daemons} adverts`, async () => {
      const books = await Promise.all(apis.map(async a => (await a.request<Array<{ nodeId: string }>>('GET', '/v1/capacity')).map(x => x.nodeId).sort()))
      return books.every(b => JSON.stringify(b) === JSON.stringify(ids))
    })
    const t0 = performance.now()
    const created = await apis[0]!.request<Created>('POST', '/v1/subnets', { body: new TextEncoder().encode(JSON.stringify({ size: 4, name: 'lifecycle' })), type: 'application/json', timeoutMs: 60_000 })
    if (!created.ok || created.id === undefined || created.members === undefined) throw new Error(`subnet create failed: ${created.error ?? JSON.stringify(created)}`)
    const subnetId = created.id as SubnetId
    const memberIndexes = file.nodes.filter(n => created.members!.includes(n.nodeId)).map(n => n.index)
    const outsider = file.nodes.find(n => !created.members!.includes(n.nodeId))!.index
    await eventually('every member to serve the subnet and the non-member to know it', async () => {
      const serving = await Promise.all(memberIndexes.map(async i => (await apis[i]!.subnets()).some(s => s.id === subnetId)))
      const known = (await apis[outsider]!.request<Array<{ id: string }>>('GET', '/v1/directory')).some(s => s.id === subnetId)
      return serving.every(Boolean) && known
    })
    const createMs = performance.now() - t0
    const member = apis[memberIndexes[0]!]!
    const other = apis[outsider]!
    const { subnet } = await member.subnet(subnetId)
    out(`lifecycle: ${daemons} daemons on loopback (${availableParallelism()} cores), subnet of 4 created by POST /v1/subnets in ${ms(createMs)} (placement, 4 genesis signatures, serving everywhere); node ${outsider} is not a member (nor are ${daemons - 5} others, until the second subnet forms)`)
    out(`load average at start: ${fmtLoad(loadStart)}`)
    out('')

    // 1. Deploy phases, WAT then JS (each: upload, certified install, certified first call).
    const signers = clientSigners(60) // the mempool lets one principal send ~50 updates/s
    const deployer = signers[0]!
    const rows: string[][] = []
    let jsActor: ActorId | undefined
    let actorName = ''
    for (const name of ['counter-wat', 'counter']) {
      const wasm = join(repoRoot, 'contracts/build', `${name}.wasm`)
      if (!existsSync(wasm)) {
        rows.push([name, 'missing: npm run build:contracts', '', '', ''])
        continue
      }
      const phases = await deployPhases(member, subnet, deployer, wasm, name)
      rows.push([`${name} (${mib(phases.bytes)})`, ms(phases.uploadMs), ms(phases.installMs), ms(phases.firstCallMs), ms(phases.uploadMs + phases.installMs + phases.firstCallMs)])
      // Calls go to the JS counter (the WAT one when the JS build is missing).
      jsActor = phases.actor
      actorName = name === 'counter' ? 'JS counter' : 'WAT counter'
    }
    out('deploy (certified install and first call, through a member)')
    out(table(['actor', 'upload', 'install', 'first call', 'total'], rows))
    out('')

    // 2. Call latency through a member and through the non-member, same actor, sequential then concurrent.
    if (jsActor === undefined) throw new Error('no counter actor built: npm run build:contracts')
    const actor = jsActor
    const target = { actor, method: 'inc', subnet, waitMs: callWaitMs }
    let k = 1
    const nextSigner = (): Signer => signers[(k++) % signers.length]!
    const viaMemberWait = async (): Promise<UpdateOutcome> => await sendUpdate(member, nextSigner(), target)
    const viaMemberPoll = async (): Promise<UpdateOutcome> => await submitAndPoll(member, member, subnet, nextSigner(), actor)
    const viaOutsiderWait = async (): Promise<UpdateOutcome> => await sendUpdate(other, nextSigner(), target)
    const routes: Array<[string, () => Promise<UpdateOutcome>]> = [
      ['member, POST ?wait=1', viaMemberWait],
      ['member, POST + poll', viaMemberPoll],
      ['non-member (relay), POST ?wait=1', viaOutsiderWait]
    ]
    // Sequential calls interleave the routes (call i goes through each in turn), so load drifting on
    // a shared machine during the run weighs on every route alike.
    const seq = await interleaved(routes.map(([, send]) => send), calls)
    const conc: Stats[] = []
    for (const [, send] of routes) conc.push(await concurrent(send, concurrentCalls, concurrency))
    const latencyRows: string[][] = []
    routes.forEach(([label], i) => {
      latencyRows.push([label, `${calls} sequential*`, ...statCells(seq[i]!)])
      latencyRows.push([label, `${concurrentCalls} at C=${concurrency}`, ...statCells(conc[i]!)])
    })
    out(`call latency: ${actorName} inc, each result certified and its certificate checked (poll interval ${pollMs} ms)`)
    out(table(['route', 'run', 'ok', 'failed', 'p50', 'p99', 'calls/s'], latencyRows))
    out('* sequential: one call in flight, the three routes interleaved call by call')
    out('')
    out('ratios non-member / member (p50, p99):')
    for (const [run, stats] of [['sequential', seq], [`concurrent C=${concurrency}`, conc]] as const) {
      out(`  ${run.padEnd(16)} non-member ?wait=1 vs member ?wait=1: ${ratio(stats[2]!.p50, stats[0]!.p50)} / ${ratio(stats[2]!.p99, stats[0]!.p99)}`)
    }
    // Failures grouped by cause (peer ids and ingress ids elided), so a refusal pattern is visible.
    const causes = new Map<string, number>()
    for (const f of [...seq, ...conc].flatMap(s => s.failures)) {
      const cause = f.replace(/12D3Koo\w+|bafy\w+|http:\/\/[\d.:]+: /g, '').slice(0, 200)
      causes.set(cause, (causes.get(cause) ?? 0) + 1)
    }
    for (const [cause, n] of causes) out(`  ${n} failed: ${cause}`)
    out('')
    // 3. Ping–pong: a second subnet on the other four nodes, pong on the first, ping on each.
    const second = await secondSubnet(apis, file, subnetId)
    const { routes: roundTrips, pongCount, sent } = await pingPong(apis, { id: subnetId, subnet, members: memberIndexes }, second, signers, rounds)
    out(`ping–pong round trip: a second subnet of 4 created by POST /v1/subnets in ${ms(second.createMs)}; pong on the first subnet, a ping actor on each`)
    out(`each round: ping's start (certified) sends ping to pong; the round ends when ping's stats (queried every ${statsPollMs} ms) count the reply`)
    out(table(['route', 'rounds', 'failed', 'start certified p50', 'round trip p50', 'p99', 'reply after start p50'], roundTrips.map(r => [
      r.label, String(r.total.length), String(r.failures.length), ms(percentile(r.start, 50)), ms(percentile(r.total, 50)), ms(percentile(r.total, 99)), ms(percentile(r.total.map((v, i) => v - r.start[i]!), 50))
    ])))
    for (const r of roundTrips) for (const f of new Set(r.failures)) out(`  ${r.label} failed: ${f.slice(0, 200)}`)
    out(`exactly once: pong counted ${pongCount} pings for ${sent} certified starts${pongCount === String(sent) ? '' : ' (MISMATCH)'}`)
    if (roundTrips.every(r => r.total.length > 0)) out(`ratio cross-subnet / same subnet (p50, p99): ${ratio(percentile(roundTrips[0]!.total, 50), percentile(roundTrips[1]!.total, 50))} / ${ratio(percentile(roundTrips[0]!.total, 99), percentile(roundTrips[1]!.total, 99))}`)
    out('')
    out(`load average at end: ${fmtLoad(loadavg())}`)
  } finally {
    if (file !== undefined) await stopNodes(file.nodes, 10_000)
    process.off('exit', killAll)
    process.off('SIGINT', onSigint)
    rmSync(dir, { recursive: true, force: true })
  }
}

interface Phases { bytes: number, uploadMs: number, installMs: number, firstCallMs: number, actor: ActorId }

interface Served { id: SubnetId, subnet: Subnet, members: number[] }

/** A second subnet of 4 made by node 0 (placement puts it on the nodes the first left), served and known everywhere. */
async function secondSubnet (apis: ApiClient[], file: DevnetFile, first: SubnetId): Promise<Served & { createMs: number }> {
  const t0 = performance.now()
  const created = await apis[0]!.request<Created>('POST', '/v1/subnets', { body: new TextEncoder().encode(JSON.stringify({ size: 4, name: 'lifecycle-2' })), type: 'application/json', timeoutMs: 60_000 })
  if (!created.ok || created.id === undefined || created.members === undefined) throw new Error(`second subnet create failed: ${created.error ?? JSON.stringify(created)}`)
  const id = created.id as SubnetId
  const members = file.nodes.filter(n => created.members!.includes(n.nodeId)).map(n => n.index)
  await eventually('every member of the second subnet to serve it and every node to know both subnets', async () => {
    const serving = await Promise.all(members.map(async i => (await apis[i]!.subnets()).some(s => s.id === id)))
    const known = await Promise.all(apis.map(async a => (await a.request<Array<{ id: string }>>('GET', '/v1/directory')).map(s => s.id)))
    return serving.every(Boolean) && known.every(list => list.includes(id) && list.includes(first))
  })
  const createMs = performance.now() - t0
  const { subnet } = await apis[members[0]!]!.subnet(id)
  return { id, subnet, members, createMs }
}

interface RoundTrips { label: string, start: number[], total: number[], failures: string[], sent: number }

/**
 * Deploys pong on `a`, one ping on `b` (across) and one on `a` (within), then `rounds` rounds of each,
 * interleaved: ping's `start` (certified), then ping's `stats` polled on a member of its subnet until
 * it counts the round's reply. Each ping talks to the same pong, so pong's count says every ping
 * arrived exactly once.
 */
async function pingPong (apis: ApiClient[], a: Served, b: Served, signers: Signer[], rounds: number): Promise<{ routes: RoundTrips[], pongCount: string, sent: number }> {
  const deployer = signers[0]!
  const install = async (at: Served, name: string): Promise<ActorId> => {
    const api = apis[at.members[0]!]!
    const code = new Uint8Array(await readFile(join(repoRoot, 'contracts/build', `${name}.wasm`)))
    const cid = await api.uploadCode(at.id, code)
    const ingress = signEnvelope({ kind: 'install', subnet: at.id, code: cid, arg: new Uint8Array(), name, controllers: [] }, deployer)
    const installed = verifyIngressResult(certified(await api.submit(ingress, { waitMs: clientDeployWaitMs }), name), at.subnet, ingress)
    if (!installed.ok) throw new Error(`install of ${name} on ${at.id} failed: ${installed.error ?? 'unknown error'}`)
    return installed.actor
  }
  for (const name of ['ping', 'pong']) if (!existsSync(join(repoRoot, 'contracts/build', `${name}.wasm`))) throw new Error(`contracts/build/${name}.wasm is missing: npm run build:contracts`)
  const pong = await install(a, 'pong')
  const routes = [
    { label: 'across subnets (ping on the second, pong on the first)', at: b, ping: await install(b, 'ping') },
    { label: 'within one subnet (ping and pong on the first)', at: a, ping: await install(a, 'ping') }
  ]
  const results: RoundTrips[] = routes.map(r => ({ label: r.label, start: [], total: [], failures: [], sent: 0 }))
  const started = performance.now()
  let k = 1
  for (let round = 1; round <= rounds && performance.now() - started < roundTripDeadlineMs; round++) {
    for (const [j, route] of routes.entries()) {
      const api = apis[route.at.members[(round + j) % route.at.members.length]!]!
      const signer = signers[(k++) % signers.length]!
      const outcome = await roundTrip(api, route.at.subnet, signer, route.ping, pong, results[j]!.sent + 1)
      if (outcome.startMs > 0) results[j]!.sent++
      if (outcome.failure !== undefined) results[j]!.failures.push(outcome.failure)
      else {
        results[j]!.start.push(outcome.startMs)
        results[j]!.total.push(outcome.totalMs)
      }
    }
  }
  // Exactly once: pong counted one ping per certified start of either route, no more, no fewer.
  const pongCount = await queryText(apis[a.members[0]!]!, signers[1]!, pong, 'count')
  return { routes: results, pongCount, sent: results.reduce((n, r) => n + r.sent, 0) }
}

/** One round: `start` through `api` (certified), then ping's stats until `replies=<replies>`. */
async function roundTrip (api: ApiClient, subnet: Subnet, signer: Signer, ping: ActorId, pong: ActorId, replies: number): Promise<{ startMs: number, totalMs: number, failure?: string }> {
  const t0 = performance.now()
  try {
    const ingress = signEnvelope({ kind: 'update', actor: ping, method: 'start', payload: new TextEncoder().encode(pong) }, signer)
    const answer = await api.submit(ingress, { waitMs: callWaitMs })
    if (answer.status !== 'certified' || answer.receipt?.ok !== true) return { startMs: 0, totalMs: 0, failure: `start: ${answer.status} ${answer.reason ?? answer.receipt?.error ?? ''}` }
    verifyIngressResult(answer, subnet, ingress)
    const startMs = performance.now() - t0
    for (;;) {
      const stats = await queryText(api, signer, ping, 'stats')
      if (stats.includes(`replies=${replies} `)) return { startMs, totalMs: performance.now() - t0 }
      if (!stats.includes('rejects=0 ')) return { startMs, totalMs: 0, failure: `rejected: ${stats}` }
      if (performance.now() - t0 > callWaitMs) return { startMs, totalMs: 0, failure: `no reply within ${callWaitMs} ms: ${stats}` }
      await new Promise(resolve => setTimeout(resolve, statsPollMs))
    }
  } catch (error) {
    return { startMs: 0, totalMs: 0, failure: `${api.url}: ${(error as Error).message}` }
  }
}

async function queryText (api: ApiClient, signer: Signer, actor: ActorId, method: string): Promise<string> {
  const answer = await api.query(signEnvelope({ kind: 'query', actor, method, payload: new Uint8Array() }, signer))
  if (!answer.ok) throw new Error(`query ${method} of ${actor}: ${answer.error ?? 'failed'}`)
  return answer.resultUtf8 ?? ''
}

/** The three phases of `pylon deploy` plus a first call, timed apart; each answer's certificate checked. */
async function deployPhases (api: ApiClient, subnet: Subnet, signer: Signer, wasm: string, name: string): Promise<Phases> {
  const code = new Uint8Array(await readFile(wasm))
  const t0 = performance.now()
  const cid = await api.uploadCode(subnet.id, code)
  const t1 = performance.now()
  const install = signEnvelope({ kind: 'install', subnet: subnet.id, code: cid, arg: new Uint8Array(), name, controllers: [] }, signer)
  const installed = verifyIngressResult(certified(await api.submit(install, { waitMs: clientDeployWaitMs }), name), subnet, install)
  if (!installed.ok) throw new Error(`install of ${name} failed: ${installed.error ?? 'unknown error'}`)
  const t2 = performance.now()
  const first = await sendUpdate(api, signer, { actor: installed.actor, method: 'inc', subnet, waitMs: callWaitMs })
  if (first.failure !== undefined) throw new Error(`first call of ${name} failed: ${first.failure}`)
  const t3 = performance.now()
  return { bytes: code.length, uploadMs: t1 - t0, installMs: t2 - t1, firstCallMs: t3 - t2, actor: installed.actor }
}

function certified (result: IngressResult, name: string): IngressResult {
  if (result.status !== 'certified') throw new Error(`install of ${name}: ${result.status} ${result.reason ?? ''}`)
  return result
}

/** POSTs an update to `entry` without waiting, then polls `member`'s GET /v1/ingress/:id until the certified result, checked. */
async function submitAndPoll (entry: ApiClient, member: ApiClient, subnet: Subnet, signer: Signer, actor: ActorId): Promise<UpdateOutcome> {
  const ingress = signEnvelope({ kind: 'update', actor, method: 'inc', payload: new Uint8Array() }, signer)
  const t0 = performance.now()
  const deadline = t0 + callWaitMs
  try {
    await entry.request<IngressResult>('POST', '/v1/ingress', { body: ingress.bytes, type: 'application/cbor' })
    for (;;) {
      const answer = await member.request<IngressResult | undefined>('GET', `/v1/ingress/${encodeURIComponent(ingress.id)}`, { notFoundIsPending: true })
      if (answer !== undefined && answer.status !== 'pending') {
        const latencyMs = performance.now() - t0
        if (answer.status !== 'certified' || answer.receipt?.ok !== true) return { latencyMs, failure: `${ingress.id}: ${answer.status} ${answer.reason ?? answer.receipt?.error ?? ''}` }
        verifyIngressResult(answer, subnet, ingress)
        return { latencyMs, result: answer.receipt.resultUtf8 ?? '' }
      }
      if (performance.now() > deadline) return { latencyMs: performance.now() - t0, failure: `${ingress.id}: not certified within ${callWaitMs} ms` }
      await new Promise(resolve => setTimeout(resolve, pollMs))
    }
  } catch (error) {
    return { latencyMs: performance.now() - t0, failure: `${entry.url}: ${(error as Error).message}` }
  }
}

interface Stats { ok: number, failures: string[], p50: number, p99: number, perSecond: number }

/** `count` rounds of one call through each sender in turn, one call in flight; each sender's own figures. */
async function interleaved (senders: Array<() => Promise<UpdateOutcome>>, count: number): Promise<Stats[]> {
  const runs = senders.map(() => ({ latencies: [] as number[], failures: [] as string[], busyMs: 0 }))
  const start = performance.now()
  for (let i = 0; i < count && performance.now() - start < sequentialDeadlineMs; i++) {
    for (const [j, send] of senders.entries()) {
      const t0 = performance.now()
      const outcome = await send()
      runs[j]!.busyMs += performance.now() - t0
      if (outcome.failure === undefined) runs[j]!.latencies.push(outcome.latencyMs)
      else runs[j]!.failures.push(outcome.failure)
    }
  }
  return runs.map(r => ({ ok: r.latencies.length, failures: r.failures, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99), perSecond: r.latencies.length / (r.busyMs / 1000) }))
}

/** `count` calls, at most `inFlight` at once, starting no new one after concurrentDeadlineMs. */
async function concurrent (send: () => Promise<UpdateOutcome>, count: number, inFlight: number): Promise<Stats> {
  const latencies: number[] = []
  const failures: string[] = []
  const start = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() - start < concurrentDeadlineMs) {
      next++
      const outcome = await send()
      if (outcome.failure === undefined) latencies.push(outcome.latencyMs)
      else failures.push(outcome.failure)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const elapsed = performance.now() - start
  return { ok: latencies.length, failures, p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: latencies.length / (elapsed / 1000) }
}

async function eventually (what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + formationWaitMs
  let last = ''
  while (performance.now() < deadline) {
    try {
      if (await check()) return
    } catch (error) {
      last = (error as Error).message
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`timed out after ${formationWaitMs} ms waiting for ${what}${last === '' ? '' : ` (last error: ${last})`}`)
}

function statCells (s: Stats): string[] {
  return [String(s.ok), String(s.failures.length), ms(s.p50), ms(s.p99), s.perSecond.toFixed(1)]
}

function table (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  return [head, ...rows].map(r => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

function ms (value: number): string {
  if (Number.isNaN(value)) return 'n/a'
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`
}

function mib (bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`
}

function ratio (a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a'
}

function fmtLoad (l: number[]): string {
  return l.map(x => x.toFixed(2)).join(' ')
}
