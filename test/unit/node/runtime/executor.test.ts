// executeBlock / executeQuery: fuel stops runaway actors deterministically, failures discard
// their writes and outbox, limits (memory, quota, outbox, block fuel) are enforced, queries are
// read-only, and time and randomness come from the block.

import test from 'ava'
import { executeBlock, executeQuery } from '../../../../node/runtime/executor.ts'
import { seededRandom } from '../../../../node/runtime/host.ts'
import { actorFuelPerBlockMax, actorFuelPerMessageMax, actorMemoryPagesMax, actorOutboxPerCallMax, actorPayloadBytesMax, actorStorageBytesMax } from '../../../../protocol/limits.ts'
import { encodeReceipt } from '../../../../protocol/receipt.ts'
import { actorA, actorB, blockAt, init, json, loadCode, loadExample, stateWith, text, update, utf8 } from './_fixtures.ts'
import { buildProbe } from './_probe.ts'

test('executeBlock stops the spin actor by fuel: fuelUsed equals the limit, the node goes on', async t => {
  const state = stateWith({ [actorA]: await loadExample('spin'), [actorB]: await loadExample('counter-wat') })
  const limit = 5_000_000n
  const outcome = executeBlock(state, [
    { ...update(actorA, 'spin'), fuelLimit: limit },
    update(actorB, 'inc'),
    { ...update(actorA, 'again'), fuelLimit: 1000n }
  ], blockAt(1))
  t.deepEqual(outcome.receipts.map(r => [r.ok, r.error, r.fuelUsed]), [[false, 'out of fuel', limit], [true, null, outcome.receipts[1]!.fuelUsed], [false, 'out of fuel', 1000n]])
  t.is(utf8(outcome.receipts[1]!.result), '1')
  t.is(outcome.fuelUsed, limit + 1000n + outcome.receipts[1]!.fuelUsed)
})

test('executeBlock refuses messages once the block fuel is spent', async t => {
  const state = stateWith({ [actorA]: await loadExample('spin') })
  const fit = Number(actorFuelPerBlockMax / actorFuelPerMessageMax)
  const outcome = executeBlock(state, Array.from({ length: fit + 1 }, () => update(actorA, 'spin')), blockAt(1))
  t.deepEqual(outcome.receipts.map(r => r.fuelUsed), [...Array.from({ length: fit }, () => actorFuelPerMessageMax), 0n])
  t.regex(outcome.receipts[fit]!.error!, /^block fuel exhausted/)
  t.is(outcome.fuelUsed, actorFuelPerBlockMax)
})

test('a failed message discards its writes and outbox; a later message runs on a fresh instance', async t => {
  const state = stateWith({ [actorA]: await loadCode(await buildProbe(actorB)) })
  const outcome = executeBlock(state, [update(actorA, 'write-then-trap'), update(actorA, 'send', Uint8Array.of(1))], blockAt(1))
  t.is(outcome.receipts[0]!.error, 'trap: unreachable')
  t.true(outcome.receipts[1]!.ok)
  t.deepEqual(outcome.writes, [])
  t.deepEqual(outcome.outbox, [{ from: actorA, to: actorB, method: 'ping', payload: text('v'), atNs: null }])
  const kept = executeBlock(state, [update(actorA, 'x-write')], blockAt(2))
  t.deepEqual(kept.writes, [{ actor: actorA, key: text('k'), value: text('v') }])
})

test('outbox.schedule queues a message to the actor itself at the given consensus time', async t => {
  const state = stateWith({ [actorA]: await loadCode(await buildProbe(actorB)) })
  const outcome = executeBlock(state, [update(actorA, 'Schedule')], blockAt(4))
  t.true(outcome.receipts[0]!.ok, outcome.receipts[0]!.error ?? '')
  t.deepEqual(outcome.outbox, [{ from: actorA, to: actorA, method: 'ping', payload: text('v'), atNs: blockAt(4).timeNs + 1000n }])
})

test('outbox messages per call are bounded', async t => {
  const state = stateWith({ [actorA]: await loadCode(await buildProbe(actorB)) })
  const outcome = executeBlock(state, [update(actorA, 'send', Uint8Array.of(actorOutboxPerCallMax)), update(actorA, 'send', Uint8Array.of(actorOutboxPerCallMax + 1))], blockAt(1))
  t.true(outcome.receipts[0]!.ok)
  t.is(outcome.receipts[1]!.error, `too many outbox messages: more than ${actorOutboxPerCallMax} in one call`)
  t.is(outcome.outbox.length, actorOutboxPerCallMax)
})

test('a memory bomb is stopped at the page cap and the node keeps running', async t => {
  const state = stateWith({ [actorA]: await loadCode(await buildProbe(actorB)) })
  const outcome = executeBlock(state, [update(actorA, 'grow'), update(actorA, 'x-write')], blockAt(1))
  t.true(outcome.receipts[0]!.ok, outcome.receipts[0]!.error ?? '')
  const pages = new DataView(outcome.receipts[0]!.result!.buffer, outcome.receipts[0]!.result!.byteOffset).getUint32(0, true)
  t.is(pages, actorMemoryPagesMax, 'growth stops exactly at the cap (the probe grows by 16, then by 1)')
  t.true(outcome.receipts[1]!.ok)
})

