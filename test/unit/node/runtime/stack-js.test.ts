// The stack bound with a JS actor (SpiderMonkey compiled to wasm, its frames heavy): deep JS
// recursion still ends in the engine's own "too much recursion", deep native recursion in
// "stack budget exhausted", and both give the same receipts under Liftoff only and TurboFan only.
// Builds its fixture (componentize-js output differs per build, so it cannot share the examples'
// transpile cache) into a temporary cache it removes.

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { runNode } from '../../../helpers/run-node.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { buildJsActor } from '../../../../node/runtime/builder.ts'
import { executeBlock } from '../../../../node/runtime/executor.ts'
import { ActorLoader } from '../../../../node/runtime/loader.ts'
import { encodeReceipt } from '../../../../protocol/receipt.ts'
import { actorA, blockAt, loadCode, stateWith, text, update, utf8 } from './_fixtures.ts'

const plan: Array<[string, number]> = [['recurse', 10_000], ['recurse', 100_000], ['nest', 20], ['nest', 1000], ['recurse', 100]]

test('a JS actor: deep JS recursion fails "too much recursion", deep native recursion "stack budget exhausted", alike under Liftoff and TurboFan', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-stack-js-'))
  const loader = new ActorLoader({ cacheDir: join(dir, 'cache'), logger: silentLogger })
  t.teardown(async () => {
    await loader.close()
    await rm(dir, { recursive: true, force: true })
  })
  const code = await buildJsActor(fileURLToPath(new URL('./fixtures/deep-actor.js', import.meta.url)))
  const codePath = join(dir, 'deep.wasm')
  await writeFile(codePath, code)
  const state = stateWith({ [actorA]: await loadCode(code, loader) })
  const receipts = executeBlock(state, plan.map(([method, n]) => update(actorA, method, text(String(n)))), blockAt(1)).receipts
  t.deepEqual(receipts.map(r => r.ok ? utf8(r.result) : r.error), ['10000', 'too much recursion', '42', 'stack budget exhausted', '100'])
  // Children load the transpiled actor from the same cache: one transpile, two more tiers.
  const child = fileURLToPath(new URL('./_stack-js-child.ts', import.meta.url))
  const lines = receipts.map(r => Buffer.from(encodeReceipt(r)).toString('hex') + '\n').join('')
  for (const flag of ['--liftoff-only', '--no-liftoff']) t.is(await runChild([flag, child, join(dir, 'cache'), codePath, JSON.stringify(plan)]), lines, flag)
})

async function runChild (args: string[]): Promise<string> {
  return await runNode(args, { timeoutMs: 100_000, name: args[0]! }) // generous: other suites load the machine
}
