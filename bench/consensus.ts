// `npm run bench -- consensus [--seconds S] [--rate R] [--transport both|http|stream] [--streams K] [--alternate N]`: a
// devnet of 4 replica processes on loopback; signed updates to counter-wat and to the JS counter,
// over HTTP (one POST /v1/ingress?wait=1 per update) and over the ingress stream (K WebSockets per
// node, GET /v1/ingress/stream), measured side by side in one run, step by step alternately.
// Sustained finalized updates/s (closed loop, rising concurrency), then p50/p99 latency at half that
// rate (open loop), printed beside this machine's Ed25519 verifications/s, the physical bound. Each
// run's envelopes are signed before its clock starts (a client's signing is the client's cost, on
// other machines in real use; here it would take the replicas' cores). --alternate N adds, for
// counter-wat, N rounds of one HTTP and one stream window at 512 in flight, then N rounds of each at
// one offered rate (--rate R, else 400/s) for p50/p99, with medians and ratios: the transport
// comparison with the box's drift averaged out. Stops every process it starts.

import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ActorId } from '../protocol/ids.ts'
import type { RequestId } from '../protocol/ingress.ts'
import { verifyEd25519, type Signer } from '../protocol/signature.ts'
import type { Subnet } from '../protocol/subnet.ts'
import { encode, decode } from '../protocol/codec.ts'
import { ApiClient, IngressStream, signEnvelope, verifyIngressResult, type StreamResult } from '../node/cli/client.ts'
import { devnetUp, isOurDaemon, stopNodes, type DevnetFile } from '../node/cli/commands/devnet.ts'
import { deploy } from '../node/cli/commands/deploy.ts'
import { createIdentity } from '../node/identity/identity-file.ts'
import { clientSigners, percentile } from '../test/integration/_devnet-load.ts'

const repoRoot = join(import.meta.dirname, '..')
/** Both transports climb this ladder (3 steps where one transport had 6, so both fit in about the time one took). */
const concurrencies = [64, 512, 1024]
/** The stream keeps climbing while it grows: its client costs little per update in flight. */
const streamOnlyConcurrencies = [2048]
const cores = availableParallelism()
/** Open-loop arrivals allowed to be outstanding before the run counts as overloaded. */
const openLoopInFlightMax = 2_000

