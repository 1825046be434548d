// Four ConsensusDrivers on four real libp2p hosts (TCP, Noise, Yamux on loopback) in one process,
// each with its own LevelDB store: they dial each other from the genesis addresses and finalize.

import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { blockHash, hex } from '../../protocol/consensus/messages.ts'
import { peerIdOfPublicKey, type NodeId } from '../../protocol/ids.ts'
import { signerFromSeed } from '../../protocol/signature.ts'
import { ConsensusDriver } from '../../node/consensus/consensus-driver.ts'
import { PrometheusConsensusMetrics } from '../../node/consensus/consensus-metrics.ts'
import { systemClock } from '../../node/core/clock.ts'
import { silentLogger } from '../../node/core/logger.ts'
import { Libp2pNet } from '../../node/net/libp2p-net.ts'
import { openStore } from '../../node/store/level-store.ts'
import { CounterApplication, subnetOf, waitFor } from '../unit/node/consensus/_harness.ts'

test('ConsensusDriver: 4 libp2p hosts on loopback with LevelDB stores finalize 10 heights, and one restarts in place', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-consensus-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const hosts = await Promise.all([0, 1, 2, 3].map(async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const signer = signerFromSeed(privateKey.raw.subarray(0, 32), peerIdOfPublicKey)
    const net = new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, {
      privateKey, network: 'local', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, agentVersion: 'pylon-test'
    })
    return { signer, net }
  }))
  t.teardown(async () => { for (const h of hosts) await h.net.stop() })
  for (const h of hosts) await h.net.start()
  const addresses = new Map(hosts.map(h => [h.net.nodeId, h.net.multiaddrs()]))
  const subnet = subnetOf(hosts.map(h => h.signer), 100, id => addresses.get(id)!)
  const registry = new Registry()
  const metrics = new PrometheusConsensusMetrics(registry)
  const nodes = await Promise.all(hosts.map(async (h, i) => {
    const store = await openStore(join(dir, `n${i}`), { checkpointIntervalHeights: 0 })
    const app = new CounterApplication(store, subnet)
    const driver = new ConsensusDriver({ net: h.net, store, clock: systemClock, logger: silentLogger, signer: h.signer, application: app, metrics }, { subnet })
    return { driver, app, store }
  }))
  t.teardown(async () => {
    for (const n of nodes) await n.driver.stop()
    for (const n of nodes) await n.store.close()
  })
  const started = performance.now()
  for (const n of nodes) await n.driver.start()
  await waitFor(() => nodes.every(n => n.store.height >= 10n), 45_000, () => `height 10 everywhere (heights ${nodes.map(n => n.store.height).join(',')})`)
  const seconds = (performance.now() - started) / 1000
  for (let h = 0; h < 10; h++) t.is(new Set(nodes.map(n => hex(blockHash(n.app.finalized[h]!.block)))).size, 1, `one block at height ${h + 1}`)
  // A graceful restart in the same process: a new driver on the same host and store takes over
  // the subnet's protocol (libp2p cannot unregister it) and catches up from its WAL and peers.
  const last = nodes[3]!
  await last.driver.stop()
  const app = new CounterApplication(last.store, subnet)
  const driver = new ConsensusDriver({ net: hosts[3]!.net, store: last.store, clock: systemClock, logger: silentLogger, signer: hosts[3]!.signer, application: app, metrics }, { subnet })
  nodes[3] = { driver, app, store: last.store }
  await driver.start()
  const target = nodes[0]!.store.height + 5n
  await waitFor(() => nodes.every(n => n.store.height >= target), 45_000, () => `height ${target} everywhere after the restart (heights ${nodes.map(n => n.store.height).join(',')})`)
  t.is(driver.status().evidence + nodes[0]!.driver.status().evidence, 0)
  const exported = await registry.metrics()
  t.regex(exported, /pylon_consensus_finalized_height\{subnet="[^"]+"\} (1\d|[2-9]\d)/)
  t.log(`10 heights in ${seconds.toFixed(2)} s over libp2p; WAL syncs on node 0: ${nodes[0]!.driver.status().walSyncs}`)
})
