// Spawns real `pylon daemon` processes for integration tests and benchmarks: a fresh data dir,
// loopback only, mDNS off, API on a free port. Every process is tracked and killed on exit, and
// each test also stops its own in t.teardown.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { initDataDir } from '../../node/cli/commands/init.ts'

export const repoRoot = resolve(import.meta.dirname, '../..')
export const cliPath = join(repoRoot, 'node/cli/main.ts')

export interface DaemonProcess {
  dataDir: string
  nodeId: string
  api: string
  multiaddrs: string[]
  child: ChildProcess
  /** The daemon's stderr so far (JSON-lines logs), for failure messages. */
  logs (): string
  /** Sends `signal` and resolves to the exit code (null if killed by a signal or past the timeout). */
  stop (signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>
  /** SIGKILL if still running, and removes the data dir. Safe to call twice. */
  destroy (): void
}

const live = new Set<ChildProcess>()
process.on('exit', () => { for (const child of live) child.kill('SIGKILL') })

/**
 * Runs the CLI without blocking this process (tests that also drive a devnet from this event loop
 * need it); killed after `timeoutMs`. `until`: a foreground command (a daemon) is sent SIGINT once
 * its output matches.
 */
export async function runCliAsync (args: string[], options: { env?: Record<string, string>, timeoutMs?: number, until?: RegExp } = {}): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    if (options.until?.test(stdout) === true) child.kill('SIGINT')
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 120_000)
  const status = await new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  clearTimeout(timer)
  live.delete(child)
  return { status, stdout, stderr }
}

/** Runs the CLI to completion; returns its exit code and output. */
export function runCli (args: string[], options: { env?: Record<string, string> } = {}): { status: number | null, stdout: string, stderr: string } {
  // 90 s: the CLI imports every command group, which on a loaded 2-core CI box takes seconds.
  const result = spawnSync(process.execPath, [cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 90_000, env: { ...process.env, ...options.env } })
  if (result.error !== undefined) throw new Error(`pylon ${args.join(' ')}: ${result.error.message}`)
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

export interface SpawnDaemonOptions {
  /** Extra `pylon daemon` flags, e.g. ['--bootstrap', addr]. */
  args?: string[]
  /** Time to wait for the daemon to be ready (a loaded 2-core CI box is slow to start node). @default 75_000 */
  readyTimeoutMs?: number
}

export async function spawnDaemon (options: SpawnDaemonOptions = {}): Promise<DaemonProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pylon-test-'))
  // In-process (the same code `pylon init` runs): one process less per daemon on a loaded box.
  await initDataDir({ dataDir, api: '127.0.0.1:0' })
  const child = spawn(process.execPath, [cliPath, 'daemon', '--data-dir', dataDir, '--json', '--no-mdns', ...(options.args ?? [])], {
    // stdin is a pipe the daemon watches (PYLON_EXIT_WITH_PARENT): if this test process dies, even
    // by SIGKILL or an ava timeout, the pipe closes and the daemon stops instead of lingering.
    cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYLON_EXIT_WITH_PARENT: '1' }
  })
  live.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-200_000) })
  const exited = new Promise<number | null>(resolve => child.once('exit', (code) => { live.delete(child); resolve(code) }))
  const destroy = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
  const ready = await new Promise<{ nodeId: string, api: string, multiaddrs: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => { destroy(); reject(new Error(`daemon not ready in time; logs:\n${stderr.slice(-4000)}`)) }, options.readyTimeoutMs ?? 75_000)
    const check = (): void => {
      try {
        const value = JSON.parse(stdout)
        clearTimeout(timer)
        // `pylon daemon --json` prints { ok: false, error } when it cannot start.
        if (typeof value?.api !== 'string') reject(new Error(`daemon did not start: ${stdout.trim().slice(0, 500)}; logs:\n${stderr.slice(-4000)}`))
        else resolve(value)
      } catch {}
    }
    child.stdout!.on('data', check)
    void exited.then(code => { clearTimeout(timer); reject(new Error(`daemon exited with ${code} before ready; logs:\n${stderr.slice(-4000)}`)) })
  })
  return {
    dataDir,
    ...ready,
    child,
    logs: () => stderr,
    stop: async (signal = 'SIGTERM', timeoutMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill(signal)
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<null>(resolve => { timer = setTimeout(() => resolve(null), timeoutMs) })
      const code = await Promise.race([exited, timeout])
      clearTimeout(timer)
      return code
    },
    destroy
  }
}

/** Polls `check` every intervalMs until it returns true; throws with `what` after timeoutMs. */
export async function eventually (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

export async function getJson<T> (url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  if (!response.ok) throw new Error(`${url} answered ${response.status}`)
  return await response.json() as T
}
