import test from 'ava'
import { checkLinearizable, kvModel, type KvInput, type KvOutput, type Operation } from '../../../sim/linearizability.ts'

type Op = Operation<KvInput, KvOutput>
const put = (client: number, key: string, value: string, callAt: number, returnAt: number): Op => ({ client, input: { kind: 'put', key, value }, output: returnAt === Infinity ? undefined : 'ok', callAt, returnAt })
const get = (client: number, key: string, output: KvOutput | undefined, callAt: number, returnAt: number): Op => ({ client, input: { kind: 'get', key }, output, callAt, returnAt })

test('checkLinearizable accepts a sequential history', t => {
  t.true(checkLinearizable(kvModel, [put(0, 'a', '1', 0, 1), get(1, 'a', '1', 2, 3), put(0, 'a', '2', 4, 5), get(1, 'a', '2', 6, 7)]).ok)
})

test('checkLinearizable accepts a read concurrent with a write seeing either value', t => {
  const base = [put(0, 'a', '1', 0, 1), put(0, 'a', '2', 2, 10)]
  t.true(checkLinearizable(kvModel, [...base, get(1, 'a', '1', 3, 4)]).ok)
  t.true(checkLinearizable(kvModel, [...base, get(1, 'a', '2', 3, 4)]).ok)
})

test('checkLinearizable refuses a stale read after a completed write', t => {
  const result = checkLinearizable(kvModel, [put(0, 'a', '1', 0, 1), put(0, 'a', '2', 2, 3), get(1, 'a', '1', 4, 5)])
  t.false(result.ok)
  t.is(result.partition, 'a')
})

test('checkLinearizable refuses a read of a value never written', t => {
  t.false(checkLinearizable(kvModel, [put(0, 'a', '1', 0, 1), get(1, 'a', 'x', 2, 3)]).ok)
})

test('checkLinearizable refuses reads that flip between two finished writes', t => {
  // Once both concurrent writes have ended the register holds one final value: 1, 2, 1 is impossible.
  const history = [
    put(0, 'a', '1', 0, 10), put(1, 'a', '2', 0, 10),
    get(2, 'a', '1', 11, 12), get(2, 'a', '2', 13, 14), get(3, 'a', '1', 15, 16)
  ]
  t.false(checkLinearizable(kvModel, history).ok)
})

test('checkLinearizable lets an operation with unknown outcome take effect late or never', t => {
  // The put never returned (+∞): a later read may see it or not.
  t.true(checkLinearizable(kvModel, [put(0, 'a', '1', 0, Infinity), get(1, 'a', null, 5, 6), get(1, 'a', '1', 7, 8)]).ok)
  t.true(checkLinearizable(kvModel, [put(0, 'a', '1', 0, Infinity), get(1, 'a', null, 5, 6)]).ok)
  // But once seen, it cannot be unseen.
  t.false(checkLinearizable(kvModel, [put(0, 'a', '1', 0, Infinity), get(1, 'a', '1', 5, 6), get(1, 'a', null, 7, 8)]).ok)
})

test('checkLinearizable checks keys independently', t => {
  const ok = [put(0, 'a', '1', 0, 1), put(0, 'b', '2', 0, 1), get(1, 'a', '1', 2, 3), get(1, 'b', '2', 2, 3)]
  t.true(checkLinearizable(kvModel, ok).ok)
  const bad = [...ok, get(1, 'b', '1', 4, 5)]
  const result = checkLinearizable(kvModel, bad)
  t.false(result.ok)
  t.is(result.partition, 'b')
})

test('checkLinearizable handles many concurrent operations without blowing up', t => {
  const history: Op[] = []
  for (let i = 0; i < 40; i++) history.push(put(i % 4, 'k', String(i), i, i + 5))
  history.push(get(9, 'k', '39', 100, 101))
  const result = checkLinearizable(kvModel, history)
  t.true(result.ok)
  t.true(result.explored < 1_000_000)
})

test('checkLinearizable refuses an operation that returns before its call', t => {
  t.throws(() => checkLinearizable(kvModel, [put(0, 'a', '1', 5, 1)]), { instanceOf: RangeError })
})
