// ActorStorage against a plain model: reads, ranges and net writes over base + block + message
// layers agree with a Map for any sequence of operations; the quota and key bounds hold.

import test from 'ava'
import fc from 'fast-check'
import { ActorStorage } from '../../../../node/runtime/actor-storage.ts'
import { ActorTrap } from '../../../../node/runtime/actor-trap.ts'
import { MemoryState, keyString, preloadState } from '../../../../node/runtime/state-view.ts'
import { actorKeyBytesMax } from '../../../../protocol/limits.ts'
import { actorA } from './_fixtures.ts'

const key = fc.uint8Array({ minLength: 0, maxLength: 3, max: 3 })
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.uint8Array({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), key }),
  fc.record({ kind: fc.constant('commit' as const) }),
  fc.record({ kind: fc.constant('rollback' as const) }),
  fc.record({ kind: fc.constant('range' as const), start: key, end: key, limit: fc.integer({ min: 0, max: 6 }) })
)

function sortedEntries (model: Map<string, Uint8Array>, start: string, end: string, limit: number): Array<[string, string]> {
  return [...model.entries()].filter(([k]) => k >= start && (end === '' || k < end))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit).map(([k, v]) => [k, keyString(v)])
}

test('ActorStorage agrees with a model Map for any sequence of operations', t => {
  fc.assert(fc.property(fc.array(fc.tuple(key, fc.uint8Array({ maxLength: 4 })), { maxLength: 8 }), fc.array(op, { maxLength: 40 }), (base, ops) => {
    const state = MemoryState.from([[actorA, base]])
    const storage = new ActorStorage(state, actorA)
    const committed = new Map(state.range(actorA, new Uint8Array(0), new Uint8Array(0), 100).map(([k, v]) => [keyString(k), v]))
    let current = new Map(committed)
    for (const o of ops) {
      if (o.kind === 'set') { storage.set(o.key, o.value); current.set(keyString(o.key), o.value) }
      if (o.kind === 'delete') { storage.delete(o.key); current.delete(keyString(o.key)) }
      if (o.kind === 'commit') { storage.commitMessage(); committed.clear(); for (const [k, v] of current) committed.set(k, v) }
      if (o.kind === 'rollback') { storage.rollbackMessage(); current = new Map(committed) }
      if (o.kind === 'range') {
        const got = storage.range(o.start, o.end, o.limit).map(([k, v]) => [keyString(k), keyString(v)])
        if (JSON.stringify(got) !== JSON.stringify(sortedEntries(current, keyString(o.start), keyString(o.end), o.limit))) return false
      }
      let bytes = 0
      for (const [k, v] of current) bytes += k.length + v.length
      if (storage.bytes !== bytes) return false
    }
    storage.rollbackMessage()
    // Applying the net writes to the base must give the committed model.
    state.apply(storage.writes())
    const after = sortedEntries(new Map(state.range(actorA, new Uint8Array(0), new Uint8Array(0), 100).map(([k, v]) => [keyString(k), v])), '', '', 100)
    return JSON.stringify(after) === JSON.stringify(sortedEntries(committed, '', '', 100))
  }), { numRuns: 300, seed: 42 })
  t.pass()
})

test('ActorStorage enforces its quota, the key bound and the value bound', t => {
  const storage = new ActorStorage(new MemoryState(), actorA, 10)
  storage.set(Uint8Array.of(1), new Uint8Array(9))
  t.throws(() => { storage.set(Uint8Array.of(2), new Uint8Array(1)) }, { instanceOf: ActorTrap, message: 'storage quota exceeded: 12 > 10 bytes' })
  storage.set(Uint8Array.of(1), new Uint8Array(8)) // replacing a value counts only the difference
  t.is(storage.bytes, 9)
  t.throws(() => storage.get(new Uint8Array(actorKeyBytesMax + 1)), { message: `storage key too large: ${actorKeyBytesMax + 1} > ${actorKeyBytesMax} bytes` })
})

test('ActorStorage.writes omits keys set back to their base value', t => {
  const state = MemoryState.from([[actorA, [[Uint8Array.of(1), Uint8Array.of(7)]]]])
  const storage = new ActorStorage(state, actorA)
  storage.set(Uint8Array.of(1), Uint8Array.of(8))
  storage.set(Uint8Array.of(1), Uint8Array.of(7))
  storage.set(Uint8Array.of(2), Uint8Array.of(1))
  storage.delete(Uint8Array.of(2))
  storage.commitMessage()
  t.deepEqual(storage.writes(), [])
})

test('preloadState reads every entry of each named actor once, from any entry source', async t => {
  const source = MemoryState.from([[actorA, [[Uint8Array.of(2), Uint8Array.of(20)], [Uint8Array.of(1), Uint8Array.of(10)]]]])
  const entriesOf = async function * (actor: typeof actorA): AsyncIterable<{ key: Uint8Array, value: Uint8Array }> {
    for (const [key, value] of source.range(actor, new Uint8Array(0), new Uint8Array(0), 100)) yield { key, value }
  }
  const state = await preloadState({ actorEntries: entriesOf }, [actorA, actorA])
  t.deepEqual(state.dump(), source.dump())
  t.is(state.storageBytes(actorA), 4)
})
