// Child process of runtime-determinism.test.ts: executes a fixed message sequence over the example
// actors (JS and WAT, including random, time, fuel exhaustion and failures) in three blocks and
// prints the canonical encoding of every outcome as hex on stdout.

import { executeBlock } from '../../node/runtime/executor.ts'
import { encode } from '../../protocol/codec.ts'
import { encodeReceipt, encodeWrites } from '../../protocol/receipt.ts'
import { actorIdOf, type SubnetId } from '../../protocol/ids.ts'
import { blockAt, init, json, loadCode, loadExample, stateWith, update } from '../unit/node/runtime/_fixtures.ts'
import { buildProbe } from '../unit/node/runtime/_probe.ts'

const subnet = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' as SubnetId
const [counter, kv, chat, ledger, spin, probe] = [1n, 2n, 3n, 4n, 5n, 6n].map(i => actorIdOf(subnet, i)) as [ReturnType<typeof actorIdOf>, ...Array<ReturnType<typeof actorIdOf>>]
const state = stateWith({
  [counter]: await loadExample('counter'),
  [kv!]: await loadExample('kv'),
  [chat!]: await loadExample('chat'),
  [ledger!]: await loadExample('ledger'),
  [spin!]: await loadExample('spin'),
  [probe!]: await loadCode(await buildProbe(counter))
})
const blocks = [
  [init(counter), init(kv!), init(chat!), init(ledger!, json({ minter: 'm' })), update(counter, 'inc'), update(kv!, 'put', json({ key: 'a', value: '1' })),
    update(ledger!, 'mint', json({ to: 'alice', amount: '50' }), 'm'), update(probe!, 'rand'), update(probe!, 'send', Uint8Array.of(2))],
  [update(chat!, 'post', json({ text: 'hi' }), 'bob'), { ...update(spin!, 'spin'), fuelLimit: 100_000n }, update(counter, 'inc'),
    update(ledger!, 'transfer', json({ to: 'bob', amount: '20' }), 'alice'), update(ledger!, 'transfer', json({ to: 'bob', amount: '99' }), 'alice'),
    update(probe!, 'write-then-trap'), update(probe!, 'rand'), update(kv!, 'delete', json({ key: 'a' }))],
  [update(counter, 'inc'), update(chat!, 'post', json({ text: 'again' }), 'carol'), update(probe!, 'grow'), update(probe!, 'deep'), update(kv!, 'put', json({ key: 'b', value: '2' }))]
]
for (const [i, messages] of blocks.entries()) {
  const outcome = executeBlock(state, messages, blockAt(i + 1, i))
  state.storage.apply(outcome.writes)
  const bytes = encode({ receipts: outcome.receipts.map(encodeReceipt), writes: encodeWrites(outcome.writes), outbox: outcome.outbox, fuelUsed: outcome.fuelUsed })
  process.stdout.write(Buffer.from(bytes).toString('hex') + '\n')
}
