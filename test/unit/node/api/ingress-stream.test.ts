// GET /v1/ingress/stream over real sockets on 127.0.0.1: a real one-member SubnetService (memory
// store, counter-wat, heights driven like the consensus driver), the real POST /v1/ingress handler
// behind the stream, the real ApiServer, and both the IngressStream client and a raw ws client.

import test, { type ExecutionContext } from 'ava'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { Registry } from 'prom-client'
import WebSocket from 'ws'
import { actorIdOf, type ActorId } from '../../../../protocol/ids.ts'
import { ingressIdOf } from '../../../../protocol/ingress.ts'
import { ingressStreamFrameBytesMax } from '../../../../protocol/limits.ts'
import { err, ok, type Result } from '../../../../protocol/result.ts'
import type { Subnet } from '../../../../protocol/subnet.ts'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { IngressStreamServer, PrometheusIngressStreamMetrics, waitingIngressHandler, type IngressStreamInit } from '../../../../node/api/ingress-stream-routes.ts'
import { subnetRoutes, type SubnetDirectory } from '../../../../node/api/subnet-routes.ts'
import { IngressStream, type StreamResult } from '../../../../node/cli/client.ts'
import { CliError } from '../../../../node/cli/output.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { RelayAnswer, RelayRequest } from '../../../../node/subnet/subnet-manager.ts'
import type { SubnetService } from '../../../../node/subnet/subnet-service.ts'
import { Client, exampleCode, makeReplica, makeSubnet, runHeight } from '../subnet/_harness.ts'

interface Setup {
  url: string
  subnet: Subnet
  foreign: Subnet
  service: SubnetService
  stream: IngressStreamServer
  /** Prometheus text of the stream metrics. */
  metrics: () => Promise<string>
  actor: ActorId
  clock: ManualClock
  /** What the relay to a member of `foreign` answers (undefined: no member reachable), and what it was asked. */
  relay: { answer: RelayAnswer | undefined, asked: RelayRequest[] }
  /** service.wait calls not yet settled: on a ManualClock only a result or an abort settles one. */
  waits: () => number
  /** Runs heights until `done()` holds (≤ 10 s), one whenever the mempool holds something. */
  drive: (done: () => boolean) => Promise<void>
}

async function setup (t: ExecutionContext, init: IngressStreamInit = {}): Promise<Setup> {
  const clock = new ManualClock(Date.now())
  const { subnet, nodes } = makeSubnet(1, clock)
  const foreign = makeSubnet(4, clock).subnet
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  let waits = 0
  const realWait = service.wait.bind(service)
  service.wait = async (...args) => {
    waits++
    try {
      return await realWait(...args)
    } finally {
      waits--
    }
  }
  const relay: Setup['relay'] = { answer: undefined, asked: [] }
  const directory: SubnetDirectory = {
    list: () => [service],
    get: id => (id === subnet.id ? service : undefined),
    known: id => (id === subnet.id ? subnet : id === foreign.id ? foreign : undefined),
    relay: async (_subnet, request): Promise<Result<RelayAnswer>> => {
      relay.asked.push(request)
      return relay.answer === undefined ? err('no member reachable (test)') : ok(relay.answer)
    }
  }
  const routes = subnetRoutes(directory, clock)
  const registry = new Registry()
  const stream: IngressStreamServer = new IngressStreamServer({
    submit: waitingIngressHandler(routes), clock, logger: silentLogger, metrics: new PrometheusIngressStreamMetrics(registry, () => stream.status)
  }, init)
  const api = new ApiServer({
    logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [],
    routes: [...stream.routes(), ...routes],
    upgrades: stream.upgrades()
  }, { host: '127.0.0.1', port: 0 })
  await stream.start()
  await api.start()
  t.teardown(async () => {
    await stream.stop()
    await api.stop()
    await service.stop()
  })
  const drive = async (done: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000
    while (!done()) {
      if (Date.now() > deadline) throw new Error('not done in 10 s')
      if (service.mempool.size > 0) await runHeight(service, [service])
      else await new Promise(resolve => setTimeout(resolve, 5))
    }
  }
  const code = await exampleCode('counter-wat')
  const stored = await service.putCode(code)
  if (!stored.ok) throw new Error(stored.error)
  const installed = service.submit(new Client(clock).install(subnet, code).bytes)
  if (!installed.ok) throw new Error(installed.error.message)
  await runHeight(service, [service])
  const actor = actorIdOf(subnet.id, 1n)
  if (await service.actor(actor) === undefined) throw new Error('counter-wat did not install')
  return { url: api.url, subnet, foreign, service, stream, relay, metrics: async () => await registry.metrics(), actor, clock, waits: () => waits, drive }
}

