// Load for a running devnet, shared by the devnet integration test and bench/consensus.ts: many
// client keys (the mempool limits each principal's rate), signed updates over the HTTP API with a
// bounded number in flight, every answer's certificate checked. Never starts or stops processes.

import { randomBytes } from 'node:crypto'
import { peerIdOfPublicKey, type ActorId } from '../../protocol/ids.ts'
import { signerFromSeed, type Signer } from '../../protocol/signature.ts'
import type { Subnet } from '../../protocol/subnet.ts'
import { ApiClient, signEnvelope, verifyIngressResult, type IngressResult } from '../../node/cli/client.ts'

/** Fresh in-memory client keys: one principal may only send ~50 updates/s (mempoolPrincipalRatePerSecond). */
export function clientSigners (count: number): Signer[] {
  return Array.from({ length: count }, () => signerFromSeed(randomBytes(32), peerIdOfPublicKey))
}

export interface UpdateLoad {
  apis: ApiClient[]
  signers: Signer[]
  actor: ActorId
  method: string
  count: number
  /** Updates in flight at once (closed loop). */
  concurrency: number
  /** Checks each answer's certificate against this subnet when given. */
  subnet?: Subnet
  /** Per-update wait for a certified result. @default 60_000 */
  waitMs?: number
  /** Stop starting new updates after this time (ms since the start). */
  deadlineMs?: number
  signal?: AbortSignal
}

export interface LoadReport {
  /** Certified ok receipts. */
  ok: number
  /** Results returned by the actor as bytes (e.g. the counter value), in completion order. */
  results: string[]
  failures: string[]
  latenciesMs: number[]
  elapsedMs: number
}

/** Sends `count` updates round-robin over the APIs and keys, at most `concurrency` in flight. */
export async function sendUpdates (load: UpdateLoad): Promise<LoadReport> {
  const report: LoadReport = { ok: 0, results: [], failures: [], latenciesMs: [], elapsedMs: 0 }
  const started = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++
      if (i >= load.count || load.signal?.aborted === true) return
      if (load.deadlineMs !== undefined && performance.now() - started > load.deadlineMs) return
      await sendOne(load, i, report)
    }
  }
  await Promise.all(Array.from({ length: Math.min(load.concurrency, load.count) }, worker))
  report.elapsedMs = performance.now() - started
  return report
}

async function sendOne (load: UpdateLoad, i: number, report: LoadReport): Promise<void> {
  const outcome = await sendUpdate(load.apis[i % load.apis.length]!, load.signers[i % load.signers.length]!, load)
  if (outcome.failure !== undefined) {
    report.failures.push(outcome.failure)
    return
  }
  report.latenciesMs.push(outcome.latencyMs)
  report.ok++
  report.results.push(outcome.result ?? '')
}

export interface UpdateOutcome {
  latencyMs: number
  result?: string
  failure?: string
}

/** One signed update, waited for until certified (and its certificate checked when `subnet` is given). */
export async function sendUpdate (api: ApiClient, signer: Signer, load: Pick<UpdateLoad, 'actor' | 'method' | 'subnet' | 'waitMs' | 'signal'>): Promise<UpdateOutcome> {
  const ingress = signEnvelope({ kind: 'update', actor: load.actor, method: load.method, payload: new Uint8Array() }, signer)
  const t0 = performance.now()
  let answer: IngressResult
  try {
    answer = await api.submit(ingress, { waitMs: load.waitMs ?? 60_000, signal: load.signal })
  } catch (error) {
    return { latencyMs: performance.now() - t0, failure: `${api.url}: ${(error as Error).message}` }
  }
  const latencyMs = performance.now() - t0
  if (answer.status !== 'certified' || answer.receipt?.ok !== true) {
    return { latencyMs, failure: `${ingress.id}: ${answer.status} ${answer.reason ?? answer.receipt?.error ?? ''}` }
  }
  if (load.subnet !== undefined) {
    try {
      verifyIngressResult(answer, load.subnet, ingress)
    } catch (error) {
      return { latencyMs, failure: `${ingress.id}: ${(error as Error).message}` }
    }
  }
  return { latencyMs, result: answer.receipt.resultUtf8 ?? '' }
}

/** The p-th percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile (values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}
