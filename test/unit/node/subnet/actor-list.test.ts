// Listing a subnet's actors (SubnetService.actors and GET /v1/subnets/:id/actors) from the replicated
// records: index order, bounded pages that chain through `next`, deleted actors absent.

import { err } from '../../../../protocol/result.ts'
import test from 'ava'
import { Registry } from 'prom-client'
import { actorIdOf, type ActorId } from '../../../../protocol/ids.ts'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { subnetRoutes } from '../../../../node/api/subnet-routes.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { Client, exampleCode, makeReplica, makeSubnet, runHeight } from './_harness.ts'

test('actors are listed in index order, in pages that chain through next, without deleted ones', async t => {
  const clock = new ManualClock(Date.now())
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  t.teardown(async () => { await service.stop() })
  const code = await exampleCode('counter-wat')
  t.true((await service.putCode(code)).ok)
  const client = new Client(clock)
  for (let i = 0; i < 5; i++) t.true(service.submit(client.install(subnet, code).bytes).ok)
  await runHeight(service, [service])
  const ids = [1n, 2n, 3n, 4n, 5n].map(i => actorIdOf(subnet.id, i))
  t.deepEqual((await service.actors({ limit: 10 })).map(a => a.actor), ids)
  t.true(service.submit(client.sign({ kind: 'delete', actor: ids[1] }).bytes).ok)
  await runHeight(service, [service])

  const left = [ids[0], ids[2], ids[3], ids[4]] as ActorId[]
  t.deepEqual((await service.actors({ limit: 10 })).map(a => a.actor), left)
  t.deepEqual((await service.actors({ after: 1n, limit: 2 })).map(a => a.actor), [ids[2], ids[3]])
  t.deepEqual(await service.actors({ after: 5n, limit: 10 }), [])
  t.like((await service.actors({ limit: 1 }))[0], { subnet: subnet.id, name: 'counter', installer: client.id, controllers: [client.id], installedAt: 1n, upgradedAt: null })

  const api = new ApiServer({ logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [], routes: subnetRoutes({ list: () => [service], get: id => (id === subnet.id ? service : undefined), known: () => undefined, relay: async () => err('test') }, clock) }, { host: '127.0.0.1', port: 0 })
  await api.start()
  t.teardown(async () => { await api.stop() })
  const page = async (query: string): Promise<{ actors: Array<{ actor: string }>, next: string | null, height: string }> => await (await fetch(`${api.url}/v1/subnets/${subnet.id}/actors${query}`)).json() as never
  const seen: string[] = []
  let after = '0'
  for (let i = 0; i < 10; i++) {
    const one = await page(`?limit=3&after=${after}`)
    t.is(one.height, '2')
    seen.push(...one.actors.map(a => a.actor))
    if (one.next === null) break
    after = one.next
  }
  t.deepEqual(seen, left)
  t.deepEqual((await page('?limit=3')).next, '4')
})
