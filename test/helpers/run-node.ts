// Runs `node ARGS…` as a child process and resolves with its stdout; rejects with the tail of its
// stderr when it exits non-zero, and kills it after `timeoutMs`. For tests that compare what
// separate processes (other V8 flags, a fresh heap) compute.

import { spawn } from 'node:child_process'

export async function runNode (args: string[], { timeoutMs, name }: { timeoutMs: number, name: string }): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let errors = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('error', reject)
    child.on('exit', code => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${name}: exited ${code}: ${errors.slice(-2000)}`))
    })
  })
}
