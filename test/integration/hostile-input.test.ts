// A daemon process fed garbage on its libp2p protocols (capacity exchange, gossip topic) and on its
// HTTP API keeps running, refuses and counts every bad message, and still answers correctly.

import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { byteStream, lpStream } from '@libp2p/utils'
import { connect } from 'node:net'
import { request } from 'node:http'
import { Registry } from 'prom-client'
import { capacityProtocol, capacityTopic, encodeCapacityAdvert } from '../../protocol/capacity.ts'
import { decode, encode } from '../../protocol/codec.ts'
import { silentLogger } from '../../node/core/logger.ts'
import { Libp2pNet } from '../../node/net/libp2p-net.ts'
import { newSigner, signedAdvert } from '../helpers/adverts.ts'
import { eventually, getJson, spawnDaemon, type DaemonProcess } from '../helpers/daemon-process.ts'

async function rejectedCount (d: DaemonProcess, reason: string, source: string): Promise<number> {
  const text = await (await fetch(`${d.api}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith('pylon_capacity_adverts_rejected_total{') && l.includes(`reason="${reason}"`) && l.includes(`source="${source}"`))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

/** Asks the daemon for its book over /pylon/capacity/1.0.0, as a peer would. */
async function pullBook (net: Libp2pNet, peer: string): Promise<Uint8Array[]> {
  const stream = await net.dial(peer as never, capacityProtocol, { signal: AbortSignal.timeout(10_000) })
  const lp = lpStream(stream, { maxDataLength: 2 * 1024 * 1024 })
  await lp.write(encode({ op: 'book' }))
  const answer = decode((await lp.read()).subarray())
  await stream.close()
  if (!answer.ok) throw new Error(answer.error)
  return (answer.value as { adverts: Uint8Array[] }).adverts
}

/** Sends raw bytes over HTTP/TCP and returns the status line (or '' if the socket just closed). */
async function rawHttp (url: string, payload: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve) => {
    const socket = connect(Number(port), hostname)
    let data = ''
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on('data', chunk => { data += chunk.toString('latin1') })
    socket.on('error', () => {})
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''))
    socket.write(payload)
    socket.end()
  })
}

async function httpStatus (url: string, method: string, headers: Record<string, string | number>, body?: Buffer): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, res => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('error', reject)
    if (body !== undefined) req.write(body, () => {})
    req.end()
  })
}

test('a daemon fed garbage on /pylon/capacity/1.0.0, the gossip topic, its HTTP API, the xnet and relay protocols keeps running and still answers, then exits 0 on SIGINT', async t => {
  t.timeout(100_000)
  const daemon = await spawnDaemon({ args: ['--advert-interval', '2000'] })
  t.teardown(() => daemon.destroy())
  const attacker = new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, {
    privateKey: await generateKeyPair('Ed25519'), network: 'local', listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [daemon.multiaddrs[0]!], mdns: false, agentVersion: 'attacker'
  })
  attacker.subscribe(capacityTopic, () => 'ignore')
  await attacker.start()
  t.teardown(async () => { await attacker.stop() })
  await eventually('a connection to the daemon', () => attacker.connections().some(c => c.nodeId === daemon.nodeId), 20_000)

  // 1. Garbage on the request/response protocol: bad varint, bad cbor, over-long request, huge length prefix.
  const garbage = [
    { lp: false, bytes: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
    { lp: true, bytes: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) },
    { lp: true, bytes: encode({ op: 'everything', please: true }) },
    { lp: true, bytes: new Uint8Array(5000) },
    { lp: false, bytes: Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x10]) } // claims a 4 GiB frame
  ]
  for (const { lp, bytes } of garbage) {
    const stream = await attacker.dial(daemon.nodeId as never, capacityProtocol, { signal: AbortSignal.timeout(10_000) })
    try {
      if (lp) await lpStream(stream).write(bytes)
      else await byteStream(stream).write(bytes)
      await stream.close({ signal: AbortSignal.timeout(5_000) })
    } catch {
      // The daemon may reset the stream first: that is the point.
    }
  }
  const book = await pullBook(attacker, daemon.nodeId)
  t.is(book.length, 1, 'the daemon still answers a well-formed request with its own advert')
  await eventually('malformed exchange requests counted', async () => await rejectedCount(daemon, 'malformed', 'exchange') >= 4, 10_000)

  // 2. Garbage, forged, expired and replayed adverts on the gossip topic.
  await eventually('the daemon in our gossip mesh', async () => await attacker.publish(capacityTopic, Uint8Array.of(1, 2, 3)) > 0, 30_000, 500)
  const mallory = newSigner()
  const real = signedAdvert(mallory, Date.now())
  await attacker.publish(capacityTopic, encode({ advert: { ...real.advert, cores: 4096 }, signature: real.signature }))
  await attacker.publish(capacityTopic, encodeCapacityAdvert(signedAdvert(newSigner(), Date.now() - 600_000, {}, 60_000)))
  await attacker.publish(capacityTopic, book[0]!)
  for (const reason of ['malformed', 'forged', 'expired', 'replayed']) {
    await eventually(`a ${reason} gossip advert counted`, async () => await rejectedCount(daemon, reason, 'gossip') >= 1, 15_000)
  }
  // Forged and malformed messages were rejected, which costs the forwarder its gossip score.
  await eventually('the daemon to score the attacker below zero', async () => {
    const peers = await getJson<Array<{ nodeId: string, gossipScore: number }>>(`${daemon.api}/v1/peers`)
    return (peers.find(p => p.nodeId === attacker.nodeId)?.gossipScore ?? 0) < 0
  }, 15_000)
  const adverts = await getJson<Array<{ nodeId: string, cores: number }>>(`${daemon.api}/v1/capacity`)
  t.false(adverts.some(a => a.nodeId === mallory.id), 'the forged advert never reached the book')

  // 3. Garbage over HTTP: bad paths, methods, huge and chunked bodies, malformed requests.
  t.is(await httpStatus(`${daemon.api}/nope/../../etc/passwd`, 'GET', {}), 404)
  t.is(await httpStatus(`${daemon.api}/v1/node`, 'DELETE', {}), 405)
  t.is(await httpStatus(`${daemon.api}/v1/node`, 'POST', { 'Content-Length': 50 * 1024 * 1024 }), 413)
  t.is(await httpStatus(`${daemon.api}/v1/capacity`, 'POST', { 'Transfer-Encoding': 'chunked' }, Buffer.alloc(200 * 1024, 7)), 413)
  t.regex(await rawHttp(daemon.api, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/)
  t.regex(await rawHttp(daemon.api, `GET /v1/node HTTP/1.1\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`), /^HTTP\/1\.1 4(00|31)/)
  t.is(await rawHttp(daemon.api, Buffer.from([0, 1, 2, 3, 255, 254])), 'HTTP/1.1 400 Bad Request')
  const notFound = await fetch(`${daemon.api}/v2/whatever`)
  t.deepEqual(await notFound.json(), { ok: false, error: 'no such route: GET /v2/whatever' })

  // 4. Garbage on the streams between subnets and the API relay: each gets a clear refusal frame.
  const ask = async (protocol: string, bytes: Uint8Array): Promise<Record<string, unknown>> => {
    const stream = await attacker.dial(daemon.nodeId as never, protocol, { signal: AbortSignal.timeout(10_000) })
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    await lp.write(bytes)
    const answer = decode((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
    await stream.close().catch(() => {})
    if (!answer.ok) throw new Error(answer.error)
    return answer.value as Record<string, unknown>
  }
  t.regex(String((await ask('/pylon/xnet/1.0.0', Uint8Array.from([0xde, 0xad]))).error), /^slice request: /)
  t.regex(String((await ask('/pylon/xnet/1.0.0', encode({ from: 'x', to: 'y', next: -1 }))).error), /^slice request from: /)
  const nowhere = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  const request = { from: nowhere, to: nowhere.replace('zy', 'za'), next: 0, have: 0, acked: 0, waitMs: 0 }
  t.is((await ask('/pylon/xnet/1.0.0', encode(request))).error, `not a member of subnet ${nowhere}`)
  t.like(await ask('/pylon/api-relay/1.0.0', encode({ nonsense: true })), { status: 400, json: { reason: 'malformed' } })
  t.like(await ask('/pylon/api-relay/1.0.0', encode({ method: 'GET', path: '/v1/node', query: '', body: new Uint8Array(0) })), { status: 404 })
  const relayedQuery = await ask('/pylon/api-relay/1.0.0', encode({ method: 'POST', path: '/v1/query', query: '', body: Uint8Array.from([1, 2, 3]) }))
  t.is(relayedQuery.status, 400, JSON.stringify(relayedQuery))

  // Still alive and correct.
  const node = await getJson<{ nodeId: string }>(`${daemon.api}/v1/node`)
  t.is(node.nodeId, daemon.nodeId)
  t.is((await pullBook(attacker, daemon.nodeId)).length, 1)
  t.is(await daemon.stop('SIGINT', 10_000), 0, daemon.logs().slice(-2000))
})
