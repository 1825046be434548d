// Child process of stack-js.test.ts (run under --liftoff-only or --no-liftoff): loads the deep JS
// actor from the parent's transpile cache, executes the messages the parent names and prints each
// receipt's canonical bytes as hex, one per line.

import { readFile } from 'node:fs/promises'
import { silentLogger } from '../../../../node/core/logger.ts'
import { executeBlock } from '../../../../node/runtime/executor.ts'
import { ActorLoader } from '../../../../node/runtime/loader.ts'
import { encodeReceipt } from '../../../../protocol/receipt.ts'
import { actorA, blockAt, loadCode, stateWith, text, update } from './_fixtures.ts'

const [cacheDir, codePath, plan] = process.argv.slice(2) as [string, string, string]
const loader = new ActorLoader({ cacheDir, logger: silentLogger })
const state = stateWith({ [actorA]: await loadCode(new Uint8Array(await readFile(codePath)), loader) })
const messages = (JSON.parse(plan) as Array<[string, number]>).map(([method, n]) => update(actorA, method, text(String(n))))
for (const receipt of executeBlock(state, messages, blockAt(1)).receipts) process.stdout.write(Buffer.from(encodeReceipt(receipt)).toString('hex') + '\n')
await loader.close()