/** A bare WebSocket on the stream: answers (JSON text frames) parsed, close code kept. */
async function rawStream (url: string): Promise<{ ws: WebSocket, answers: Array<Record<string, unknown>>, closed: Promise<{ code: number, reason: string }>, next: (n: number) => Promise<Array<Record<string, unknown>>> }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ingress/stream`, { handshakeTimeout: 5_000, perMessageDeflate: false })
  const answers: Array<Record<string, unknown>> = []
  ws.on('message', (data, isBinary) => {
    answers.push(isBinary ? { binary: true } : JSON.parse(String(data)) as Record<string, unknown>)
  })
  const closed = new Promise<{ code: number, reason: string }>(resolve => { ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString() }) }) })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('unexpected-response', () => reject(new Error('refused'))) })
  const next = async (n: number): Promise<Array<Record<string, unknown>>> => {
    const deadline = Date.now() + 10_000
    while (answers.length < n) {
      if (Date.now() > deadline) throw new Error(`${answers.length} of ${n} answers in 10 s`)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    return answers.slice(0, n)
  }
  return { ws, answers, closed, next }
}

test('300 updates pipelined on one stream are all answered certified, each verified against the genesis', async t => {
  const { url, subnet, stream, actor, clock, drive } = await setup(t)
  const ingress = await IngressStream.open(url, { subnet })
  t.teardown(async () => { await ingress.close() })
  // Three principals: one may only burst 200 (the mempool's rate bound; this clock never moves).
  const clients = [new Client(clock), new Client(clock), new Client(clock)]
  const updates = Array.from({ length: 300 }, (_, i) => clients[i % 3]!.update(actor))
  const answers: StreamResult[] = []
  const all = Promise.all(updates.map(async u => { const a = await ingress.submit(u); answers.push(a); return a }))
  await drive(() => answers.length === updates.length)
  const results = await all
  t.true(results.every((r, i) => r.code === 200 && r.status === 'certified' && r.ingressId === updates[i]!.id))
  t.true(results.every(r => r.verified !== undefined && r.verified.ok && r.verified.signers === 1))
  const counts = results.map(r => Number(new TextDecoder().decode(r.verified!.result!))).sort((a, b) => a - b)
  t.deepEqual(counts, Array.from({ length: 300 }, (_, i) => i + 1), 'each update ran exactly once')
  t.deepEqual(stream.status, { streams: 1, inFlight: 0 })
})

/** A TCP proxy to `target` whose connections can be cut and whose port can refuse for a while (a node restarting, a link lost). */
async function cuttableProxy (t: ExecutionContext, target: string): Promise<{ url: string, cut: () => void, refuse: () => Promise<void>, accept: () => Promise<void> }> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let listenPort = 0
  const accept = async (): Promise<void> => {
    server = createServer(client => {
      const upstream = connect(Number(port), hostname)
      for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
        sockets.add(a)
        a.on('close', () => { sockets.delete(a); b.destroy() }).on('error', () => {})
        a.pipe(b)
      }
    })
    await new Promise<void>(resolve => server!.listen(listenPort, '127.0.0.1', resolve))
    listenPort = (server.address() as { port: number }).port
  }
  const cut = (): void => { for (const socket of sockets) socket.destroy() }
  const refuse = async (): Promise<void> => { cut(); await new Promise(resolve => server!.close(resolve)) }
  await accept()
  t.teardown(async () => { cut(); server?.close() })
  return { url: `http://127.0.0.1:${listenPort}`, cut, refuse, accept }
}

