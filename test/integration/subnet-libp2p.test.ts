// Four members and one non-member on real libp2p hosts (TCP, Noise, Yamux on loopback), each
// member with a SubnetManager, a real ConsensusDriver and a LevelDB store: an install whose code
// only one member holds (the others fetch it over /pylon/code/1.0.0), updates sent to a
// non-member (forwarded over /pylon/ingress/1.0.0), certified answers, and equal state roots.

import { relayHandler } from '../../node/api/subnet-routes.ts'
import test from 'ava'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { verifyCertifiedResponse } from '../../protocol/certification.ts'
import { actorIdOf, peerIdOfPublicKey, type Height } from '../../protocol/ids.ts'
import { signerFromSeed } from '../../protocol/signature.ts'
import { assembleGenesis, encodeGenesis, genesisOf, signGenesis } from '../../protocol/subnet.ts'
import { ConsensusDriver } from '../../node/consensus/consensus-driver.ts'
import { systemClock } from '../../node/core/clock.ts'
import { silentLogger } from '../../node/core/logger.ts'
import { Libp2pNet } from '../../node/net/libp2p-net.ts'
import { openStore } from '../../node/store/level-store.ts'
import { SubnetManager, subnetsDirIn } from '../../node/subnet/subnet-manager.ts'
import { Client, exampleCode, loader, tempDir, utf8 } from '../unit/node/subnet/_harness.ts'

async function waitFor (check: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

test('a 4-member subnet over libp2p: code fetched by CID, a non-member forwards, answers are certified, roots agree', async t => {
  const { dir, remove } = await tempDir()
  t.teardown(remove)
  const hosts = await Promise.all([0, 1, 2, 3, 4].map(async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const signer = signerFromSeed(privateKey.raw.subarray(0, 32), peerIdOfPublicKey)
    const net = new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, {
      privateKey, network: 'local', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, agentVersion: 'pylon-test'
    })
    return { signer, net }
  }))
  const members = hosts.slice(0, 4)
  const managers: SubnetManager[] = []
  t.teardown(async () => {
    for (const m of managers) await m.stop()
    for (const h of hosts) await h.net.stop()
  })
  // Managers register their protocols before the hosts listen, as in the daemon.
  const makeManager = (h: typeof hosts[number], i: number): SubnetManager => new SubnetManager({
    net: h.net, signer: h.signer, clock: systemClock, logger: silentLogger, loader,
    openStore: async d => await openStore(d),
    createDriver: (subnet, store, service) => new ConsensusDriver({ net: h.net, store, clock: systemClock, logger: silentLogger, signer: h.signer, application: service }, { subnet })
  }, { dataDir: join(dir, `n${i}`) })
  const all = hosts.map((h, i) => makeManager(h, i))
  // Members answer relayed API requests through the subnet routes, as in the daemon.
  for (const m of all) m.onRelay(relayHandler(m, systemClock))
  for (const h of hosts) await h.net.start()

  const genesis = genesisOf({
    name: 'it', createdMs: BigInt(Date.now()), params: { deltaMs: 150 },
    members: members.map(h => ({ nodeId: h.net.nodeId, multiaddrs: h.net.multiaddrs().slice(0, 1) }))
  })
  const assembled = assembleGenesis(genesis, new Map(members.map(h => [h.signer.id, signGenesis(genesis, h.signer)])))
  if (!assembled.ok) return t.fail(assembled.error)
  const subnet = assembled.value
  for (let i = 0; i < 4; i++) {
    await mkdir(join(subnetsDirIn(join(dir, `n${i}`)), subnet.id), { recursive: true })
    await writeFile(join(subnetsDirIn(join(dir, `n${i}`)), subnet.id, 'genesis.cbor'), encodeGenesis(subnet))
  }
  for (const m of all) {
    await m.start()
    managers.push(m)
  }
  all[4]!.learn(subnet)
  const services = all.slice(0, 4).map(m => m.get(subnet.id)!)
  t.is(services.filter(s => s !== undefined).length, 4)
  t.is(all[4]!.get(subnet.id), undefined)

  const client = new Client(systemClock)
  const code = await exampleCode('counter-wat')
  t.true((await services[0]!.putCode(code)).ok)
  const install = client.install(subnet, code)
  t.true(services[0]!.submit(install.bytes).ok)
  const installed = await services[0]!.wait(install.id, 40_000)
  t.is(installed?.status, 'certified', 'install certified')
  const actor = actorIdOf(subnet.id, 1n)
  t.is(installed?.actor, actor)

  const updates = [client.update(actor), client.update(actor), client.update(actor)]
  for (const u of updates) {
    const relayed = await all[4]!.relay(subnet, { method: 'POST', path: '/v1/ingress', query: '', body: u.bytes })
    if (!relayed.ok) return t.fail(relayed.error)
    t.is(relayed.value.status, 202, JSON.stringify(relayed.value.json))
    t.like(relayed.value.json as object, { status: 'pending', ingressId: u.id })
  }
  // Garbage relayed to a member gets a clear refusal, never a crash.
  const garbage = await all[4]!.relay(subnet, { method: 'POST', path: '/v1/ingress', query: '', body: new Uint8Array([1, 2, 3]) })
  t.true(garbage.ok && garbage.value.status === 400, JSON.stringify(garbage))
  const unknownRoute = await all[4]!.relay(subnet, { method: 'GET', path: '/v1/code/x', query: '', body: new Uint8Array(0) })
  t.true(unknownRoute.ok && unknownRoute.value.status === 404)
  const results = await Promise.all(updates.map(async u => await Promise.any(services.map(async s => {
    const r = await s.wait(u.id, 40_000)
    if (r === undefined) throw new Error('no result')
    return r
  }))))
  t.deepEqual(results.map(r => utf8(r.receipt?.result)).sort(), ['1', '2', '3'])
  for (const r of results) t.true(verifyCertifiedResponse(r.certified!, subnet).ok)

  // Every member executed the same chain: equal roots at a height all have committed.
  await waitFor(() => services.every(s => s.store.height >= results[2]!.height), 30_000, () => 'all members at the last update height')
  const at = results.map(r => r.height).reduce((a, b) => (a > b ? a : b)) as Height
  const roots = await Promise.all(services.map(async s => Buffer.from((await s.store.getHeight(at))!.stateRoot).toString('hex')))
  t.is(new Set(roots).size, 1)
  const info = await services[0]!.actor(actor)
  for (const s of services) t.not(await s.getCode(info!.code), undefined, 'each member holds the code')
})
