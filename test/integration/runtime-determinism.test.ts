// The same message sequence executed in two separate processes gives byte-identical receipts,
// writes, outbox and fuel: execution depends on its inputs only.

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { decode } from '../../protocol/codec.ts'

const script = fileURLToPath(new URL('./_runtime-sequence.ts', import.meta.url))

function runChild (): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let errors = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 240_000) // generous: other suites load the machine
    child.on('error', reject)
    child.on('exit', code => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`sequence exited ${code}: ${errors.slice(-2000)}`))
    })
  })
}

test('two processes executing the same blocks produce byte-identical outcomes', async t => {
  const [a, b] = await Promise.all([runChild(), runChild()])
  const lines = a.trim().split('\n')
  t.is(lines.length, 3)
  t.is(a, b)
  // The outcome is not trivially empty: every block has receipts, some ok and some failed.
  for (const line of lines) {
    const outcome = decode(Buffer.from(line, 'hex'))
    t.true(outcome.ok)
    const value = outcome.ok ? outcome.value as { receipts: Uint8Array[] } : { receipts: [] }
    t.true(value.receipts.length >= 4)
  }
})