export default async function consensusBench (args: string[]): Promise<void> {
  const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 6) || 6
  // --rate R: also measure latency at R updates/s offered (to compare runs at one load, not at half of each one's rate).
  const rate = args.includes('--rate') ? Number(args[args.indexOf('--rate') + 1]) : undefined
  if (rate !== undefined && !(rate > 0)) throw new Error(`--rate must be a positive number of updates/s, got ${args[args.indexOf('--rate') + 1]}`)
  const transportArg = args.includes('--transport') ? args[args.indexOf('--transport') + 1] : 'both'
  if (transportArg !== 'both' && transportArg !== 'http' && transportArg !== 'stream') throw new Error(`--transport must be both, http or stream, got ${transportArg}`)
  const transports: Transport[] = transportArg === 'both' ? ['http', 'stream'] : [transportArg]
  const streamsPerNode = args.includes('--streams') ? Number(args[args.indexOf('--streams') + 1]) : 1
  if (!Number.isInteger(streamsPerNode) || streamsPerNode < 1 || streamsPerNode > 8) throw new Error(`--streams must be 1..8 WebSockets per node, got ${args[args.indexOf('--streams') + 1]}`)
  const alternate = args.includes('--alternate') ? Number(args[args.indexOf('--alternate') + 1]) : 0
  if (!Number.isInteger(alternate) || alternate < 0 || alternate > 20) throw new Error(`--alternate must be 0..20 rounds, got ${args[args.indexOf('--alternate') + 1]}`)
  if (alternate > 0 && transports.length < 2) throw new Error('--alternate compares the transports: use it with --transport both')
  const verifies = ed25519VerifiesPerSecond()
  const dir = mkdtempSync(join(tmpdir(), 'pylon-bench-consensus-'))
  let file: DevnetFile | undefined
  const streams: IngressStream[] = []
  const killAll = (): void => { for (const n of file?.nodes ?? []) if (isOurDaemon(n)) process.kill(n.pid!, 'SIGKILL') }
  process.once('exit', killAll)
  process.once('SIGINT', () => { killAll(); process.exit(130) })
  try {
    file = await devnetUp({ nodes: 4, dir: join(dir, 'net'), subnets: 1, logLevel: 'warn' })
    const apis = file.nodes.map(n => new ApiClient(n.api))
    const { subnet } = await apis[0]!.subnet(file.subnet!)
    const identity = join(dir, 'identity')
    await createIdentity(identity)
    const idle = await idleCost(file, apis[0]!, subnet.id)
    const signers = clientSigners(400) // 400 principals × 50/s each: the mempool's per-principal rate is no bound here
    // One stream (or --streams K) per node, round-robin like the HTTP load; answers are not verified, as on HTTP (the client's cost).
    if (transports.includes('stream')) for (let k = 0; k < streamsPerNode; k++) for (const node of file.nodes) streams.push(await IngressStream.open(node.api))
    const lines: string[] = []
    for (const name of ['counter-wat', 'counter']) {
      const wasm = join(repoRoot, 'contracts/build', `${name}.wasm`)
      if (!existsSync(wasm)) {
        lines.push(`${name.padEnd(12)} skipped: ${wasm} missing (npm run build:contracts)`)
        continue
      }
      let actor: ActorId
      try {
        actor = (await deploy(wasm, { api: file.nodes[0]!.api, init: '', identity })).actor
      } catch (error) {
        lines.push(`${name.padEnd(12)} not measured: deploy failed: ${(error as Error).message}`)
        process.stdout.write(lines.at(-1)! + '\n')
        continue
      }
      const envelopes = new Presigned(signers, actor)
      const target: Target = { envelopes, file, apis, streams, signers, actor, subnet, seconds, ...(rate === undefined ? {} : { rate }) }
      lines.push(await measureActor(name, target, transports))
      process.stdout.write(lines.at(-1)! + '\n')
      if (alternate > 0 && name === 'counter-wat') {
        lines.push(await alternateTransports(target, alternate, 512))
        process.stdout.write(lines.at(-1)! + '\n')
      }
    }
    process.stdout.write([
      '',
      `consensus: 4 replicas (f=1) on one machine (${cores} cores, load average ${loadavg()[0]!.toFixed(1)} at the end), ${apis.length} APIs, updates signed by ${signers.length} clients; ${transports.map(t => t === 'http' ? 'http: one POST /v1/ingress?wait=1 per update (≤ 240 keep-alive sockets per API)' : `stream: ${streams.length} WebSockets (GET /v1/ingress/stream), ${streamsPerNode} per node`).join('; ')}`,
      `idle subnet: ${idle.heightsPerSecond.toFixed(1)} empty heights/s using ${idle.cores.toFixed(2)} cores`,
      ...lines,
      ...(lastAnswer === undefined ? [] : [answerCodecCost(lastAnswer), verifyCost(lastAnswer, subnet)]),
      `ed25519 verify: ${Math.round(verifies.sodium)}/s on one core with libsodium, the protocol's verifier (node:crypto's OpenSSL: ${Math.round(verifies.openssl)}/s, ×${(verifies.sodium / verifies.openssl).toFixed(2)}) (each update is checked by the member its client sent it to and by the 2f+1 members checksSignature names, once each, plus votes and certificate shares)`,
      'goal: ≥ 2,000 updates/s sustained, p50 ≤ 20 ms, p99 ≤ 100 ms at half load'
    ].join('\n') + '\n')
  } finally {
    await Promise.all(streams.map(async s => { await s.close() }))
    if (file !== undefined) await stopNodes(file.nodes, 10_000)
    process.off('exit', killAll)
    rmSync(dir, { recursive: true, force: true })
  }
}

