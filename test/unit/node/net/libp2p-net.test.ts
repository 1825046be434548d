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
