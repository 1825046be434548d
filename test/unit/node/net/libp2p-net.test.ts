import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { Registry } from 'prom-client'
import { silentLogger } from '../../../../node/core/logger.ts'
import { Libp2pNet } from '../../../../node/net/libp2p-net.ts'
import type { GossipMessage } from '../../../../node/net/net.ts'

async function newNet (bootstrap: string[] = []): Promise<Libp2pNet> {
  return new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, {
    privateKey: await generateKeyPair('Ed25519'),
    network: 'local',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    mdns: false,
    agentVersion: 'pylon-test'
  })
}

async function until (what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

test('Libp2pNet serves a registered protocol, gossips on a topic, and reports identified peers', async t => {
  const a = await newNet()
  const received: GossipMessage[] = []
  a.handle('/pylon/echo/1.0.0', async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1024 })
    const msg = await lp.read()
    await lp.write(msg.subarray())
    await stream.close()
  }, { inboundStreamsMax: 2, outboundStreamsMax: 2 })
  a.subscribe('pylon/test/1', m => { received.push(m); return 'accept' })
  await a.start()
  t.teardown(async () => { await a.stop() })
  const addr = a.multiaddrs()[0]!
  t.regex(addr, /\/p2p\//)

  const b = await newNet([addr])
  const identified: string[] = []
  b.onPeerIdentified((peer) => { identified.push(peer) })
  b.subscribe('pylon/test/1', () => 'accept')
  await b.start()
  t.teardown(async () => { await b.stop() })
  await until('identify', () => identified.includes(a.nodeId))

  const stream = await b.dial(a.nodeId, '/pylon/echo/1.0.0')
  const lp = lpStream(stream, { maxDataLength: 1024 })
  await lp.write(new TextEncoder().encode('hello'))
  t.is(new TextDecoder().decode((await lp.read()).subarray()), 'hello')
  await stream.close()

  await until('gossip', () => {
    void b.publish('pylon/test/1', new TextEncoder().encode(`m${Date.now()}`))
    return received.length > 0
  })
  t.is(received[0]!.from, b.nodeId)
  t.true(b.connections().some(c => c.nodeId === a.nodeId))
})

test('Libp2pNet refuses connections its gate denies, and admits the peer once the gate is removed', async t => {
  const a = await newNet()
  let denied = 0
  const removeGate = a.addGate({ deny: (_peer, direction) => { if (direction === 'inbound') denied++; return direction === 'inbound' } })
  a.handle('/pylon/x/1.0.0', async (stream) => { await stream.close() }, { inboundStreamsMax: 1, outboundStreamsMax: 1 })
  await a.start()
  t.teardown(async () => { await a.stop() })
  const b = await newNet([a.multiaddrs()[0]!])
  await b.start()
  t.teardown(async () => { await b.stop() })
  // b dials its bootstrap peer a at start; a's gate turns it away after the handshake.
  await until('the gate to refuse b', () => denied > 0)
  await t.throwsAsync(b.dial(a.nodeId, '/pylon/x/1.0.0', { signal: AbortSignal.timeout(5_000) }))
  t.false(a.connections().some(c => c.nodeId === b.nodeId))
  removeGate()
  const stream = await b.dial(a.nodeId, '/pylon/x/1.0.0', { signal: AbortSignal.timeout(5_000) })
  t.is(stream.protocol, '/pylon/x/1.0.0', 'once the gate is removed the peer is admitted')
})

test('Libp2pNet stores and finds a DHT record under a registered namespace, and refuses one that fails validation', async t => {
  const type = {
    validate: (_key: Uint8Array, value: Uint8Array) => { if (value[0] !== 1) throw new Error('bad record') },
    select: () => 0
  }
  const a = await newNet()
  a.registerRecordType('pylon-test', type)
  await a.start()
  t.teardown(async () => { await a.stop() })
  const b = await newNet([a.multiaddrs()[0]!])
  b.registerRecordType('pylon-test', type)
  const identified: string[] = []
  b.onPeerIdentified(peer => { identified.push(peer) })
  await b.start()
  t.teardown(async () => { await b.stop() })
  await until('identify', () => identified.includes(a.nodeId))
  const key = new TextEncoder().encode(`/pylon-test/${b.nodeId}`)
  await b.putRecord(key, Uint8Array.of(1, 2, 3), { signal: AbortSignal.timeout(15_000) })
  t.deepEqual(await a.getRecord(key, { signal: AbortSignal.timeout(15_000) }), Uint8Array.of(1, 2, 3))
  const badKey = new TextEncoder().encode(`/pylon-test/bad-${b.nodeId}`)
  await b.putRecord(badKey, Uint8Array.of(9), { signal: AbortSignal.timeout(15_000) }).catch(() => {})
  t.is(await a.getRecord(badKey, { signal: AbortSignal.timeout(15_000) }).catch(() => undefined), undefined)
})
