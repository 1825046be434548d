// `npm run bench -- consensus-compare --base DIR [--rounds N] [--seconds S] [--warmup S] [--rate R]
// [--transport http|stream] [--in-flight C]`: this checkout against another one (DIR: a checkout
// with node_modules and contracts/build linked in), alternating devnets of 4 replica processes on
// this machine, each measured the same way: idle cost, C updates in flight (after a warm-up at that
// load; 512 over HTTP, 1,024 over the ingress stream by default), then latency at 100/s and at R/s
// offered (counter-wat). Updates go as one POST /v1/ingress?wait=1 each (http) or over one ingress
// stream per node (this checkout's client; the base must serve GET /v1/ingress/stream). One run,
// both trees, so the figures share the machine's state; the tree that goes first alternates by
// round (use an even --rounds); printed per round and as medians with after/before ratios. Stops
// every process it starts.

import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { ActorId } from '../protocol/ids.ts'
import type { DevnetFile } from '../node/cli/commands/devnet.ts'
import { ApiClient, IngressStream } from '../node/cli/client.ts'
import { clientSigners } from '../test/integration/_devnet-load.ts'
import { closedLoop, daemonCpuMs, heightOf, openLoop, Presigned, type Target } from './consensus.ts'

const repoRoot = join(import.meta.dirname, '..')
const usage = 'usage: npm run bench -- consensus-compare --base DIR [--rounds N] [--seconds S] [--warmup S] [--rate R] [--transport http|stream] [--in-flight C]'

type Transport = 'http' | 'stream'

interface Figures {
  idleHeightsPerSecond: number
  idleCores: number
  rate: number
  cpuMsPerUpdate: number
  heightsPerSecond: number
  at100: { p50: number, p99: number, cores: number }
  atRate: { p50: number, p99: number, cores: number }
  failed: number
}

export default async function compare (args: string[]): Promise<void> {
  const flag = (name: string, fallback: number): number => {
    const at = args.indexOf(name)
    if (at < 0) return fallback
    const value = Number(args[at + 1])
    if (!(value > 0)) throw new Error(`${name} must be a positive number, got ${args[at + 1]}`)
    return value
  }
  const at = args.indexOf('--base')
  if (at < 0 || args[at + 1] === undefined) throw new Error(usage)
  const transportAt = args.indexOf('--transport')
  const transport = (transportAt < 0 ? 'http' : args[transportAt + 1]) as Transport
  if (transport !== 'http' && transport !== 'stream') throw new Error(`--transport must be http or stream, got ${args[transportAt + 1]}\n${usage}`)
  const base = resolve(args[at + 1]!)
  for (const needed of ['node/cli/commands/devnet.ts', 'node_modules', 'contracts/build/counter-wat.wasm']) {
    if (!existsSync(join(base, needed))) throw new Error(`--base ${base} has no ${needed} (link node_modules and contracts/build into it)`)
  }
  const rounds = flag('--rounds', 2)
  const seconds = flag('--seconds', 8)
  const warmup = flag('--warmup', 10)
  const rate = flag('--rate', 450)
  const inFlight = flag('--in-flight', transport === 'http' ? 512 : 1_024)
  if (!Number.isInteger(inFlight) || inFlight > 4_096) throw new Error(`--in-flight must be a whole number up to 4,096, got ${inFlight}`)
  const trees = [{ name: 'this', root: repoRoot }, { name: 'base', root: base }]
  const results = new Map<string, Figures[]>(trees.map(t => [t.name, []]))
  const signers = clientSigners(400)
  for (let round = 1; round <= rounds; round++) {
    // Which tree goes first alternates, so that neither always runs on the box as the other left it.
    for (const tree of round % 2 === 1 ? trees : [...trees].reverse()) {
      const figures = await measureTree(tree.root, { seconds, warmup, rate, signers, transport, inFlight })
      results.get(tree.name)!.push(figures)
      process.stdout.write(`round ${round} ${tree.name.padEnd(4)} ${line(figures, rate, inFlight)}\n`)
    }
  }
  const median = (name: string, pick: (f: Figures) => number): number => {
    const sorted = results.get(name)!.map(pick).sort((a, b) => a - b)
    const mid = sorted.length >> 1
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  }
  const rows: Array<[string, (f: Figures) => number, number]> = [
    [`certified updates/s at ${inFlight} in flight`, f => f.rate, 0],
    ['replicas\' CPU ms per certified update', f => f.cpuMsPerUpdate, 2],
    ['heights/s at that load', f => f.heightsPerSecond, 1],
    ['p50 ms at 100/s', f => f.at100.p50, 0],
    ['p99 ms at 100/s', f => f.at100.p99, 0],
    [`p50 ms at ${rate}/s`, f => f.atRate.p50, 0],
    [`p99 ms at ${rate}/s`, f => f.atRate.p99, 0],
    ['idle: empty heights/s', f => f.idleHeightsPerSecond, 1],
    ['idle: cores busy', f => f.idleCores, 2]
  ]
  process.stdout.write(`\nmedians of ${rounds} rounds over ${transport === 'http' ? 'HTTP' : 'the ingress stream'} (this = ${repoRoot}, base = ${base}):\n`)
  for (const [label, pick, digits] of rows) {
    const now = median('this', pick)
    const before = median('base', pick)
    process.stdout.write(`  ${label.padEnd(42)} base ${before.toFixed(digits).padStart(8)}   this ${now.toFixed(digits).padStart(8)}   this/base ${(now / before).toFixed(2)}\n`)
  }
}

