import test from 'ava'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeId } from '../../../../protocol/ids.ts'
import { encodeGenesis } from '../../../../protocol/subnet.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import type { Startable } from '../../../../node/core/startable.ts'
import type { GossipValidator, Net } from '../../../../node/net/net.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import { SubnetManager, subnetsDirIn } from '../../../../node/subnet/subnet-manager.ts'
import { loader, makeSubnet, tempDir } from './_harness.ts'

/** Only what the manager touches: handlers, topics and publishes are recorded, nothing is sent. */
function fakeNet (nodeId: string) {
  const topics = new Map<string, GossipValidator>()
  const protocols: string[] = []
  const net = {
    nodeId: nodeId as NodeId,
    handle: (protocol: string) => { protocols.push(protocol) },
    subscribe: (topic: string, validator: GossipValidator) => { topics.set(topic, validator) },
    publish: async () => 0,
    dial: async () => { throw new Error('no network in this test') }
  } as unknown as Net
  return { net, topics, protocols }
}

test('loads the subnets it is a member of, skips bad files, joins at run time atomically, closes stores on stop', async t => {
  const { dir, remove } = await tempDir()
  t.teardown(remove)
  const clock = new ManualClock()
  const mine = makeSubnet(1, clock)
  const node = mine.nodes[0]!
  const others = makeSubnet(1, clock)
  const root = subnetsDirIn(dir)
  // A served subnet, one naming other members only, a corrupt file and a misnamed directory.
  for (const [name, bytes] of [[mine.subnet.id, encodeGenesis(mine.subnet)], [others.subnet.id, encodeGenesis(others.subnet)], ['bafyjunk', new Uint8Array([1, 2, 3])], ['wrong-name', encodeGenesis(mine.subnet)]] as const) {
    await mkdir(join(root, name), { recursive: true })
    await writeFile(join(root, name, 'genesis.cbor'), bytes)
  }
  const { net, topics, protocols } = fakeNet(node.id)
  const drivers: string[] = []
  const manager = new SubnetManager({
    net, signer: node, clock, logger: silentLogger, loader,
    openStore: async d => await openStore(d),
    createDriver: subnet => {
      const driver: Startable = { start: async () => { drivers.push(`start ${subnet.id}`) }, stop: async () => { drivers.push(`stop ${subnet.id}`) } }
      return driver
    }
  }, { dataDir: dir })
  await manager.start()
  t.deepEqual(manager.list().map(s => s.subnet.id), [mine.subnet.id])
  t.deepEqual(drivers, [`start ${mine.subnet.id}`])
  t.truthy(manager.known(others.subnet.id), 'a subnet of other members is known for routing')
  t.is(manager.get(others.subnet.id), undefined)
  t.true(protocols.includes('/pylon/code/1.0.0') && protocols.includes('/pylon/api-relay/1.0.0'))
  t.true(topics.has(`pylon/ingress/1/${mine.subnet.id}`) && topics.has(`pylon/certify/1/${mine.subnet.id}`))
  // Gossip validators: garbage is rejected (the forwarder loses score), never a crash.
  t.is(await topics.get(`pylon/ingress/1/${mine.subnet.id}`)!({ topic: '', from: 'x' as NodeId, data: new Uint8Array([0xff]) }), 'reject')
  t.is(await topics.get(`pylon/certify/1/${mine.subnet.id}`)!({ topic: '', from: 'x' as NodeId, data: new Uint8Array([0xff]) }), 'reject')

  // Joining: refused for a subnet without this node; a new one is written and served.
  const foreign = await manager.join(others.subnet)
  t.false(foreign.ok)
  if (!foreign.ok) t.regex(foreign.error, /is not a member of subnet/)
  const fresh = makeSubnet(1, clock)
  const { net: net2 } = fakeNet(fresh.nodes[0]!.id)
  const manager2 = new SubnetManager({ net: net2, signer: fresh.nodes[0]!, clock, logger: silentLogger, loader, openStore: async d => await openStore(d), createDriver: () => ({ start: async () => {}, stop: async () => {} }) }, { dataDir: dir })
  await manager2.start()
  t.deepEqual(manager2.list(), [], 'none of the files name this node')
  t.false((await manager2.join(new Uint8Array([1, 2]))).ok)
  const joined = await manager2.join(encodeGenesis(fresh.subnet))
  t.true(joined.ok)
  t.true(Buffer.from(await readFile(join(root, fresh.subnet.id, 'genesis.cbor'))).equals(encodeGenesis(fresh.subnet)))
  t.false((await readdir(join(root, fresh.subnet.id))).some(f => f.includes('.tmp-')), 'no temporary file left')
  t.deepEqual(manager2.list().map(s => s.subnet.id), [fresh.subnet.id])
  t.true((await manager2.join(fresh.subnet)).ok, 'joining twice is a no-op')
  await manager2.stop()

  await manager.stop()
  t.deepEqual(drivers, [`start ${mine.subnet.id}`, `stop ${mine.subnet.id}`])
  // Stores were closed: they open again in this process (LevelDB's lock is released).
  const reopened = await openStore(join(root, mine.subnet.id, 'store'))
  await reopened.close()
  t.pass()
})
