import test from 'ava'
import { Registry } from 'prom-client'
import type { NodeId } from '../../../../protocol/ids.ts'
import { assembleGenesis, genesisOf, signGenesis } from '../../../../protocol/subnet.ts'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { FormationMetrics } from '../../../../node/subnet-formation/formation-metrics.ts'
import { formationRoutes } from '../../../../node/subnet-formation/formation-routes.ts'
import { SubnetDirectory } from '../../../../node/subnet-formation/subnet-directory.ts'
import type { CreateRequest } from '../../../../node/subnet-formation/subnet-formation.ts'
import { newSigner } from '../../../helpers/adverts.ts'

test('formationRoutes: POST /v1/subnets answers 201, 400 for bad bodies, 422 with per-node reasons; /v1/directory lists and looks up', async t => {
  const signer = newSigner()
  const genesis = genesisOf({ name: 'one', members: [{ nodeId: signer.id as NodeId }], createdMs: 5n, params: { deltaMs: 500 } })
  const subnet = assembleGenesis(genesis, new Map([[signer.id, signGenesis(genesis, signer)]]))
  if (!subnet.ok) return t.fail(subnet.error)
  const directory = new SubnetDirectory({ clock: new ManualClock(), metrics: new FormationMetrics(new Registry()) })
  const requests: CreateRequest[] = []
  const routes = formationRoutes({
    formation: {
      create: async request => {
        requests.push(request)
        if (request.labels?.region === 'mars') return { ok: false, error: { stage: 'placement', message: 'cannot place 1 nodes', nodes: [{ nodeId: signer.id as NodeId, reasons: ['missing label region=mars (has region=eu)'] }] } }
        directory.add(subnet.value, 'local')
        return { ok: true, value: { subnet: subnet.value, picked: [], explanation: ['placed 1 of 1 qualifying nodes'] } }
      }
    },
    directory,
    lookup: async id => directory.get(id),
    nodeId: signer.id as NodeId,
    served: () => [subnet.value.id]
  })
  const api = new ApiServer({ logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [], routes }, { host: '127.0.0.1', port: 0 })
  await api.start()
  t.teardown(async () => { await api.stop() })
  const post = async (body: string): Promise<[number, Record<string, unknown>]> => {
    const response = await fetch(`${api.url}/v1/subnets`, { method: 'POST', body })
    return [response.status, await response.json() as Record<string, unknown>]
  }
  t.deepEqual(await post('{'), [400, { ok: false, error: 'body must be JSON: { "size": 4, "labels": { "region": "eu" }, "spread": "rack" }', stage: 'request', refusals: [] }])
  t.deepEqual(await post('{"size":"big"}'), [400, { ok: false, error: 'size must be an integer, got "big"', stage: 'request', refusals: [] }])
  t.deepEqual(await post('{"size":1,"labels":{"region":"mars"}}'), [422, { ok: false, error: 'cannot place 1 nodes', stage: 'placement', refusals: [{ nodeId: signer.id, reasons: ['missing label region=mars (has region=eu)'] }] }])
  const [status, created] = await post('{"size":1,"spread":"rack"}')
  t.is(status, 201)
  t.like(created, { ok: true, id: subnet.value.id, name: 'one', n: 1, f: 0, quorum: 1, createdMs: '5', serving: true, explanation: ['placed 1 of 1 qualifying nodes'] })
  t.deepEqual(requests.map(r => r.spread), [undefined, 'rack'])
  const list = await (await fetch(`${api.url}/v1/directory`)).json() as Array<{ id: string, source: string }>
  t.deepEqual(list.map(e => [e.id, e.source]), [[subnet.value.id, 'local']])
  const one = await (await fetch(`${api.url}/v1/directory/${subnet.value.id}`)).json() as { genesis: string }
  t.is(typeof one.genesis, 'string')
  t.is((await fetch(`${api.url}/v1/directory/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy`)).status, 404)
  t.is((await fetch(`${api.url}/v1/directory/not-a-cid`)).status, 400)
  t.is((await fetch(`${api.url}/v1/directory`, { method: 'DELETE' })).status, 405)
})
