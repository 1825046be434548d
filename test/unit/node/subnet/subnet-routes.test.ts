import test from 'ava'
import { request } from 'node:http'
import { Registry } from 'prom-client'
import { rawCidOf } from '../../../../protocol/codec.ts'
import { decodeCertifiedResponse, verifyCertifiedResponse } from '../../../../protocol/certification.ts'
import { actorIdOf, type SubnetId } from '../../../../protocol/ids.ts'
import { apiCodeBytesMax, ingressBytesMax } from '../../../../protocol/limits.ts'
import { decodeGenesis, type Subnet } from '../../../../protocol/subnet.ts'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { subnetRoutes, type SubnetDirectory } from '../../../../node/api/subnet-routes.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { RelayAnswer, RelayRequest } from '../../../../node/subnet/subnet-manager.ts'
import { err, type Result } from '../../../../protocol/result.ts'
import { Client, exampleCode, makeReplica, makeSubnet, runHeight } from './_harness.ts'

async function setup (t: { teardown: (fn: () => Promise<void>) => void }) {
  const clock = new ManualClock(Date.now())
  const { subnet, nodes } = makeSubnet(1, clock)
  const foreign = makeSubnet(4, clock).subnet
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  const relayed: Array<RelayRequest & { sticky?: string }> = []
  const directory: SubnetDirectory = {
    list: () => [service],
    get: id => (id === subnet.id ? service : undefined),
    known: id => (id === subnet.id ? subnet : id === foreign.id ? foreign : undefined),
    relay: async (_subnet, request, _signal, sticky): Promise<Result<RelayAnswer>> => {
      relayed.push({ ...request, ...(sticky === undefined ? {} : { sticky }) })
      return err('could not reach any member (test)')
    }
  }
  const api = new ApiServer({
    logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [],
    routes: subnetRoutes(directory, clock)
  }, { host: '127.0.0.1', port: 0 })
  await api.start()
  t.teardown(async () => { await api.stop() })
  const call = async (method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}) => {
    const res = await fetch(api.url + path, { method, headers, ...(body === undefined ? {} : { body }) })
    return { status: res.status, json: await res.json() as Record<string, unknown> }
  }
  return { clock, subnet, foreign, service, call, relayed, client: new Client(clock), url: api.url }
}

