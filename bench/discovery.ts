// Discovery benchmark: starts 10, then 20 real daemon processes on loopback (all bootstrapped to the
// first, default advert interval), and prints how long until every book holds every advert (per
// node and overall) and each daemon's resident memory once idle. `npm run bench -- discovery [sizes…]`.

import { readFileSync } from 'node:fs'
import { table } from '../node/cli/output.ts'
import { getJson, spawnDaemon, type DaemonProcess } from '../test/helpers/daemon-process.ts'

/** Convergence must happen well inside this, or the run is reported as failed. */
const convergeTimeoutMs = 120_000
/** Idle settle time before reading memory: timers and the first GC have run. */
const idleMs = 5_000

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

function rssMiB (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN)
  return kib / 1024
}

interface Run { nodes: number, startMs: number, convergeMs: number, perNode: number[], rss: number[] }

async function runOnce (nodes: number): Promise<Run> {
  const daemons: DaemonProcess[] = []
  try {
    const t0 = Date.now()
    const first = await spawnDaemon()
    daemons.push(first)
    const bootstrap = first.multiaddrs.find(a => !a.includes('/ws'))!
    daemons.push(...await Promise.all(Array.from({ length: nodes - 1 }, async () => await spawnDaemon({ args: ['--bootstrap', bootstrap], readyTimeoutMs: 120_000 }))))
    const ready = Date.now()
    const ids = new Set(daemons.map(d => d.nodeId))
    const doneAt = new Map<string, number>()
    while (doneAt.size < daemons.length) {
      if (Date.now() - ready > convergeTimeoutMs) {
        const sizes = await Promise.all(daemons.map(async d => (await getJson<unknown[]>(`${d.api}/v1/capacity`).catch(() => [])).length))
        throw new Error(`${nodes} nodes: only ${doneAt.size} complete books after ${convergeTimeoutMs} ms; book sizes ${sizes.join(' ')}`)
      }
      await Promise.all(daemons.filter(d => !doneAt.has(d.nodeId)).map(async d => {
        // A daemon too busy to answer in time (a loaded box) is simply not done yet.
        const book = await getJson<Array<{ nodeId: string }>>(`${d.api}/v1/capacity`).catch(() => [])
        if (book.filter(a => ids.has(a.nodeId)).length === ids.size) doneAt.set(d.nodeId, Date.now() - ready)
      }))
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const perNode = [...doneAt.values()].sort((a, b) => a - b)
    await new Promise(resolve => setTimeout(resolve, idleMs))
    const rss = daemons.map(d => rssMiB(d.child.pid!)).sort((a, b) => a - b)
    return { nodes, startMs: ready - t0, convergeMs: perNode.at(-1)!, perNode, rss }
  } finally {
    await Promise.all(daemons.map(async d => { await d.stop('SIGTERM', 10_000); d.destroy() }))
  }
}

export default async function main (args: string[]): Promise<void> {
  const sizes = args.length > 0 ? args.map(Number) : [10, 20]
  const runs: Run[] = []
  for (const n of sizes) {
    process.stderr.write(`starting ${n} daemons…\n`)
    runs.push(await runOnce(n))
  }
  const f = (x: number): string => x.toFixed(0)
  process.stdout.write('\nDiscovery: time from "all daemons ready" until a node\'s book holds every advert (ms)\n')
  process.stdout.write(table(['NODES', 'START ALL (ms)', 'BOOK p50', 'p90', 'ALL BOOKS', 'RSS p50 (MiB)', 'p90', 'max'],
    runs.map(r => [String(r.nodes), f(r.startMs), f(percentile(r.perNode, 50)), f(percentile(r.perNode, 90)), f(r.convergeMs),
      f(percentile(r.rss, 50)), f(percentile(r.rss, 90)), f(r.rss.at(-1)!)])) + '\n')
  if (runs.length >= 2) {
    const [a, b] = [runs[0]!, runs.at(-1)!]
    process.stdout.write(`\n${b.nodes} vs ${a.nodes} nodes: convergence ×${(b.convergeMs / Math.max(1, a.convergeMs)).toFixed(2)}, idle RSS p50 ×${(percentile(b.rss, 50) / percentile(a.rss, 50)).toFixed(2)}\n`)
  }
}