test('endless wasm recursion fails "stack budget exhausted" with the fuel it used, identically every time', async t => {
  const state = stateWith({ [actorA]: await loadCode(await buildProbe(actorB)) })
  const limit = 100_000_000n
  const runs = [1, 2].map(() => executeBlock(state, [{ ...update(actorA, 'deep'), fuelLimit: limit }, update(actorA, 'x-write')], blockAt(1)))
  for (const outcome of runs) {
    t.deepEqual(outcome.receipts.map(r => [r.ok, r.error, r.logs]), [[false, 'stack budget exhausted', []], [true, null, []]])
    // The bound, not fuel, stopped it: a deterministic trap charges what it used.
    t.true(outcome.receipts[0]!.fuelUsed > 1000n && outcome.receipts[0]!.fuelUsed < limit)
  }
  t.deepEqual(runs[0]!.receipts.map(encodeReceipt), runs[1]!.receipts.map(encodeReceipt))
})

test('a query that writes fails; queries see committed state only', async t => {
  const state = stateWith({ [actorA]: await loadCode(await buildProbe(actorB)) })
  const receipt = executeQuery(state, { actor: actorA, caller: 'alice', method: 'peek', payload: new Uint8Array(0) }, blockAt(1))
  t.false(receipt.ok)
  t.is(receipt.error, 'storage.set in a query: storage is read-only')
})

test('now and random come from the block: equal for equal blocks, different for other seeds or positions', async t => {
  const state = stateWith({ [actorA]: await loadCode(await buildProbe(actorB)) })
  const run = (seed: number): string[] => executeBlock(state, [update(actorA, 'rand'), update(actorA, 'rand')], blockAt(3, seed)).receipts.map(r => Buffer.from(r.result!).toString('hex'))
  const [a1, a2] = run(1)
  t.deepEqual(run(1), [a1, a2])
  t.not(a1, a2, 'the message index seeds random')
  t.not(run(2)[0], a1, 'the block seed seeds random')
  t.is(Buffer.from(a1!, 'hex').readBigUInt64LE(16), blockAt(3).timeNs)
})

test('seededRandom spans several hash blocks without repeating', t => {
  const call = { actor: actorA, block: blockAt(1), index: 0, randomCounter: 0 } as Parameters<typeof seededRandom>[0]
  const bytes = seededRandom(call, 100)
  t.is(bytes.length, 100)
  t.notDeepEqual(bytes.subarray(0, 32), bytes.subarray(32, 64))
})

test('the storage quota per actor is enforced through a real actor', async t => {
  const state = stateWith({ [actorA]: await loadExample('kv') })
  // One big put per block, as real blocks carry at most a few MiB of payload in total.
  const value = 'x'.repeat(1024 * 1024 - 16 * 1024)
  const errors: Array<string | null> = []
  for (let i = 0; i < 9; i++) {
    const outcome = executeBlock(state, [update(actorA, 'put', json({ key: `big${i}`, value }))], blockAt(i + 1))
    state.storage.apply(outcome.writes)
    errors.push(outcome.receipts[0]!.error)
  }
  t.deepEqual(errors.slice(0, 8), Array.from({ length: 8 }, () => null))
  t.regex(errors[8]!, new RegExp(`^storage quota exceeded: \\d+ > ${actorStorageBytesMax} bytes$`))
  t.true(state.storage.storageBytes(actorA) <= actorStorageBytesMax)
})

test('executeBlock accepts a payload of exactly the limit', async t => {
  const state = stateWith({ [actorA]: await loadExample('counter-wat') })
  const outcome = executeBlock(state, [update(actorA, 'inc', new Uint8Array(actorPayloadBytesMax))], blockAt(1))
  t.true(outcome.receipts[0]!.ok, outcome.receipts[0]!.error ?? '')
})

test('executeBlock refuses bad messages before running them', async t => {
  const state = stateWith({ [actorA]: await loadExample('counter-wat') })
  const outcome = executeBlock(state, [
    update(actorA, 'inc', new Uint8Array(actorPayloadBytesMax + 1)),
    update(actorA, 'x'.repeat(129)),
    { ...update(actorA, 'inc'), fuelLimit: actorFuelPerMessageMax + 1n },
    update(actorB, 'inc')
  ], blockAt(1))
  t.deepEqual(outcome.receipts.map(r => r.error), [
    `payload too large: ${actorPayloadBytesMax + 1} > ${actorPayloadBytesMax} bytes`,
    'method name too long: 129 > 128 characters',
    `fuel limit out of range: ${actorFuelPerMessageMax + 1n} not in 1..${actorFuelPerMessageMax}`,
    `actor not installed: ${actorB}`
  ])
  t.true(outcome.receipts.every(r => r.fuelUsed === 0n))
})

test('receipts encode canonically: the same outcome gives the same bytes', async t => {
  const state = stateWith({ [actorA]: await loadExample('counter') })
  const a = executeBlock(state, [init(actorA), update(actorA, 'inc')], blockAt(1)).receipts.map(encodeReceipt)
  const b = executeBlock(state, [init(actorA), update(actorA, 'inc')], blockAt(1)).receipts.map(encodeReceipt)
  t.deepEqual(a, b)
})
