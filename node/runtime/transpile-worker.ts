// Entry of a transpile worker thread (started by transpile-pool.ts, one per job): runs
// transpileToCache on the job in workerData and posts one TranspileReply back. Nothing imports it
// except for its type; it never touches files outside the job's cache and temporary folders.

import { parentPort, workerData } from 'node:worker_threads'
import type { Result } from '../../protocol/result.ts'
import { transpileToCache, type Manifest, type TranspileJob } from './transpile-to-cache.ts'

/** The one message a worker posts: the job's result, or the I/O error it threw. */
export type TranspileReply = { kind: 'result', result: Result<Manifest> } | { kind: 'thrown', message: string }

if (parentPort === null) throw new Error('transpile-worker.ts runs only as a worker thread')
const port = parentPort
let reply: TranspileReply
try {
  reply = { kind: 'result', result: await transpileToCache(workerData as TranspileJob) }
} catch (error) {
  reply = { kind: 'thrown', message: error instanceof Error ? error.message : String(error) }
}
port.postMessage(reply)
