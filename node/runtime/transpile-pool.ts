// Runs transpile jobs (transpileToCache) in worker threads, so that jco and binaryen never block
// the daemon's event loop: at most `workersMax` workers at once, a bounded queue behind them, a
// heap limit and a time bound per worker. It never runs a job on the calling thread, and a worker
// that crashes, runs out of heap or times out is stopped with a thrown PylonError, never a Result:
// a refusal must be a function of the component's bytes alone (the same on every replica), and a
// crash or a timeout is not.

import { rm } from 'node:fs/promises'
import { Worker } from 'node:worker_threads'
import { actorTranspileHeapMiB, actorTranspileHeapMiBMin, actorTranspileQueueMax, actorTranspileTimeoutMs, actorTranspileWorkersMax } from '../../protocol/limits.ts'
import type { Result } from '../../protocol/result.ts'
import { assert } from '../core/assert.ts'
import { BoundedQueue } from '../core/bounded-queue.ts'
import { PylonError } from '../core/errors.ts'
import type { Manifest, TranspileJob } from './transpile-to-cache.ts'
import type { TranspileReply } from './transpile-worker.ts'

const workerUrl = new URL('./transpile-worker.ts', import.meta.url)

export interface TranspilePoolInit {
  /** @default actorTranspileWorkersMax */
  workersMax?: number
  /** @default actorTranspileQueueMax */
  queueMax?: number
  /** @default actorTranspileTimeoutMs — smaller only in tests of the time bound. */
  timeoutMs?: number
  /** @default actorTranspileHeapMiB — smaller only in tests of the heap bound. */
  heapMiB?: number
}

interface Waiter { resolve: () => void, reject: (error: Error) => void }

export class TranspilePool {
  readonly workersMax: number
  readonly queueMax: number
  readonly timeoutMs: number
  readonly heapMiB: number
  readonly #queue: BoundedQueue<Waiter>
  readonly #workers = new Set<Worker>()
  #running = 0
  #closed = false

  constructor (init: TranspilePoolInit = {}) {
    this.workersMax = init.workersMax ?? actorTranspileWorkersMax
    this.queueMax = init.queueMax ?? actorTranspileQueueMax
    this.timeoutMs = init.timeoutMs ?? actorTranspileTimeoutMs
    this.heapMiB = init.heapMiB ?? actorTranspileHeapMiB
    assert(Number.isInteger(this.workersMax) && this.workersMax > 0, `workersMax must be a positive integer, got ${this.workersMax}`)
    assert(this.timeoutMs > 0, `timeoutMs must be positive, got ${this.timeoutMs}`)
    assert(this.heapMiB >= actorTranspileHeapMiBMin, `heapMiB must be at least ${actorTranspileHeapMiBMin} (actorTranspileHeapMiBMin), got ${this.heapMiB}`)
    this.#queue = new BoundedQueue(this.queueMax)
  }

  /** Workers running now (at most workersMax). */
  get running (): number { return this.#running }

  /**
   * Runs one job in a fresh worker, waiting for a free slot first. Resolves to the job's Result
   * (a refusal of the component); throws PylonError when the queue is full, the pool is closed,
   * or the worker fails (crash, heap limit, time bound, an exception such as an I/O error). Its cache folder is written
   * whole or not at all.
   */
  async run (job: TranspileJob): Promise<Result<Manifest>> {
    if (this.#closed) throw closedError()
    if (this.#running < this.workersMax) {
      this.#running++
    } else {
      const slot = new Promise<void>((resolve, reject) => {
        if (!this.#queue.push({ resolve, reject })) {
          reject(new PylonError('transpile-queue-full', `transpile queue full: ${this.queueMax} components waiting for ${this.workersMax} worker(s) (actorTranspileQueueMax)`, { retryable: true }))
        }
      })
      await slot // on success the slot was handed over by a finishing job: #running already counts it
    }
    try {
      return await this.#inWorker(job)
    } finally {
      const next = this.#queue.shift()
      if (next !== undefined) next.resolve()
      else this.#running--
    }
  }

  /** Stops every running worker and refuses queued and later jobs (their callers get a PylonError). */
  async close (): Promise<void> {
    this.#closed = true
    for (let waiter = this.#queue.shift(); waiter !== undefined; waiter = this.#queue.shift()) waiter.reject(closedError())
    await Promise.all([...this.#workers].map(async worker => await worker.terminate()))
  }

  async #inWorker (job: TranspileJob): Promise<Result<Manifest>> {
    const worker = new Worker(workerUrl, {
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: this.heapMiB }
    }) // workerData is copied, not transferred: the caller keeps using job.code
    this.#workers.add(worker)
    let timer: ReturnType<typeof setTimeout> | undefined
    let answered = false
    try {
      const reply = await new Promise<TranspileReply>((resolve, reject) => {
        timer = setTimeout(() => {
          reject(new PylonError('transpile-timeout', `transpiling ${job.cid} (${job.code.length} bytes) took longer than ${this.timeoutMs} ms (actorTranspileTimeoutMs); its worker was stopped`, { retryable: true }))
        }, this.timeoutMs)
        worker.once('message', (message: TranspileReply) => { resolve(message) })
        worker.once('error', error => { reject(workerError(job, error, this.heapMiB)) })
        worker.once('exit', code => {
          reject(this.#closed ? closedError() : new PylonError('transpile-worker-failed', `transpile worker for ${job.cid} exited with code ${code} before answering`, { retryable: true }))
        })
      })
      if (reply.kind === 'thrown') throw new PylonError('transpile-failed', `transpiling ${job.cid} failed: ${reply.message}`, { retryable: true })
      answered = true
      return reply.result
    } finally {
      clearTimeout(timer)
      await worker.terminate() // already exited after answering; stops it on a timeout or a close
      this.#workers.delete(worker)
      // A stopped worker may leave its half-written folder; a worker that answered removed it.
      if (!answered) await rm(job.tmp, { recursive: true, force: true })
    }
  }
}

function closedError (): PylonError {
  return new PylonError('transpile-closed', 'actor loader closed: transpile stopped', { retryable: false })
}

function workerError (job: TranspileJob, error: Error, heapMiB: number): PylonError {
  const code = (error as { code?: string }).code
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return new PylonError('transpile-out-of-memory', `transpiling ${job.cid} (${job.code.length} bytes) exceeded the worker heap limit of ${heapMiB} MiB (actorTranspileHeapMiB)`, { retryable: false, cause: error })
  }
  return new PylonError('transpile-worker-failed', `transpile worker for ${job.cid} crashed: ${error.message}`, { retryable: true, cause: error })
}
