// The example actors behave as documented in their headers, run through the real runtime
// (prebuilt components from contracts/build, jco glue, fuel-instrumented modules).

import test from 'ava'
import { executeBlock, executeQuery } from '../../../node/runtime/executor.ts'
import type { ActorId } from '../../../protocol/ids.ts'
import type { ActorMessage, BlockOutcome } from '../../../protocol/receipt.ts'
import { actorA, blockAt, init, json, loadExample, stateWith, update, utf8 } from '../node/runtime/_fixtures.ts'

type State = ReturnType<typeof stateWith>

/** Runs one block and applies its writes, as the store would. */
function run (state: State, messages: ActorMessage[], h = 1): BlockOutcome {
  const outcome = executeBlock(state, messages, blockAt(h))
  state.storage.apply(outcome.writes)
  return outcome
}

function query (state: State, actor: ActorId, method: string, payload: unknown = {}): unknown {
  const receipt = executeQuery(state, { actor, caller: 'alice', method, payload: json(payload) }, blockAt(99))
  if (!receipt.ok) throw new Error(receipt.error ?? 'query failed')
  return JSON.parse(utf8(receipt.result))
}

for (const name of ['counter', 'counter-wat']) {
  test(`${name}: inc returns the new count, get reads it, reads in a block see earlier writes`, async t => {
    const state = stateWith({ [actorA]: await loadExample(name) })
    const first = run(state, [init(actorA), update(actorA, 'inc'), update(actorA, 'inc'), update(actorA, 'inc')])
    t.deepEqual(first.receipts.map(r => [r.ok, utf8(r.result)]), [[true, ''], [true, '1'], [true, '2'], [true, '3']])
    t.is(first.writes.length, 1, 'three increments of one key are one net write')
    run(state, [update(actorA, 'inc')], 2)
    t.is(query(state, actorA, 'get'), 4)
  })

  test(`${name}: an unknown method fails with the actor's error and changes nothing`, async t => {
    const state = stateWith({ [actorA]: await loadExample(name) })
    const outcome = run(state, [update(actorA, 'dec')])
    t.false(outcome.receipts[0]!.ok)
    t.regex(outcome.receipts[0]!.error!, /unknown/)
    t.deepEqual(outcome.writes, [])
  })
}

test('kv: put, get, delete and list by prefix', async t => {
  const state = stateWith({ [actorA]: await loadExample('kv') })
  const puts = ['apple', 'apricot', 'banana', 'avocado'].map(k => update(actorA, 'put', json({ key: k, value: k.toUpperCase() })))
  const outcome = run(state, [init(actorA), ...puts, update(actorA, 'delete', json({ key: 'apricot' })), update(actorA, 'delete', json({ key: 'nope' }))])
  t.true(outcome.receipts.every(r => r.ok), JSON.stringify(outcome.receipts.map(r => r.error)))
  t.deepEqual(outcome.receipts.slice(-2).map(r => JSON.parse(utf8(r.result))), [true, false])
  t.is(query(state, actorA, 'get', { key: 'banana' }), 'BANANA')
  t.is(query(state, actorA, 'get', { key: 'apricot' }), null)
  t.deepEqual(query(state, actorA, 'list', { prefix: 'a' }), [['apple', 'APPLE'], ['avocado', 'AVOCADO']])
  t.deepEqual(query(state, actorA, 'list', { prefix: '', limit: 2 }), [['apple', 'APPLE'], ['avocado', 'AVOCADO']])
  const bad = run(state, [update(actorA, 'put', json({ key: '', value: 'x' })), update(actorA, 'put', new TextEncoder().encode('{not json'))], 2)
  t.deepEqual(bad.receipts.map(r => r.error), ['key must be a non-empty string', 'payload must be JSON'])
})

test('chat: post records caller and consensus time; recent returns the last posts in order', async t => {
  const state = stateWith({ [actorA]: await loadExample('chat') })
  const posts = ['one', 'two', 'three'].map((text, i) => update(actorA, 'post', json({ text }), i % 2 === 0 ? 'alice' : 'bob'))
  const outcome = run(state, [init(actorA), ...posts], 5)
  t.true(outcome.receipts.every(r => r.ok), JSON.stringify(outcome.receipts.map(r => r.error)))
  t.deepEqual(JSON.parse(utf8(outcome.receipts[2]!.result)), { id: 1, from: 'bob', at: String(blockAt(5).timeNs), text: 'two' })
  const recent = query(state, actorA, 'recent', { limit: 2 }) as Array<{ text: string }>
  t.deepEqual(recent.map(p => p.text), ['two', 'three'])
  const tooLong = run(state, [update(actorA, 'post', json({ text: 'x'.repeat(281) }))], 6)
  t.is(tooLong.receipts[0]!.error, 'text too long: 281 > 280 characters')
})

test('ledger: mint, transfer and balance; a transfer never changes the supply; overdrafts fail', async t => {
  const state = stateWith({ [actorA]: await loadExample('ledger') })
  run(state, [init(actorA, json({ minter: 'mint' })), update(actorA, 'mint', json({ to: 'alice', amount: '100' }), 'mint')])
  t.is(query(state, actorA, 'supply'), '100')
  const transfers = run(state, [
    update(actorA, 'transfer', json({ to: 'bob', amount: '30' }), 'alice'),
    update(actorA, 'transfer', json({ to: 'carol', amount: '5' }), 'bob'),
    update(actorA, 'transfer', json({ to: 'bob', amount: '1000' }), 'alice'),
    update(actorA, 'mint', json({ to: 'bob', amount: '1' }), 'bob')
  ], 2)
  t.deepEqual(transfers.receipts.map(r => r.ok ? JSON.parse(utf8(r.result)) : r.error),
    ['70', '25', 'insufficient balance: 70 < 1000', 'only the minter may mint'])
  t.is(query(state, actorA, 'supply'), '100')
  const balances = ['alice', 'bob', 'carol'].map(of => BigInt(query(state, actorA, 'balance', { of }) as string))
  t.deepEqual(balances, [70n, 25n, 5n])
  t.is(balances.reduce((a, b) => a + b), 100n, 'the balances sum to the supply')
})
