// The seed runner: `npm run test:sim -- --seeds N [--from S] [--seed S] [--replicas 4|7] [--json]`. Runs each
// seed of the deterministic simulation, prints progress and a summary, and for every failure the
// seed and the command that replays it. Exits 1 if any seed fails.

import { runSimulation, type SimResult } from './simulator.ts'

interface Args { seeds: number, from: number, seed?: number, replicas?: 4 | 7, faultMs?: number, livenessMs?: number, json: boolean, verbose: boolean }

function parseArgs (argv: string[]): Args {
  const args: Args = { seeds: 100, from: 1, json: false, verbose: false }
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]
    const value = argv[i + 1]
    const number = (): number => {
      const n = Number(value)
      if (value === undefined || !Number.isSafeInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer, got ${String(value)}`)
      i++
      return n
    }
    if (name === '--seeds') args.seeds = number()
    else if (name === '--from') args.from = number()
    else if (name === '--seed') args.seed = number()
    else if (name === '--replicas') {
      const n = number()
      if (n !== 4 && n !== 7) throw new Error(`--replicas must be 4 or 7, got ${n}`)
      args.replicas = n
    } else if (name === '--fault-ms') args.faultMs = number()
    else if (name === '--liveness-ms') args.livenessMs = number()
    else if (name === '--json') args.json = true
    else if (name === '--verbose') args.verbose = true
    else throw new Error(`unknown option ${name}; usage: --seeds N [--from S] [--seed S] [--replicas 4|7] [--fault-ms MS] [--liveness-ms MS] [--json] [--verbose]`)
  }
  return args
}

function main (): number {
  let args: Args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`)
    return 2
  }
  const seeds = args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds }, (_, i) => i + args.from)
  const failures: SimResult[] = []
  const totals = { steps: 0, finalized: 0, verified: 0, crashes: 0, torn: 0, evidence: 0, ops: 0, completed: 0, runs: 0, fetches: 0, lookups: 0, badSignatures: 0 }
  const started = performance.now()
  for (const seed of seeds) {
    // Without --replicas, every fifth seed runs 7 replicas, the others 4 (a seed names one scenario).
    const replicas = args.replicas ?? (seed % 5 === 0 ? 7 : 4)
    const result = runSimulation({ seed, replicas, ...(args.faultMs === undefined ? {} : { faultMs: args.faultMs }), ...(args.livenessMs === undefined ? {} : { livenessMs: args.livenessMs }) })
    totals.runs++
    totals.steps += result.steps
    totals.finalized += result.finalizedHeight
    totals.verified += result.signaturesVerified
    totals.crashes += result.crashes
    totals.fetches += result.fetches
    totals.lookups += result.lookups
    totals.badSignatures += result.badSignaturesDropped
    totals.torn += result.tornRecords
    totals.evidence += result.evidence
    totals.ops += result.operations
    totals.completed += result.operationsCompleted
    if (!result.ok) {
      failures.push(result)
      process.stdout.write(`FAIL seed ${seed} (${replicas} replicas): ${result.error}\n  replay: ${result.replay}\n`)
    } else if (args.verbose || seeds.length === 1) {
      const { digest, ...rest } = result
      process.stdout.write(JSON.stringify({ ...rest, digest: digest.slice(0, 16) }) + '\n')
    }
    if (!args.json && seeds.length > 1 && totals.runs % 100 === 0) {
      const elapsed = (performance.now() - started) / 1000
      process.stdout.write(`${totals.runs}/${seeds.length} seeds, ${failures.length} failed, ${(totals.runs / elapsed).toFixed(1)} seeds/s\n`)
    }
  }
  const seconds = (performance.now() - started) / 1000
  const summary = {
    seeds: totals.runs,
    failed: failures.map(f => f.seed),
    seconds: Number(seconds.toFixed(1)),
    stepsPerSecond: Math.round(totals.steps / seconds),
    blocksFinalized: totals.finalized,
    signaturesVerifiedPerBlock: Number((totals.verified / Math.max(1, totals.finalized)).toFixed(1)),
    crashes: totals.crashes,
    catchUpFetches: totals.fetches,
    servedFromStore: totals.lookups,
    forgedSignaturesDropped: totals.badSignatures,
    tornWalRecords: totals.torn,
    evidenceRecorded: totals.evidence,
    clientOperations: totals.ops,
    clientOperationsCompleted: totals.completed
  }
  process.stdout.write((args.json ? JSON.stringify(summary) : Object.entries(summary).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(',') || 'none' : v}`).join('\n')) + '\n')
  return failures.length === 0 ? 0 : 1
}

process.exitCode = main()
