import test from 'ava'
import { connect } from 'node:net'
import { actorIdOf } from '../../../../protocol/ids.ts'
import { watchClientFrameBytesMax } from '../../../../protocol/limits.ts'
import { Client, exampleCode } from '../subnet/_harness.ts'
import { hex, openWatch, setupWatch } from './_watch.ts'

test('GET /v1/actors/:actorId/watch: three updates over two heights: exactly three events, with heights, indexes, methods, callers and keys', async t => {
  const s = await setupWatch(t)
  const watching = await openWatch(s.url, s.actor)
  const h2 = await s.height(s.client.update(s.actor).bytes)
  const h3 = await s.height(s.client.update(s.actor).bytes, s.client.update(s.actor).bytes)
  const events = await watching.next(3)
  const count = hex('count')
  t.deepEqual(events, [
    { actor: s.actor, height: String(h2), index: 0, method: 'inc', caller: s.client.id, ok: true, changedKeys: [count], changedKeyCount: 1, certified: false },
    { actor: s.actor, height: String(h3), index: 0, method: 'inc', caller: s.client.id, ok: true, changedKeys: [count], changedKeyCount: 1, certified: false },
    { actor: s.actor, height: String(h3), index: 1, method: 'inc', caller: s.client.id, ok: true, changedKeys: [count], changedKeyCount: 1, certified: false }
  ])
  // Another actor's messages reach its own watchers only: the next event here is the next update.
  const code = await exampleCode('counter-wat')
  await s.height(s.client.install(s.subnet, code).bytes)
  const other = actorIdOf(s.subnet.id, 2n)
  const otherWatching = await openWatch(s.url, other)
  const h5 = await s.height(s.client.update(other).bytes)
  t.is((await otherWatching.next(1))[0]!.height, String(h5))
  // A failed message is an event too: ok false, nothing changed.
  const h6 = await s.height(s.client.update(s.actor, 'nope').bytes)
  const [, , , failed] = await watching.next(4)
  t.like(failed, { height: String(h6), index: 0, method: 'nope', ok: false, changedKeys: [], changedKeyCount: 0 })
  t.is(watching.events.length, 4)
  t.is(otherWatching.events.length, 1)
  const metrics = await s.metrics()
  t.regex(metrics, /^pylon_watch_events_total 5$/m)
  t.regex(metrics, /^pylon_watch_streams 2$/m)
  watching.ws.close()
  otherWatching.ws.close()
})

test('GET /v1/actors/:actorId/watch: a delete is the last event: its deleted keys, then a normal close', async t => {
  const s = await setupWatch(t)
  await s.height(s.client.update(s.actor).bytes)
  const watching = await openWatch(s.url, s.actor)
  const stranger = new Client({ now: () => Date.now() })
  const h = await s.height(stranger.sign({ kind: 'delete', actor: s.actor }).bytes, s.client.sign({ kind: 'delete', actor: s.actor }).bytes)
  const [refused, deleted] = await watching.next(2)
  t.like(refused, { height: String(h), index: 0, method: '$delete', ok: false, caller: stranger.id, changedKeys: [] })
  t.like(deleted, { height: String(h), index: 1, method: '$delete', ok: true, caller: s.client.id, changedKeys: [hex('count')], changedKeyCount: 1 })
  t.deepEqual(await watching.closed, { code: 1000, reason: 'actor deleted' })
  t.is(s.hub.size, 0)
})