export interface Target {
  /** Envelopes signed ahead of the run that sends them. */
  envelopes: Presigned
  file: DevnetFile
  apis: ApiClient[]
  /** Open ingress streams, round-robin over the nodes (the stream transport). */
  streams?: IngressStream[]
  signers: Signer[]
  actor: ActorId
  subnet: Subnet
  seconds: number
  /** An extra open-loop rate to report latency at. */
  rate?: number
}

type Transport = 'http' | 'stream'

interface Best { rate: number, concurrency: number, cpuMsPerUpdate: number, cpuShare: number, clientMsPerUpdate: number, heightsPerSecond: number }

async function measureActor (name: string, target: Target, transports: Transport[]): Promise<string> {
  // Closed loop: C clients each waiting for its certified result, C rising until throughput stops
  // growing; the transports take turns at each C (which goes first alternates), so both see the
  // same warm-up and the same box.
  const best = new Map<Transport, Best>(transports.map(t => [t, { rate: 0, concurrency: 0, cpuMsPerUpdate: Number.NaN, cpuShare: 0, clientMsPerUpdate: Number.NaN, heightsPerSecond: 0 }]))
  const steps = new Map<Transport, string[]>(transports.map(t => [t, []]))
  const climbing = new Set<Transport>(transports)
  const ladder = [...concurrencies, ...streamOnlyConcurrencies]
  for (const [step, concurrency] of ladder.entries()) {
    const turn = step % 2 === 0 ? transports : [...transports].reverse()
    for (const transport of turn) {
      if (!climbing.has(transport) || (transport === 'http' && !concurrencies.includes(concurrency))) continue
      const so = best.get(transport)!
      // Enough for this step at twice the best rate so far (past the end, the step signs as it goes).
      target.envelopes.fill(Math.ceil(Math.max(1_500, so.rate * 2) * target.seconds))
      const cpuBefore = daemonCpuMs(target.file)
      const clientBefore = process.cpuUsage()
      const heightBefore = await heightOf(target)
      const report = await closedLoop(target, concurrency, target.seconds * 1000, transport)
      const heights = Number(await heightOf(target) - heightBefore)
      const cpuMs = daemonCpuMs(target.file) - cpuBefore
      const clientUsage = process.cpuUsage(clientBefore)
      const clientMs = (clientUsage.user + clientUsage.system) / 1000
      const rate = report.ok / (report.elapsedMs / 1000)
      steps.get(transport)!.push(`C=${concurrency}: ${Math.round(rate)}/s${report.failures.length > 0 ? ` (${report.failures.length} failed: ${report.failures[0]!.slice(0, 80)})` : ''}`)
      if (rate > so.rate) {
        best.set(transport, { rate, concurrency, cpuMsPerUpdate: report.ok > 0 ? cpuMs / report.ok : Number.NaN, cpuShare: cpuMs / report.elapsedMs, clientMsPerUpdate: report.ok > 0 ? clientMs / report.ok : Number.NaN, heightsPerSecond: heights / (report.elapsedMs / 1000) })
      } else climbing.delete(transport)
    }
  }
  const lines: string[] = []
  for (const [k, transport] of transports.entries()) {
    const b = best.get(transport)!
    const label = (k === 0 ? name : '').padEnd(12)
    const via = transport === 'http' ? 'http  ' : 'stream'
    lines.push(
      `${label} ${via} sustained ${Math.round(b.rate)} updates/s (closed loop; ${steps.get(transport)!.join(', ')})`,
      `${''.padEnd(12)} ${via} replicas used ${b.cpuMsPerUpdate.toFixed(2)} ms CPU per certified update (4 replicas together), ${b.cpuShare.toFixed(2)} cores busy: the daemons alone could do ≈ ${Math.round(cores * 1000 / b.cpuMsPerUpdate)}/s on ${cores} idle cores`,
      `${''.padEnd(12)} ${via} ${b.heightsPerSecond.toFixed(1)} heights/s, ${(b.rate / b.heightsPerSecond).toFixed(0)} updates per height on average`,
      `${''.padEnd(12)} ${via} the load generator (this process: ${transport === 'http' ? 'HTTP' : 'WebSocket frames'}, plus signing past the pre-signed envelopes) used ${b.clientMsPerUpdate.toFixed(2)} ms CPU per update on the same cores`
    )
  }
  // Open loop: arrivals on a fixed schedule, whatever the answers do. Every transport at half the
  // first transport's sustained rate (one load for all), then each other one at half its own.
  const rates: Array<{ transport: Transport, perSecond: number, note: string }> = []
  const first = Math.max(1, best.get(transports[0]!)!.rate / 2)
  for (const transport of transports) rates.push({ transport, perSecond: first, note: transport === transports[0] ? 'half load' : `half the ${transports[0]} rate` })
  for (const transport of transports.slice(1)) rates.push({ transport, perSecond: Math.max(1, best.get(transport)!.rate / 2), note: 'half load' })
  if (target.rate !== undefined) for (const transport of transports) rates.push({ transport, perSecond: target.rate, note: '--rate' })
  for (const { transport, perSecond, note } of rates) {
    target.envelopes.fill(Math.ceil(perSecond * target.seconds) + 1)
    const openFrom = await heightOf(target)
    const open = await openLoop(target, perSecond, target.seconds * 1000, transport)
    const openHeights = Number(await heightOf(target) - openFrom)
    lines.push(`${''.padEnd(12)} ${transport === 'http' ? 'http  ' : 'stream'} at ${Math.round(perSecond)}/s offered (${note}): p50 ${open.p50.toFixed(1)} ms, p99 ${open.p99.toFixed(1)} ms, ${open.ok} certified, ${open.failed} failed${open.firstFailure === undefined ? '' : ` (first: ${open.firstFailure.slice(0, 100)})`}${open.overloaded ? ', OVERLOADED (arrivals outran answers)' : ''}; ${(open.ok / Math.max(1, openHeights)).toFixed(1)} updates per height`)
  }
  return lines.join('\n')
}