test('a stream that drops is opened again, and what was unanswered is sent again and answered once', async t => {
  const { url, subnet, actor, clock, drive, waits } = await setup(t)
  const proxy = await cuttableProxy(t, url)
  const ingress = await IngressStream.open(proxy.url, { subnet })
  t.teardown(async () => { await ingress.close() })
  const client = new Client(clock)
  const updates = Array.from({ length: 20 }, () => client.update(actor))
  const answers: StreamResult[] = []
  const all = Promise.all(updates.map(async u => { const a = await ingress.submit(u); answers.push(a); return a }))
  for (let i = 0; i < 400 && waits() < 20; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(waits(), 20, 'every update waits for its height')

  // The connection is lost and the port refuses for a while (the node restarting), then accepts.
  await proxy.refuse()
  for (let i = 0; i < 400 && waits() > 0; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(waits(), 0, 'the node ended the waits of the dropped stream')
  for (let i = 0; i < 400 && ingress.pending.inFlight > 0; i++) await new Promise(resolve => setTimeout(resolve, 5))
  const more = client.update(actor)
  const late = ingress.submit(more)
  t.deepEqual(ingress.pending, { inFlight: 0, queued: 21 }, 'unanswered and new envelopes wait for the stream to reopen')
  await new Promise(resolve => setTimeout(resolve, 600))
  await proxy.accept()
  await drive(() => answers.length === updates.length)
  const results = [...await all, await late]
  t.true(results.every(r => r.status === 'certified' && r.verified?.ok === true), 'every update is answered certified and verified')
  const counts = results.map(r => Number(new TextDecoder().decode(r.verified!.result!))).sort((a, b) => a - b)
  t.deepEqual(counts, Array.from({ length: 21 }, (_, i) => i + 1), 'each update ran exactly once, the resent ones included')
  t.true(ingress.reconnects >= 1)

  // A drop while nothing waits, then more updates: the stream is open again for them.
  proxy.cut()
  const again = ingress.submit(client.update(actor))
  await drive(() => ingress.pending.inFlight === 0 && ingress.pending.queued === 0)
  t.is((await again).status, 'certified')
})

test('a stream that cannot be opened again within reconnectMs rejects its envelopes with connection-lost; reconnectMs 0 fails at once', async t => {
  const { url, actor, clock, waits } = await setup(t)
  const proxy = await cuttableProxy(t, url)
  const ingress = await IngressStream.open(proxy.url, { reconnectMs: 700 })
  t.teardown(async () => { await ingress.close() })
  const client = new Client(clock)
  const submitted = Array.from({ length: 3 }, async () => await ingress.submit(client.update(actor)).then(() => 'answered', (e: unknown) => e))
  for (let i = 0; i < 400 && waits() < 3; i++) await new Promise(resolve => setTimeout(resolve, 5))
  await proxy.refuse()
  const outcomes = await Promise.all(submitted)
  t.true(outcomes.every(o => o instanceof CliError && o.code === 'connection-lost'), 'rejected once the reconnect window is over')
  await t.throwsAsync(ingress.submit(client.update(actor)), { instanceOf: CliError, code: 'connection-lost' })

  await proxy.accept()
  const once = await IngressStream.open(proxy.url, { reconnectMs: 0 })
  t.teardown(async () => { await once.close() })
  const pending = once.submit(client.update(actor)).then(() => 'answered', (e: unknown) => e)
  for (let i = 0; i < 400 && waits() < 1; i++) await new Promise(resolve => setTimeout(resolve, 5))
  proxy.cut()
  const outcome = await pending
  t.true(outcome instanceof CliError && outcome.code === 'stream-closed', 'without reconnecting, a drop rejects at once')
})

test('refusals are answered per envelope by name, with the HTTP status and reason, and the stream stays open', async t => {
  const { url, actor, clock, foreign, drive, metrics } = await setup(t)
  const raw = await rawStream(url)
  const client = new Client(clock)
  const garbage = new TextEncoder().encode('not an envelope')
  const forged = client.update(actor).bytes.slice()
  forged[forged.length - 1]! ^= 1 // the signature's last byte: still canonical dag-cbor, no longer valid
  const expired = new Client({ now: () => clock.now() - 120_000 }).update(actor).bytes
  const query = client.query(actor).bytes
  const toForeign = client.update(actorIdOf(foreign.id, 1n)).bytes
  for (const bytes of [garbage, forged, expired, query, new Uint8Array(0), toForeign]) raw.ws.send(bytes)
  const refused = await raw.next(6)
  const byId = new Map(refused.map(a => [a.ingressId, a]))
  t.like(byId.get(ingressIdOf(garbage)), { code: 400, ok: false, reason: 'malformed' })
  t.like(byId.get(ingressIdOf(forged)), { code: 400, ok: false, reason: 'bad-signature' })
  t.like(byId.get(ingressIdOf(expired)), { code: 400, ok: false, reason: 'expired' })
  t.like(byId.get(ingressIdOf(query)), { code: 400, ok: false, reason: 'query' })
  t.like(byId.get(ingressIdOf(new Uint8Array(0))), { code: 400, ok: false, reason: 'malformed' })
  // A subnet this node knows but does not serve goes through a member, as over HTTP; none answers here.
  t.like(byId.get(ingressIdOf(toForeign)), { code: 502, ok: false, reason: 'unreachable', members: [...foreign.memberIds] })
  for (const answer of refused) t.is(typeof answer.error, 'string')
  // The same stream still carries a good envelope to its certified result.
  const good = client.update(actor)
  raw.ws.send(good.bytes)
  await drive(() => raw.answers.length === 7)
  t.like(raw.answers[6], { code: 200, ok: true, status: 'certified', ingressId: good.id, height: '2', index: 0 })
  t.is(typeof raw.answers[6]!.certified, 'string', 'base64, as over HTTP')
  // A duplicate is answered with the result it already has (as POST ?wait=1 does), not refused.
  raw.ws.send(good.bytes)
  t.like((await raw.next(8))[7], { code: 200, status: 'certified', ingressId: good.id })
  // Only WebSocket-level misuse ends the stream: a text frame.
  raw.ws.send('hello')
  t.like(await raw.closed, { code: 1003 })
  for (let i = 0; i < 100 && !(await metrics()).includes('pylon_ingress_stream_closed_total{code="1003"} 1'); i++) await new Promise(resolve => setTimeout(resolve, 10))
  const text = await metrics()
  t.regex(text, /pylon_ingress_stream_answers_total\{code="400"\} 5/)
  t.regex(text, /pylon_ingress_stream_answers_total\{code="502"\} 1/)
  t.regex(text, /pylon_ingress_stream_answers_total\{code="200"\} 2/)
  t.regex(text, /pylon_ingress_stream_closed_total\{code="1003"\} 1/)
})

test('a frame over the envelope bound closes the stream with 1009', async t => {
  const { url, stream } = await setup(t)
  const raw = await rawStream(url)
  raw.ws.send(new Uint8Array(ingressStreamFrameBytesMax + 1))
  t.is((await raw.closed).code, 1009)
  t.is(raw.answers.length, 0)
  for (let i = 0; i < 100 && stream.status.streams > 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.is(stream.status.streams, 0)
})

test('a client past its in-flight bound is cut off (1008) and its waits end; IngressStream queues instead', async t => {
  const { url, actor, clock, stream, waits, drive } = await setup(t, { inFlightMax: 4 })
  const client = new Client(clock)
  const raw = await rawStream(url)
  for (let i = 0; i < 4; i++) raw.ws.send(client.update(actor).bytes)
  for (let i = 0; i < 200 && waits() < 4; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(waits(), 4, 'four envelopes wait for their height')
  raw.ws.send(client.update(actor).bytes)
  const closed = await raw.closed
  t.is(closed.code, 1008)
  t.regex(closed.reason, /more than 4 envelopes in flight/)
  // Nothing moves the clock and no height runs: only the close can have ended those waits.
  for (let i = 0; i < 200 && (waits() > 0 || stream.status.inFlight > 0 || stream.status.streams > 0); i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(waits(), 0)
  t.deepEqual(stream.status, { streams: 0, inFlight: 0 })

  // The client keeps to the bound itself: 10 submitted, 4 on the wire, 6 queued, all answered.
  const ingress = await IngressStream.open(url, { inFlightMax: 4 })
  t.teardown(async () => { await ingress.close() })
  let answered = 0
  const all = Promise.all(Array.from({ length: 10 }, async () => { const a = await ingress.submit(client.update(actor)); answered++; return a }))
  t.deepEqual(ingress.pending, { inFlight: 4, queued: 6 })
  await drive(() => answered === 10)
  t.true((await all).every(a => a.status === 'certified'))
})

test('closing a stream ends its waits at once and rejects what was unanswered', async t => {
  const { url, actor, clock, stream, waits } = await setup(t)
  const ingress = await IngressStream.open(url)
  const clients = [new Client(clock), new Client(clock)]
  const submitted = Array.from({ length: 50 }, (_, i) => ingress.submit(clients[i % 2]!.update(actor)).then(() => 'answered', (e: unknown) => e))
  for (let i = 0; i < 400 && waits() < 50; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(waits(), 50)
  t.is(stream.status.inFlight, 50)
  await ingress.close()
  const outcomes = await Promise.all(submitted)
  t.true(outcomes.every(o => o instanceof CliError && o.code === 'stream-closed'), 'every unanswered submit rejects')
  for (let i = 0; i < 200 && (waits() > 0 || stream.status.streams > 0); i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(waits(), 0, 'no wait outlives its stream')
  t.deepEqual(stream.status, { streams: 0, inFlight: 0 })
  await t.throwsAsync(ingress.submit(clients[0]!.update(actor)), { instanceOf: CliError, message: /closed/ })
})

test('node bounds: streams per node refused before the upgrade, envelopes past the node-wide bound answered busy', async t => {
  const { url, actor, clock, stream, waits, metrics } = await setup(t, { connectionsMax: 2, inFlightNodeMax: 3 })
  const a = await rawStream(url)
  const b = await rawStream(url)
  const third = await IngressStream.open(url).then(() => undefined, (e: unknown) => e)
  t.true(third instanceof CliError && third.code === 'too-many-streams', String(third))
  t.regex(await metrics(), /pylon_ingress_stream_refused_total\{reason="too-many-streams"\} 1/)
  t.regex(await metrics(), /pylon_ingress_streams 2/)
  const client = new Client(clock)
  for (let i = 0; i < 2; i++) a.ws.send(client.update(actor).bytes)
  b.ws.send(client.update(actor).bytes)
  for (let i = 0; i < 200 && waits() < 3; i++) await new Promise(resolve => setTimeout(resolve, 5))
  const over = client.update(actor).bytes
  b.ws.send(over)
  t.like((await b.next(1))[0], { code: 503, ok: false, reason: 'busy', ingressId: ingressIdOf(over) })
  t.is(b.ws.readyState, WebSocket.OPEN, 'a busy refusal leaves the stream open')
  // A plain GET says it is a WebSocket, rather than looking for an ingress id "stream".
  const plain = await fetch(`${url}/v1/ingress/stream`)
  t.is(plain.status, 426)
  t.like(await plain.json(), { reason: 'upgrade-required' })
  // Stopping the node's streams closes them with 1001 and ends their waits.
  await stream.stop()
  t.is((await a.closed).code, 1001)
  t.is((await b.closed).code, 1001)
  for (let i = 0; i < 200 && waits() > 0; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.is(waits(), 0)
})

test('an envelope for a subnet this node does not serve goes through a member, as POST /v1/ingress?wait=1 does', async t => {
  const { url, foreign, clock, relay } = await setup(t)
  const update = new Client(clock).update(actorIdOf(foreign.id, 1n))
  // The member's answer, as its own route gave it: the stream hands it on with its status.
  relay.answer = { status: 200, json: { ok: true, status: 'certified', ingressId: update.id, requestId: update.requestId, subnet: foreign.id, height: '7', certified: 'AAEC' } }
  const raw = await rawStream(url)
  raw.ws.send(update.bytes)
  t.like((await raw.next(1))[0], { code: 200, status: 'certified', ingressId: update.id, height: '7', certified: 'AAEC' })
  t.like(relay.asked.at(-1), { method: 'POST', path: '/v1/ingress', query: 'wait=1' })
  t.true(Buffer.from(relay.asked.at(-1)!.body).equals(update.bytes), 'the envelope is relayed byte for byte')
})

test('IngressStream.open: no daemon, a cancelled open and a non-stream node each fail with one clear error', async t => {
  const { createServer } = await import('node:net')
  const idle = createServer()
  await new Promise<void>(resolve => idle.listen(0, '127.0.0.1', () => resolve()))
  const port = (idle.address() as { port: number }).port
  await new Promise<void>(resolve => idle.close(() => resolve()))
  const none = await IngressStream.open(`http://127.0.0.1:${port}`).then(() => undefined, (e: unknown) => e)
  t.true(none instanceof CliError && none.code === 'no-daemon', String(none))
  const { url } = await setup(t)
  const cancelled = await IngressStream.open(url, { signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e)
  t.true(cancelled instanceof CliError && cancelled.code === 'aborted', String(cancelled))
  // An API without the stream mounted answers the upgrade with its JSON 404, named as such.
  const bare = new ApiServer({ logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [] }, { host: '127.0.0.1', port: 0 })
  await bare.start()
  t.teardown(async () => { await bare.stop() })
  const missing = await IngressStream.open(bare.url).then(() => undefined, (e: unknown) => e)
  t.true(missing instanceof CliError && missing.code === 'http-404' && /no upgradable route/.test(missing.message), String(missing))
})