test('GET /v1/actors/:actorId/watch: refusals before the upgrade: bad id 400, unknown actor 404, not a member 421 with members, plain GET 426, too many 429', async t => {
  const s = await setupWatch(t, { perActorMax: 2 })
  const refusal = async (actor: string): Promise<{ status: number, body: Record<string, unknown> }> => {
    const error = await t.throwsAsync(openWatch(s.url, actor)) as Error & { status: number, body: Record<string, unknown> }
    return { status: error.status, body: error.body }
  }
  const bad = await refusal('not-an-actor')
  t.is(bad.status, 400)
  t.regex(bad.body.error as string, /^not an actor id: /)
  const unknown = await refusal(actorIdOf(s.subnet.id, 7n))
  t.is(unknown.status, 404)
  t.is(unknown.body.reason, 'unknown-actor')
  const foreign = await refusal(actorIdOf(s.foreign.id, 1n))
  t.is(foreign.status, 421)
  t.is(foreign.body.reason, 'not-member')
  t.deepEqual(foreign.body.members, [...s.foreign.memberIds])
  const plain = await fetch(`${s.url}/v1/actors/${s.actor}/watch`)
  t.is(plain.status, 426)
  t.regex(((await plain.json()) as { error: string }).error, /WebSocket/)
  const a = await openWatch(s.url, s.actor)
  const b = await openWatch(s.url, s.actor)
  const third = await refusal(s.actor)
  t.is(third.status, 429)
  t.regex(third.body.error as string, /already has 2 watchers \(limit 2\)/)
  a.ws.close()
  await a.closed
  // A slot freed by a close is usable again.
  const c = await openWatch(s.url, s.actor)
  t.is(s.hub.size, 2)
  b.ws.close()
  c.ws.close()
  const metrics = await s.metrics()
  for (const reason of ['malformed', 'unknown-actor', 'not-member', 'too-many-watchers']) t.regex(metrics, new RegExp(`^pylon_watch_refused_total\\{reason="${reason}"\\} 1$`, 'm'))
})

test('GET /v1/actors/:actorId/watch: client frames end only that stream (text 1008, oversized 1009, garbage bytes); the node keeps serving', async t => {
  const s = await setupWatch(t)
  const healthy = await openWatch(s.url, s.actor)
  const talker = await openWatch(s.url, s.actor)
  talker.ws.send('hello')
  const talked = await talker.closed
  t.is(talked.code, 1008)
  t.is(talked.reason, 'this stream takes no text messages')
  const big = await openWatch(s.url, s.actor)
  big.ws.send(new Uint8Array(watchClientFrameBytesMax + 1))
  t.is((await big.closed).code, 1009)

  // A raw client completes the handshake, then writes bytes that are no WebSocket frame.
  const port = Number(new URL(s.url).port)
  const raw = connect(port, '127.0.0.1')
  const ended = new Promise<string>(resolve => {
    let text = ''
    raw.on('data', d => { text += d.toString('latin1') })
    raw.on('close', () => resolve(text))
    raw.on('error', () => {})
  })
  raw.write(`GET /v1/actors/${s.actor}/watch HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  await new Promise(resolve => setTimeout(resolve, 200))
  raw.write(Buffer.from('GARBAGE\x00\xff\xfe not a frame'))
  const text = await ended
  t.regex(text, /^HTTP\/1\.1 101 /)
  // A not-WebSocket upgrade on the watch path and an upgrade elsewhere get HTTP errors.
  const odd = await rawRequest(port, `GET /v1/actors/${s.actor}/watch HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n`)
  t.regex(odd, /^HTTP\/1\.1 400 /)
  const elsewhere = await rawRequest(port, 'GET /v1/nothing HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
  t.regex(elsewhere, /^HTTP\/1\.1 404 [^]*no upgradable route/)

  const h = await s.height(s.client.update(s.actor).bytes)
  t.is((await healthy.next(1))[0]!.height, String(h))
  t.is((await fetch(`${s.url}/v1/subnets`)).status, 200)
  t.is(s.hub.size, 1)
  healthy.ws.close()
})

test('GET /v1/actors/:actorId/watch: stopping the node closes streams with 1001', async t => {
  const s = await setupWatch(t)
  const watching = await openWatch(s.url, s.actor)
  await s.watch.stop()
  t.deepEqual(await watching.closed, { code: 1001, reason: 'node stopping' })
})

async function rawRequest (port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  return await new Promise<string>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer in 5 s: ${text}`)) }, 5_000)
    socket.on('data', d => { text += d.toString('latin1') })
    socket.on('close', () => { clearTimeout(timer); resolve(text) })
    socket.on('error', () => {})
    socket.write(request)
  })
}