test('garbage and misrouted requests get clear JSON errors, never a crash', async t => {
  const { subnet, foreign, call, client, relayed, url } = await setup(t)
  const bad = await call('POST', '/v1/ingress', 'garbage')
  t.is(bad.status, 400)
  t.is(bad.json.reason, 'malformed')
  t.regex(bad.json.error as string, /^ingress: /)
  t.is((await call('POST', '/v1/ingress', '')).status, 400)
  const big = await call('POST', '/v1/ingress', new Uint8Array(ingressBytesMax + 1))
  t.is(big.status, 413)
  t.regex(big.json.error as string, new RegExp(`> ${ingressBytesMax} bytes`))
  const query = await call('POST', '/v1/ingress', client.query(actorIdOf(subnet.id, 1n)).bytes)
  t.is(query.json.reason, 'query')
  const notQuery = await call('POST', '/v1/query', client.update(actorIdOf(subnet.id, 1n)).bytes)
  t.is(notQuery.status, 400)
  t.regex(notQuery.json.error as string, /must have kind "query"/)
  t.is((await call('POST', '/v1/query', new Uint8Array([0xa1, 0x61]))).status, 400)
  t.is((await call('GET', '/v1/query')).status, 405)
  t.is((await call('GET', '/v1/actors/xyz')).status, 400)
  t.is((await call('GET', '/v1/subnets/nope')).status, 400)
  const unknownActor = await call('GET', `/v1/actors/${actorIdOf(subnet.id, 9n)}`)
  t.is(unknownActor.status, 404)
  t.is(unknownActor.json.reason, 'unknown-actor')
  // A subnet this node knows but does not serve: a member answers; when none can, the client learns who the members are.
  const foreignActor = await call('GET', `/v1/actors/${actorIdOf(foreign.id, 1n)}`)
  t.is(foreignActor.status, 502)
  t.deepEqual(foreignActor.json.members, [...foreign.memberIds])
  t.like(relayed.at(-1), { method: 'GET', path: `/v1/actors/${actorIdOf(foreign.id, 1n)}` })
  const elsewhere = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' as SubnetId
  t.is((await call('GET', `/v1/actors/${elsewhere}.1`)).status, 404)
  const update = client.update(actorIdOf(foreign.id, 1n))
  const toForeign = await call('POST', '/v1/ingress?wait=1', update.bytes)
  t.is(toForeign.status, 502)
  t.deepEqual(toForeign.json.members, [...foreign.memberIds])
  t.like(relayed.at(-1), { method: 'POST', path: '/v1/ingress', query: 'wait=1' })
  t.true(Buffer.from(relayed.at(-1)!.body).equals(update.bytes), 'the envelope is relayed byte for byte')
  t.is((await call('GET', `/v1/ingress/${update.id}?subnet=${foreign.id}`)).status, 502, 'a result asked for by subnet is relayed too')
  t.is((await call('GET', `/v1/ingress/${update.id}?subnet=nope`)).status, 400)
  // The chunks of one upload to a subnet this node does not serve all go to one member (a sticky key).
  const cid = rawCidOf(new Uint8Array([1, 2, 3])).toString()
  for (const offset of [0, 2]) t.is((await call('PUT', `/v1/code/${cid}?subnet=${foreign.id}&total=3&offset=${offset}&upload=u1`, new Uint8Array([1, 2]).subarray(0, 3 - offset))).status, 502)
  t.deepEqual(relayed.slice(-2).map(r => [r.method, r.path, r.sticky]), [['PUT', `/v1/code/${cid}`, `${cid}/u1`], ['PUT', `/v1/code/${cid}`, `${cid}/u1`]])
  // The genesis of a known subnet is served even when no member answers: a client can still verify.
  const foreignInfo = await call('GET', `/v1/subnets/${foreign.id}`)
  t.is(foreignInfo.status, 200)
  t.like(foreignInfo.json, { id: foreign.id, serving: false })
  t.is((await call('POST', `/v1/code?subnet=${subnet.id}`, '')).status, 400)
  t.is((await call('POST', '/v1/code', 'x')).status, 400)
  // A declared length past the code bound is refused before any byte of the body is read.
  const declared = await new Promise<number>((resolve, reject) => {
    const req = request(`${url}/v1/code?subnet=${subnet.id}`, { method: 'POST', headers: { 'content-length': String(apiCodeBytesMax + 1) } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.flushHeaders()
  })
  t.is(declared, 413)
  t.is((await call('GET', '/v1/ingress/bafynotthere')).status, 404)
})

test('upload, install and call through HTTP: the certified answer verifies with the genesis the node serves', async t => {
  const { subnet, service, call, client } = await setup(t)
  const code = await exampleCode('counter-wat')
  const uploaded = await call('POST', `/v1/code?subnet=${subnet.id}`, code)
  t.is(uploaded.status, 200)
  t.is(uploaded.json.cid, rawCidOf(code).toString())

  const listed = await call('GET', `/v1/subnets/${subnet.id}`)
  const served: Subnet = (() => {
    const decoded = decodeGenesis(new Uint8Array(Buffer.from(listed.json.genesis as string, 'base64')))
    if (!decoded.ok) throw new Error(decoded.error)
    return decoded.value
  })()
  t.is(served.id, subnet.id)

  // The client waits while the "driver" produces the next height.
  const submit = async (bytes: Uint8Array) => {
    const answer = call('POST', '/v1/ingress?wait=1', bytes, { 'content-type': 'application/cbor' })
    for (let i = 0; i < 200 && service.mempool.size === 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
    await runHeight(service, [service])
    return await answer
  }
  const install = await submit(client.install(subnet, code).bytes)
  t.is(install.status, 200)
  t.is(install.json.status, 'certified')
  const actor = actorIdOf(subnet.id, 1n)
  t.is(install.json.actor, actor)

  const inc = client.update(actor)
  const answer = await submit(inc.bytes)
  t.is(answer.status, 200)
  t.like(answer.json, { status: 'certified', ingressId: inc.id, height: '2', index: 0 })
  t.like(answer.json.receipt as object, { ok: true, resultUtf8: '1', error: null })
  const certified = decodeCertifiedResponse(new Uint8Array(Buffer.from(answer.json.certified as string, 'base64')))
  if (!certified.ok) return t.fail(certified.error)
  t.true(verifyCertifiedResponse(certified.value, served).ok)

  // The same envelope again: the node answers with the result it already has, not a second run.
  const again = await call('POST', '/v1/ingress?wait=1', inc.bytes)
  t.is(again.status, 200)
  t.is(again.json.height, '2')
  const noWait = await call('POST', '/v1/ingress', inc.bytes)
  t.is(noWait.status, 409)
  t.is((await call('GET', `/v1/ingress/${inc.id}`)).json.status, 'certified')

  const query = await call('POST', '/v1/query', client.query(actor).bytes)
  t.like(query.json, { ok: true, resultUtf8: '1', height: '2' })
  const actorInfo = await call('GET', `/v1/actors/${actor}`)
  t.like(actorInfo.json, { actor, codeCid: rawCidOf(code).toString(), installedAt: '1', upgradedAt: null })
  const all = await call('GET', '/v1/subnets')
  t.true(Array.isArray(all.json))
})
