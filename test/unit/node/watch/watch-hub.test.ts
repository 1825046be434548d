import test from 'ava'
import { actorIdOf, height, type ActorId, type SubnetId } from '../../../../protocol/ids.ts'
import { watchEventKeysMax } from '../../../../protocol/limits.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import type { MessageChange } from '../../../../node/subnet/subnet-service.ts'
import { WatchHub, type Watcher } from '../../../../node/watch/watch-hub.ts'

const subnetA = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' as SubnetId
const subnetB = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' as SubnetId
const actor = actorIdOf(subnetA, 1n)

class FakeWatcher implements Watcher {
  sent: string[] = []
  closed: { code: number, reason: string } | undefined
  backlog = 0
  throws = false
  backlogBytes (): number { return this.backlog }
  send (text: string): void {
    if (this.throws) throw new Error('socket gone')
    this.sent.push(text)
  }

  close (code: number, reason: string): void { this.closed = { code, reason } }
}

const change = (over: Partial<MessageChange> = {}): MessageChange =>
  ({ actor, index: 0, method: 'inc', caller: 'alice', ok: true, changedKeys: [new TextEncoder().encode('count')], ...over })

test('WatchHub: limits per actor and per node, with the numbers in the refusal; a removed watcher frees its slot', t => {
  const hub = new WatchHub({ logger: silentLogger }, { perActorMax: 2, totalMax: 3 })
  const a = hub.add(actor, new FakeWatcher())
  const b = hub.add(actor, new FakeWatcher())
  t.true(a.ok && b.ok)
  const c = hub.add(actor, new FakeWatcher())
  t.false(c.ok)
  if (!c.ok) t.is(c.error.message, `actor ${actor} already has 2 watchers (limit 2)`)
  t.true(hub.add(actorIdOf(subnetA, 2n), new FakeWatcher()).ok)
  const d = hub.add(actorIdOf(subnetA, 3n), new FakeWatcher())
  t.false(d.ok)
  if (!d.ok) t.is(d.error.message, 'this node already streams to 3 watchers (limit 3)')
  if (a.ok) {
    a.value()
    a.value() // idempotent
  }
  t.is(hub.size, 2)
  t.true(hub.add(actor, new FakeWatcher()).ok)
})

test('WatchHub: watching() follows subscribers per subnet, so unwatched subnets collect nothing', t => {
  const hub = new WatchHub({ logger: silentLogger })
  t.false(hub.watching(subnetA))
  const added = hub.add(actor, new FakeWatcher())
  t.true(hub.watching(subnetA))
  t.false(hub.watching(subnetB))
  if (added.ok) added.value()
  t.false(hub.watching(subnetA))
})

test('WatchHub: events go to the actor\'s watchers only, in order; keys are cut at the bound with the count kept', t => {
  const hub = new WatchHub({ logger: silentLogger })
  const mine = new FakeWatcher()
  const other = new FakeWatcher()
  hub.add(actor, mine)
  hub.add(actorIdOf(subnetA, 2n), other)
  const many = Array.from({ length: watchEventKeysMax + 5 }, (_, i) => Uint8Array.of(i))
  hub.committed(subnetA, height(7n), [change(), change({ actor: actorIdOf(subnetA, 9n) }), change({ index: 2, method: 'bulk', changedKeys: many })])
  t.is(mine.sent.length, 2)
  t.is(other.sent.length, 0)
  const [first, second] = mine.sent.map(s => JSON.parse(s) as Record<string, unknown>)
  t.deepEqual(first, { actor, height: '7', index: 0, method: 'inc', caller: 'alice', ok: true, changedKeys: ['636f756e74'], changedKeyCount: 1, certified: false })
  t.is((second!.changedKeys as string[]).length, watchEventKeysMax)
  t.is(second!.changedKeyCount, watchEventKeysMax + 5)
})

test('WatchHub: a watcher whose backlog would pass the bound is cut off with the numbers; the others still get the event', t => {
  const drops: string[] = []
  const hub = new WatchHub({ logger: silentLogger, metrics: { sent () {}, refused () {}, dropped: reason => { drops.push(reason) } } }, { bufferedBytesMax: 1000 })
  const slow = new FakeWatcher()
  const fast = new FakeWatcher()
  hub.add(actor, slow)
  hub.add(actor, fast)
  slow.backlog = 990
  hub.committed(subnetA, height(1n), [change()])
  t.is(slow.sent.length, 0)
  t.is(slow.closed?.code, 1013)
  t.regex(slow.closed?.reason ?? '', /^too slow: \d+ bytes unsent > 1000$/)
  t.true(Buffer.byteLength(slow.closed!.reason) <= 123, 'a WebSocket close reason fits 123 bytes')
  t.is(fast.sent.length, 1)
  t.is(hub.size, 1)
  hub.committed(subnetA, height(2n), [change()])
  t.is(slow.sent.length, 0, 'a cut-off watcher gets nothing more')
  t.deepEqual(drops, ['slow'])
})

test('WatchHub: a watcher that throws is dropped without disturbing the commit or the others', t => {
  const hub = new WatchHub({ logger: silentLogger })
  const broken = new FakeWatcher()
  broken.throws = true
  const fine = new FakeWatcher()
  hub.add(actor, broken)
  hub.add(actor, fine)
  t.notThrows(() => { hub.committed(subnetA, height(1n), [change(), change({ index: 1 })]) })
  t.is(fine.sent.length, 2)
  t.is(hub.size, 1)
})

test('WatchHub: a successful $delete closes the actor\'s streams normally after the event; a refused one does not', t => {
  const hub = new WatchHub({ logger: silentLogger })
  const w = new FakeWatcher()
  hub.add(actor, w)
  hub.committed(subnetA, height(3n), [change({ method: '$delete', ok: false, changedKeys: [] })])
  t.is(w.closed, undefined)
  hub.committed(subnetA, height(4n), [change({ method: '$delete' })])
  t.is(w.sent.length, 2)
  t.deepEqual(w.closed, { code: 1000, reason: 'actor deleted' })
  t.is(hub.size, 0)
  const v = new FakeWatcher()
  hub.add(actorIdOf(subnetB, 1n) as ActorId, v)
  hub.closeAll(1001, 'node stopping')
  t.deepEqual(v.closed, { code: 1001, reason: 'node stopping' })
  t.false(hub.watching(subnetB))
})
