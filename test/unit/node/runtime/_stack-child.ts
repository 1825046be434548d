// Child process of stack.test.ts (run under --liftoff-only, --no-liftoff or the default tiering):
// executes the stack-bound messages of the deep probe and prints every receipt's canonical bytes
// as hex, one line per receipt, so the parent can compare them across processes and V8 tiers.

import { executeBlock } from '../../../../node/runtime/executor.ts'
import { encodeReceipt } from '../../../../protocol/receipt.ts'
import { actorA, blockAt, loadCode, stateWith, update } from './_fixtures.ts'
import { buildDeep, depth } from './_deep.ts'

const [light, heavy] = process.argv.slice(2).map(Number) as [number, number]
const state = stateWith({ [actorA]: await loadCode(await buildDeep()) })
state.storage.apply(executeBlock(state, [update(actorA, 'put')], blockAt(1)).writes)
const outcome = executeBlock(state, [
  update(actorA, 'light', depth(light)), update(actorA, 'light', depth(light + 1)),
  update(actorA, 'heavy', depth(heavy)), update(actorA, 'heavy', depth(heavy + 1)),
  update(actorA, 'host'), update(actorA, 'light', depth(light))
], blockAt(2))
for (const receipt of outcome.receipts) process.stdout.write(Buffer.from(encodeReceipt(receipt)).toString('hex') + '\n')