/**
 * `rounds` rounds of one closed-loop window per transport at `concurrency` in flight (which goes
 * first alternates), right after the ladder warmed the devnet: per-round figures, then medians and
 * stream/http ratios.
 */
async function alternateTransports (target: Target, rounds: number, concurrency: number): Promise<string> {
  const figures = new Map<Transport, Array<{ rate: number, cpuMs: number, clientMs: number }>>([['http', []], ['stream', []]])
  const failures: string[] = []
  for (let round = 0; round < rounds; round++) {
    for (const transport of (round % 2 === 0 ? ['http', 'stream'] : ['stream', 'http']) as Transport[]) {
      target.envelopes.fill(Math.ceil(3_000 * target.seconds))
      const cpuBefore = daemonCpuMs(target.file)
      const clientBefore = process.cpuUsage()
      const report = await closedLoop(target, concurrency, target.seconds * 1000, transport)
      const cpuMs = daemonCpuMs(target.file) - cpuBefore
      const client = process.cpuUsage(clientBefore)
      if (report.failures.length > 0) failures.push(`round ${round + 1} ${transport}: ${report.failures.length} failed (${report.failures[0]!.slice(0, 80)})`)
      figures.get(transport)!.push({ rate: report.ok / (report.elapsedMs / 1000), cpuMs: cpuMs / Math.max(1, report.ok), clientMs: (client.user + client.system) / 1000 / Math.max(1, report.ok) })
    }
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const of = (t: Transport): { rate: number, cpuMs: number, clientMs: number } => {
    const list = figures.get(t)!
    return { rate: median(list.map(f => f.rate)), cpuMs: median(list.map(f => f.cpuMs)), clientMs: median(list.map(f => f.clientMs)) }
  }
  const http = of('http')
  const stream = of('stream')
  // Latency the same way: one open-loop window per transport per round at one offered rate.
  const perSecond = target.rate ?? 400
  const latency = new Map<Transport, Array<{ p50: number, p99: number }>>([['http', []], ['stream', []]])
  for (let round = 0; round < rounds; round++) {
    for (const transport of (round % 2 === 0 ? ['http', 'stream'] : ['stream', 'http']) as Transport[]) {
      target.envelopes.fill(Math.ceil(perSecond * target.seconds) + 1)
      const open = await openLoop(target, perSecond, target.seconds * 1000, transport)
      if (open.failed > 0) failures.push(`open loop round ${round + 1} ${transport}: ${open.failed} failed (${open.firstFailure?.slice(0, 80) ?? ''})`)
      latency.get(transport)!.push({ p50: open.p50, p99: open.p99 })
    }
  }
  const p = (t: Transport, q: 'p50' | 'p99'): number => median(latency.get(t)!.map(l => l[q]))
  return [
    `${''.padEnd(12)} alternating, ${rounds} rounds at C=${concurrency}: http ${figures.get('http')!.map(f => Math.round(f.rate)).join(', ')}/s; stream ${figures.get('stream')!.map(f => Math.round(f.rate)).join(', ')}/s`,
    ...failures.map(f => `${''.padEnd(12)} ${f}`),
    `${''.padEnd(12)} alternating, ${rounds} rounds at ${perSecond}/s offered: p50/p99 http ${latency.get('http')!.map(l => `${l.p50.toFixed(0)}/${l.p99.toFixed(0)}`).join(', ')} ms; stream ${latency.get('stream')!.map(l => `${l.p50.toFixed(0)}/${l.p99.toFixed(0)}`).join(', ')} ms; medians http ${p('http', 'p50').toFixed(1)}/${p('http', 'p99').toFixed(1)} ms, stream ${p('stream', 'p50').toFixed(1)}/${p('stream', 'p99').toFixed(1)} ms`,
    `${''.padEnd(12)} medians: http ${Math.round(http.rate)}/s, ${http.cpuMs.toFixed(2)} ms replica CPU and ${http.clientMs.toFixed(3)} ms client CPU per update; stream ${Math.round(stream.rate)}/s, ${stream.cpuMs.toFixed(2)} and ${stream.clientMs.toFixed(3)} ms; stream/http ${(stream.rate / http.rate).toFixed(2)}× updates/s, ${(stream.cpuMs / http.cpuMs).toFixed(2)}× replica CPU, ${(stream.clientMs / http.clientMs).toFixed(2)}× client CPU`
  ].join('\n')
}

/** The subnet's committed height as the first node reports it. */
export async function heightOf (target: Target): Promise<bigint> {
  return BigInt((await target.apis[0]!.subnet(target.subnet.id)).info.height)
}

/**
 * What an idle subnet costs: empty heights per second and the cores its replicas keep busy. Measured
 * after the daemons settle: right after start, JIT compilation, identify, the DHT and gossipsub
 * meshes forming kept them busy (4 daemons, 3 s windows from start: 0.51, 0.28, then 0.12–0.18 cores from 6 s on), which is no idle figure.
 */
async function idleCost (file: DevnetFile, api: ApiClient, id: Subnet['id']): Promise<{ heightsPerSecond: number, cores: number }> {
  await new Promise(resolve => setTimeout(resolve, 8_000))
  const h0 = BigInt((await api.subnet(id)).info.height)
  const cpu0 = daemonCpuMs(file)
  const t0 = performance.now()
  await new Promise(resolve => setTimeout(resolve, 5_000))
  const h1 = BigInt((await api.subnet(id)).info.height)
  const elapsed = performance.now() - t0
  return { heightsPerSecond: Number(h1 - h0) / (elapsed / 1000), cores: (daemonCpuMs(file) - cpu0) / elapsed }
}

export async function openLoop (target: Target, ratePerSecond: number, durationMs: number, transport: Transport = 'http'): Promise<{ p50: number, p99: number, ok: number, failed: number, firstFailure?: string, overloaded: boolean }> {
  const latencies: number[] = []
  let failed = 0
  let firstFailure: string | undefined
  let inFlight = 0
  let overloaded = false
  const pending: Array<Promise<void>> = []
  const start = performance.now()
  const total = Math.floor(ratePerSecond * durationMs / 1000)
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / ratePerSecond
    const wait = due - performance.now()
    if (wait > 1) await new Promise(resolve => setTimeout(resolve, wait))
    if (inFlight >= openLoopInFlightMax) {
      overloaded = true
      break
    }
    inFlight++
    pending.push(sendUpdate(target, i, transport).then(outcome => {
      inFlight--
      if (outcome.failure === undefined) latencies.push(outcome.latencyMs)
      else {
        failed++
        firstFailure ??= outcome.failure
      }
    }))
  }
  await Promise.all(pending)
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ok: latencies.length, failed, ...(firstFailure === undefined ? {} : { firstFailure }), overloaded }
}