function line (f: Figures, rate: number, inFlight: number): string {
  return `${Math.round(f.rate)}/s at ${inFlight} in flight, ${f.cpuMsPerUpdate.toFixed(2)} ms CPU/update, ${f.heightsPerSecond.toFixed(1)} heights/s; ` +
    `100/s: p50 ${f.at100.p50.toFixed(0)} p99 ${f.at100.p99.toFixed(0)} ms (${f.at100.cores.toFixed(2)} cores); ` +
    `${rate}/s: p50 ${f.atRate.p50.toFixed(0)} p99 ${f.atRate.p99.toFixed(0)} ms (${f.atRate.cores.toFixed(2)} cores); ` +
    `idle ${f.idleHeightsPerSecond.toFixed(1)} heights/s, ${f.idleCores.toFixed(2)} cores${f.failed > 0 ? `; ${f.failed} FAILED` : ''}`
}

/** One devnet of `root`'s code: started with that tree's own devnet and deploy commands, measured, stopped. */
async function measureTree (root: string, options: { seconds: number, warmup: number, rate: number, signers: ReturnType<typeof clientSigners>, transport: Transport, inFlight: number }): Promise<Figures> {
  const devnet = await import(join(root, 'node/cli/commands/devnet.ts')) as typeof import('../node/cli/commands/devnet.ts')
  const { deploy } = await import(join(root, 'node/cli/commands/deploy.ts')) as typeof import('../node/cli/commands/deploy.ts')
  const { createIdentity } = await import(join(root, 'node/identity/identity-file.ts')) as typeof import('../node/identity/identity-file.ts')
  const dir = mkdtempSync(join(tmpdir(), 'pylon-bench-compare-'))
  let file: DevnetFile | undefined
  const streams: IngressStream[] = []
  const killAll = (): void => { for (const n of file?.nodes ?? []) if (devnet.isOurDaemon(n)) process.kill(n.pid!, 'SIGKILL') }
  process.once('exit', killAll)
  try {
    file = await devnet.devnetUp({ nodes: 4, dir: join(dir, 'net'), subnets: 1, logLevel: 'warn' })
    const apis = file.nodes.map(n => new ApiClient(n.api))
    const { subnet } = await apis[0]!.subnet(file.subnet!)
    const identity = join(dir, 'identity')
    await createIdentity(identity)
    const actor: ActorId = (await deploy(join(root, 'contracts/build/counter-wat.wasm'), { api: file.nodes[0]!.api, init: '', identity })).actor
    if (options.transport === 'stream') for (const node of file.nodes) streams.push(await IngressStream.open(node.api))
    const target: Target = { envelopes: new Presigned(options.signers, actor), file, apis, streams, signers: options.signers, actor, subnet, seconds: options.seconds }
    // Idle, a few seconds after the deploy settled.
    await new Promise(resolve => setTimeout(resolve, 3_000))
    const idle = await window(target, async () => { await new Promise(resolve => setTimeout(resolve, options.seconds * 1000)) })
    // Warm-up at the measured load (V8 optimizes the hot paths over the first tens of seconds).
    // Signed ahead, enough for the fastest rate seen on this box (a shortfall is signed on demand, on these cores).
    target.envelopes.fill((options.transport === 'http' ? 1_500 : 2_500) * (options.warmup + options.seconds))
    await closedLoop(target, options.inFlight, options.warmup * 1000, options.transport)
    let failed = 0
    let ok = 0
    const loaded = await window(target, async () => {
      const report = await closedLoop(target, options.inFlight, options.seconds * 1000, options.transport)
      ok = report.ok
      failed += report.failures.length
      return report.elapsedMs
    })
    const fixed = async (perSecond: number): Promise<{ p50: number, p99: number, cores: number }> => {
      target.envelopes.fill(Math.ceil(perSecond * options.seconds) + 1)
      let figures = { p50: Number.NaN, p99: Number.NaN }
      const measured = await window(target, async () => {
        const open = await openLoop(target, perSecond, options.seconds * 1000, options.transport)
        failed += open.failed + (open.overloaded ? 1 : 0)
        figures = { p50: open.p50, p99: open.p99 }
      })
      return { ...figures, cores: measured.cpuMs / measured.elapsedMs }
    }
    const at100 = await fixed(100)
    const atRate = await fixed(options.rate)
    return {
      idleHeightsPerSecond: idle.heights / (idle.elapsedMs / 1000),
      idleCores: idle.cpuMs / idle.elapsedMs,
      rate: ok / (loaded.elapsedMs / 1000),
      cpuMsPerUpdate: loaded.cpuMs / Math.max(1, ok),
      heightsPerSecond: loaded.heights / (loaded.elapsedMs / 1000),
      at100,
      atRate,
      failed
    }
  } finally {
    await Promise.all(streams.map(async s => { await s.close() }))
    if (file !== undefined) await devnet.stopNodes(file.nodes, 10_000)
    process.off('exit', killAll)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs `work` and returns the daemons' CPU, the heights made and the wall time it took. */
async function window (target: Target, work: () => Promise<unknown>): Promise<{ cpuMs: number, heights: number, elapsedMs: number }> {
  const cpu0 = daemonCpuMs(target.file)
  const h0 = await heightOf(target)
  const t0 = performance.now()
  await work()
  const elapsedMs = performance.now() - t0
  return { cpuMs: daemonCpuMs(target.file) - cpu0, heights: Number(await heightOf(target) - h0), elapsedMs }
}
