import test from 'ava'
import { BoundedMap } from '../../../../node/core/bounded-map.ts'
import { BoundedQueue } from '../../../../node/core/bounded-queue.ts'
import { startAll } from '../../../../node/core/startable.ts'

test('BoundedMap evicts the least recently set entry past its bound', t => {
  const map = new BoundedMap<string, number>(2)
  t.is(map.set('a', 1), undefined)
  map.set('b', 2)
  map.set('a', 3) // refresh a
  t.deepEqual(map.set('c', 4), ['b', 2])
  t.deepEqual([...map.keys()], ['a', 'c'])
})

test('BoundedQueue refuses a push when full and keeps FIFO order', t => {
  const queue = new BoundedQueue<number>(3)
  t.true(queue.push(1)); t.true(queue.push(2)); t.true(queue.push(3))
  t.false(queue.push(4))
  t.is(queue.shift(), 1)
  t.true(queue.push(5))
  t.deepEqual(queue.take(10), [2, 3, 5])
  t.is(queue.shift(), undefined)
})

test('startAll stops started components in reverse when a later one fails', async t => {
  const log: string[] = []
  const component = (name: string, fail = false) => ({
    name,
    component: {
      start: async () => { if (fail) throw new Error('boom'); log.push(`start ${name}`) },
      stop: async () => { log.push(`stop ${name}`) }
    }
  })
  await t.throwsAsync(startAll([component('a'), component('b'), component('c', true)], () => {}), { message: /c failed to start: boom/ })
  t.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a'])
  log.length = 0
  const stop = await startAll([component('x'), component('y')], () => {})
  await stop()
  t.deepEqual(log, ['start x', 'start y', 'stop y', 'stop x'])
})
