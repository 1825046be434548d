import test from 'ava'
import { mkdtempSync, existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { request } from 'node:http'
import { join } from 'node:path'
import { Counter, Registry } from 'prom-client'
import { apiBodyBytesMax } from '../../../../protocol/limits.ts'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { silentLogger } from '../../../../node/core/logger.ts'

async function started (t: import('ava').ExecutionContext, node: () => unknown = () => ({ nodeId: 'n1', big: 2n ** 70n })): Promise<{ api: ApiServer, apiFile: string }> {
  const registry = new Registry()
  new Counter({ name: 'pylon_test_total', help: 'a test counter', registers: [registry] }).inc(3)
  const apiFile = join(mkdtempSync(join(tmpdir(), 'pylon-api-')), 'api.json')
  const api = new ApiServer({
    logger: silentLogger, registry, node,
    peers: () => [{ nodeId: 'p1' }],
    capacity: () => [{ nodeId: 'n1', score: 5n }]
  }, { host: '127.0.0.1', port: 0, apiFile })
  await api.start()
  t.teardown(async () => { await api.stop() })
  return { api, apiFile }
}

test('ApiServer serves /v1/node, /v1/peers, /v1/capacity as JSON (bigints as strings) and /metrics as Prometheus text', async t => {
  const { api, apiFile } = await started(t)
  t.deepEqual(JSON.parse(readFileSync(apiFile, 'utf8')), { url: api.url, pid: process.pid })
  t.deepEqual(await (await fetch(`${api.url}/v1/node`)).json(), { nodeId: 'n1', big: (2n ** 70n).toString() })
  t.deepEqual(await (await fetch(`${api.url}/v1/peers`)).json(), [{ nodeId: 'p1' }])
  t.deepEqual(await (await fetch(`${api.url}/v1/capacity?x=1`)).json(), [{ nodeId: 'n1', score: '5' }])
  const metrics = await fetch(`${api.url}/metrics`)
  t.regex(metrics.headers.get('content-type') ?? '', /text\/plain/)
  t.regex(await metrics.text(), /^pylon_test_total 3$/m)
})

test('ApiServer answers unknown routes 404, other methods 405, bodies past apiBodyBytesMax 413, all as JSON', async t => {
  const { api } = await started(t)
  const notFound = await fetch(`${api.url}/v1/nothing`)
  t.is(notFound.status, 404)
  t.deepEqual(await notFound.json(), { ok: false, error: 'no such route: GET /v1/nothing' })
  const post = await fetch(`${api.url}/v1/node`, { method: 'POST', body: 'x' })
  t.is(post.status, 405)
  t.is(post.headers.get('allow'), 'GET, HEAD')
  const atLimit = await fetch(`${api.url}/v1/nothing`, { method: 'POST', body: new Uint8Array(apiBodyBytesMax) })
  t.is(atLimit.status, 404, 'a body at the limit is read, then routed')
  const past = await fetch(`${api.url}/v1/node`, { method: 'POST', body: new Uint8Array(apiBodyBytesMax + 1) })
  t.is(past.status, 413)
  t.deepEqual(await past.json(), { ok: false, error: `request body too large: ${apiBodyBytesMax + 1} > ${apiBodyBytesMax} bytes` })
  t.is((await fetch(`${api.url}/v1/node`)).status, 200, 'still serving')
})

test('ApiServer turns a failing source into a 500 JSON answer and keeps serving', async t => {
  let fail = true
  const { api } = await started(t, () => { if (fail) throw new Error('boom'); return { ok: true } })
  const broken = await fetch(`${api.url}/v1/node`)
  t.is(broken.status, 500)
  t.deepEqual(await broken.json(), { ok: false, error: 'internal error' })
  fail = false
  t.deepEqual(await (await fetch(`${api.url}/v1/node`)).json(), { ok: true })
})

test('ApiServer.stop removes api.json and closes the port', async t => {
  const { api, apiFile } = await started(t)
  const url = api.url
  await api.stop()
  t.false(existsSync(apiFile))
  await t.throwsAsync(fetch(`${url}/v1/node`))
})

test('ApiServer serves mounted routes with :params and bodies, and answers 405 naming their methods', async t => {
  const api = new ApiServer({
    logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [],
    routes: [
      { method: 'GET', path: '/v1/things/:id', handle: async r => ({ status: 200, json: { id: r.params.id, q: r.query.get('q') } }) },
      { method: 'POST', path: '/v1/things', handle: async r => ({ status: 201, json: { got: Buffer.from(r.body).toString() } }) }
    ]
  }, { host: '127.0.0.1', port: 0 })
  await api.start()
  t.teardown(async () => { await api.stop() })
  t.deepEqual(await (await fetch(`${api.url}/v1/things/a%20b?q=1`)).json(), { id: 'a b', q: '1' })
  const created = await fetch(`${api.url}/v1/things`, { method: 'POST', body: 'hello' })
  t.is(created.status, 201)
  t.deepEqual(await created.json(), { got: 'hello' })
  const wrong = await fetch(`${api.url}/v1/things`)
  t.is(wrong.status, 405)
  t.is(wrong.headers.get('allow'), 'POST')
  t.is((await fetch(`${api.url}/v1/things/`)).status, 404)
})

test('ApiServer bounds a chunked body (no content-length) by the bound of the route its method names, and keeps serving', async t => {
  const roomy = apiBodyBytesMax * 2
  const api = new ApiServer({
    logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [],
    routes: [
      { method: 'POST', path: '/v1/big/:id', bodyBytesMax: roomy, handle: async r => ({ status: 200, json: { id: r.params.id, bytes: r.body.length } }) },
      { method: 'POST', path: '/v1/small', handle: async r => ({ status: 200, json: { bytes: r.body.length } }) }
    ]
  }, { host: '127.0.0.1', port: 0 })
  await api.start()
  t.teardown(async () => { await api.stop() })
  const chunked = async (path: string, size: number): Promise<{ status: number, body: unknown }> => await new Promise((resolve, reject) => {
    const req = request(new URL(path, api.url), { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => { resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }) })
    })
    req.on('error', reject)
    for (let sent = 0; sent < size; sent += 1024) req.write(Buffer.alloc(Math.min(1024, size - sent)))
    req.end()
  })
  t.deepEqual(await chunked('/v1/big/x', apiBodyBytesMax + 10), { status: 200, body: { id: 'x', bytes: apiBodyBytesMax + 10 } })
  t.deepEqual(await chunked('/v1/small', apiBodyBytesMax + 10), { status: 413, body: { ok: false, error: `request body too large: > ${apiBodyBytesMax} bytes` } })
  t.deepEqual(await chunked('/v1/big/y', roomy + 1), { status: 413, body: { ok: false, error: `request body too large: > ${roomy} bytes` } })
  t.deepEqual(await (await fetch(`${api.url}/v1/small`, { method: 'POST', body: 'abc' })).json(), { bytes: 3 }, 'still serving')
})