/** CPU time (user + system, ms) the devnet's daemons have used so far, from /proc (Linux; 0 elsewhere). */
export function daemonCpuMs (file: DevnetFile): number {
  let ticks = 0
  for (const node of file.nodes) {
    try {
      const fields = readFileSync(`/proc/${node.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
      ticks += Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of stat)
    } catch {}
  }
  return ticks * 10 // USER_HZ is 100 on Linux
}

/**
 * Ed25519 verifications per second on one core, the cost every signed update pays several times:
 * with the protocol's verifier (libsodium) and, for reference, node:crypto's (OpenSSL), alternating.
 */
function ed25519VerifiesPerSecond (): { sodium: number, openssl: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))
  const message = Buffer.alloc(200, 7)
  const signature = sign(null, message, privateKey)
  const rate = (check: () => boolean): number => {
    let count = 0
    const start = performance.now()
    while (performance.now() - start < 250) {
      for (let i = 0; i < 100; i++) if (!check()) throw new Error('a valid signature did not verify: the benchmark is wrong')
      count += 100
    }
    return count / ((performance.now() - start) / 1000)
  }
  const runs = { sodium: [] as number[], openssl: [] as number[] }
  for (let round = 0; round < 4; round++) {
    runs.sodium.push(rate(() => verifyEd25519(raw, message, signature)))
    runs.openssl.push(rate(() => verify(null, message, publicKey, signature)))
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1]!
  return { sodium: median(runs.sodium), openssl: median(runs.openssl) }
}

/** Signed `inc` envelopes, made ahead of a run; signs on demand once the ones made ahead are used up. */
export class Presigned {
  readonly #signers: Signer[]
  readonly #actor: ActorId
  /** Oldest first; `#head` is the next one to send. */
  #ready: Array<{ bytes: Uint8Array, signedMs: number }> = []
  #head = 0
  #made = 0

  constructor (signers: Signer[], actor: ActorId) {
    this.#signers = signers
    this.#actor = actor
  }

  /** Signs until `count` unused envelopes wait, dropping leftovers older than a minute (they expire after clientIngressTtlMs). */
  fill (count: number): void {
    const fresh = this.#ready.slice(this.#head).filter(e => performance.now() - e.signedMs < 60_000)
    while (fresh.length < count) fresh.push({ bytes: this.#sign(), signedMs: performance.now() })
    this.#ready = fresh
    this.#head = 0
  }

  next (): Uint8Array {
    return this.#head < this.#ready.length ? this.#ready[this.#head++]!.bytes : this.#sign()
  }

  #sign (): Uint8Array {
    const signer = this.#signers[this.#made++ % this.#signers.length]!
    return signEnvelope({ kind: 'update', actor: this.#actor, method: 'inc', payload: new Uint8Array() }, signer).bytes
  }
}

/** One keep-alive connection pool per API: the client must not be what the benchmark measures. */
const agents = new Map<string, Agent>()

interface Outcome { latencyMs: number, failure?: string }

async function sendUpdate (target: Target, i: number, transport: Transport): Promise<Outcome> {
  return transport === 'http' ? await postUpdate(target, i) : await streamUpdate(target, i)
}

/** The last certified stream answer, for the frame-encoding figures. */
let lastAnswer: StreamResult | undefined

/**
 * One signed `inc` as a frame on one of the ingress streams (round-robin over the nodes, as HTTP),
 * answered once certified. As on HTTP, the bench checks status and receipt, not the certificate.
 */
async function streamUpdate (target: Target, i: number): Promise<Outcome> {
  const streams = target.streams ?? []
  const stream = streams[i % streams.length]
  if (stream === undefined) return { latencyMs: 0, failure: 'no ingress stream open' }
  const bytes = target.envelopes.next()
  const t0 = performance.now()
  try {
    const answer = await stream.submit(bytes, { waitMs: 35_000 })
    const latencyMs = performance.now() - t0
    if (answer.status === 'certified' && answer.receipt?.ok === true) {
      lastAnswer = answer
      return { latencyMs }
    }
    return { latencyMs, failure: `${stream.url}: stream ${answer.code} ${answer.status} ${answer.reason ?? answer.receipt?.error ?? ''}` }
  } catch (error) {
    return { latencyMs: performance.now() - t0, failure: `${stream.url}: stream ${(error as Error).message}` }
  }
}

/**
 * What a client that trusts nothing pays per answer: verifyIngressResult (certificate signatures
 * of a quorum, receipt proof, receipt fields) on a real certified answer of this run. The bench's
 * load does not verify (as on HTTP); `pylon call`, the devnet test and a verifying IngressStream do.
 */
function verifyCost (answer: StreamResult, subnet: Subnet): string {
  const sent = { requestId: answer.requestId as RequestId }
  const rounds = 500
  for (let i = 0; i < 50; i++) verifyIngressResult(answer, subnet, sent)
  const t0 = performance.now()
  for (let i = 0; i < rounds; i++) verifyIngressResult(answer, subnet, sent)
  const us = (performance.now() - t0) * 1000 / rounds
  // A verifying IngressStream remembers checked certificates: the other answers of a height cost their proof only.
  const memo = new Map<string, true>()
  verifyIngressResult(answer, subnet, sent, memo)
  const t1 = performance.now()
  for (let i = 0; i < rounds; i++) verifyIngressResult(answer, subnet, sent, memo)
  const memoUs = (performance.now() - t1) * 1000 / rounds
  return `client verification of one certified answer (verifyIngressResult, ${subnet.quorum} member signatures): ${us.toFixed(0)} µs of CPU; ${memoUs.toFixed(0)} µs when its certificate was checked for an earlier answer (IngressStream's memo)`
}

/**
 * What one answer costs to put on the wire and read back: JSON (the stream's text frame, as HTTP
 * sends it) against dag-cbor with the certified response as bytes, on a real certified answer from
 * this run. The node pays the encode, the client the decode (and the base64 of JSON's bytes).
 */
function answerCodecCost (answer: StreamResult): string {
  const { verified: _verified, ...frame } = answer
  const certified = new Uint8Array(Buffer.from(frame.certified ?? '', 'base64'))
  const rounds = 20_000
  const time = (fn: () => void): number => {
    for (let i = 0; i < 1_000; i++) fn()
    const t0 = performance.now()
    for (let i = 0; i < rounds; i++) fn()
    return (performance.now() - t0) * 1000 / rounds
  }
  const cbor = encode({ ...frame, certified })
  const text = Buffer.from(JSON.stringify(frame))
  const cborEncode = time(() => encode({ ...frame, certified: new Uint8Array(Buffer.from(frame.certified!, 'base64')) }))
  const cborDecode = time(() => decode(cbor))
  const jsonEncode = time(() => Buffer.from(JSON.stringify(frame)))
  const jsonDecode = time(() => { const v = JSON.parse(text.toString('utf8')) as { certified: string }; Buffer.from(v.certified, 'base64') })
  return `answer frame: JSON ${text.length} B, node encodes in ${jsonEncode.toFixed(1)} µs, client parses (and un-base64s) in ${jsonDecode.toFixed(1)} µs; dag-cbor would be ${cbor.length} B, ${cborEncode.toFixed(1)} + ${cborDecode.toFixed(1)} µs`
}

/**
 * One signed `inc`, POSTed with wait=1 over a pooled keep-alive connection (node:http: far cheaper
 * per request than fetch), answered once certified. The bench checks the answer's status and
 * receipt; certificate checks are the client's and the devnet test's business (they cost the
 * load generator CPU on the cores the replicas need).
 */
async function postUpdate (target: Target, i: number): Promise<Outcome> {
  const api = target.file.nodes[i % target.file.nodes.length]!.api
  const bytes = target.envelopes.next()
  const t0 = performance.now()
  const first = await postOnce(api, bytes, t0)
  // A pooled keep-alive socket the server closed just before reuse fails at once: send the same
  // signed envelope again (the API answers a resubmission with the first one's result; it runs once).
  if (first.failure !== undefined && /socket hang up|ECONNRESET/.test(first.failure)) return await postOnce(api, bytes, t0)
  return first
}

async function postOnce (api: string, body: Uint8Array, t0: number): Promise<Outcome> {
  let agent = agents.get(api)
  // Below the API's connection bound (apiConnectionsMax, 256), so the node never refuses the bench.
  if (agent === undefined) agents.set(api, agent = new Agent({ keepAlive: true, maxSockets: 240 }))
  const url = new URL('/v1/ingress?wait=1', api)
  return await new Promise<Outcome>(resolve => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/cbor', 'content-length': body.length }, timeout: 35_000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const latencyMs = performance.now() - t0
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: string, receipt?: { ok?: boolean, error?: string }, error?: string }
          if (res.statusCode === 200 && body.status === 'certified' && body.receipt?.ok === true) resolve({ latencyMs })
          else resolve({ latencyMs, failure: `${api}: HTTP ${res.statusCode} ${body.status ?? ''} ${body.error ?? body.receipt?.error ?? ''}` })
        } catch (error) {
          resolve({ latencyMs, failure: `${api}: ${(error as Error).message}` })
        }
      })
      res.on('error', error => { resolve({ latencyMs: performance.now() - t0, failure: `${api}: ${error.message}` }) })
    })
    req.on('timeout', () => { req.destroy(new Error('no answer in 35 s')) })
    req.on('error', error => { resolve({ latencyMs: performance.now() - t0, failure: `${api}: ${error.message}` }) })
    req.end(body)
  })
}

/** C clients, each sending its next update once the last one is certified, until the deadline. */
export async function closedLoop (target: Target, concurrency: number, durationMs: number, transport: Transport = 'http'): Promise<{ ok: number, failures: string[], elapsedMs: number }> {
  const report = { ok: 0, failures: [] as string[], elapsedMs: 0 }
  const started = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (performance.now() - started < durationMs) {
      const outcome = await sendUpdate(target, next++, transport)
      if (outcome.failure === undefined) report.ok++
      else report.failures.push(outcome.failure)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  report.elapsedMs = performance.now() - started
  return report
}
