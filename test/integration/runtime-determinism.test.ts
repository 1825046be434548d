// The same message sequence executed in two separate processes gives byte-identical receipts,
// writes, outbox and fuel: execution depends on its inputs only.

import { fileURLToPath } from 'node:url'
import test from 'ava'
import { runNode } from '../helpers/run-node.ts'
import { decode } from '../../protocol/codec.ts'

const script = fileURLToPath(new URL('./_runtime-sequence.ts', import.meta.url))

async function runChild (): Promise<string> {
  return await runNode([script], { timeoutMs: 240_000, name: 'sequence' }) // generous: other suites load the machine
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
