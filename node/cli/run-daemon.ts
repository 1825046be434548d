// Runs a daemon in the foreground until SIGINT or SIGTERM, then stops it cleanly and exits 0.
// Shared by `pylon daemon` and `pylon quickstart`. Refuses a data dir another live daemon uses.

import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeConfig } from '../config/config.ts'
import { createLogger } from '../core/logger.ts'
import { apiFileName, startDaemon, type Daemon } from '../daemon.ts'
import { CliError } from './output.ts'

/** How long a stop may take before the process gives up and exits non-zero. */
const stopDeadlineMs = 8_000

export async function runDaemon (dataDir: string, config: NodeConfig, onReady: (daemon: Daemon) => Promise<void> | void): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await refuseIfRunning(dataDir)
  const logger = createLogger('pylon', { level: config.logLevel })
  let daemon: Daemon
  try {
    daemon = await startDaemon({ dataDir, config, logger })
  } catch (error) {
    throw new CliError((error as Error).message, (error as { code?: string }).code ?? 'start')
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info('stopping', { signal })
    const deadline = setTimeout(() => {
      logger.error('stop took too long; exiting anyway', { deadlineMs: stopDeadlineMs })
      process.exit(1)
    }, stopDeadlineMs)
    deadline.unref()
    daemon.stop().then(() => process.exit(0), (error: unknown) => {
      logger.error('stop failed', { error })
      process.exit(1)
    })
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
  // For harnesses (tests, benchmarks, devnet): with PYLON_EXIT_WITH_PARENT=1 and stdin a pipe, the
  // daemon stops when that pipe closes, so a parent that dies abruptly never leaves it orphaned.
  if (process.env.PYLON_EXIT_WITH_PARENT === '1') {
    process.stdin.on('data', () => {}).once('close', () => stop('parent exited'))
  }
  await onReady(daemon)
}

async function refuseIfRunning (dataDir: string): Promise<void> {
  let pid: unknown
  try {
    pid = (JSON.parse(await readFile(join(dataDir, apiFileName), 'utf8')) as { pid?: unknown }).pid
  } catch {
    return
  }
  if (typeof pid !== 'number' || pid === process.pid) return
  try {
    process.kill(pid, 0)
  } catch {
    return // a stale api.json from a daemon that died: it is overwritten at start
  }
  throw new CliError(`a daemon (pid ${pid}) is already running on ${dataDir}`, 'running')
}
