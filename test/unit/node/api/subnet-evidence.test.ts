// GET /v1/subnets/:id/evidence over a real HTTP server and a LevelDB store: records newest view
// first, each verified by the node (a forged one shown as such, not hidden), bounded by ?limit, and
// JSON errors for an unknown subnet (404) and a bad limit (400) naming the value and the bound.

import test from 'ava'
import { Registry } from 'prom-client'
import { apiEvidencePageMax } from '../../../../protocol/limits.ts'
import { ok } from '../../../../protocol/result.ts'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { relayHandler, subnetRoutes, type SubnetDirectory } from '../../../../node/api/subnet-routes.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import type { RelayRequest } from '../../../../node/subnet/subnet-manager.ts'
import { blockA, blockB, evidenceApi } from './_evidence-api.ts'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

interface Row {
  subnet: string, view: string, signer: number, member: string, verified: boolean, error?: string, record: string
  first: { kind: string, block: string | null, signature: string }, second: { kind: string, block: string | null, signature: string }
}

test('GET /v1/subnets/:id/evidence lists stored records newest view first, each verified, a forged one marked', async t => {
  const { subnet, url } = await evidenceApi(t)
  const response = await fetch(`${url}/v1/subnets/${subnet.id}/evidence`)
  t.is(response.status, 200)
  const rows = await response.json() as Row[]
  t.deepEqual(rows.map(r => r.view), ['7', '5', '3'])
  const [mixed, forged, double] = rows as [Row, Row, Row]
  t.like(double, {
    subnet: subnet.id, view: '3', signer: 1, member: subnet.memberIds[1], verified: true,
    first: { kind: 'notarize', block: hex(blockA) }, second: { kind: 'notarize', block: hex(blockB) }
  })
  t.regex(double.first.signature, /^[0-9a-f]{128}$/)
  t.is(double.error, undefined)
  t.true(Buffer.from(double.record, 'base64').length > 0, 'the encoded record travels beside the fields')
  t.like(mixed, { view: '7', signer: 2, member: subnet.memberIds[2], verified: true, first: { kind: 'finalize', block: hex(blockA) }, second: { kind: 'nullify', block: null } })
  t.like(forged, { view: '5', signer: 3, member: subnet.memberIds[3], verified: false })
  t.regex(forged.error ?? '', /second vote \(notarize\) is not signed by member 3/)

  const one = await (await fetch(`${url}/v1/subnets/${subnet.id}/evidence?limit=1`)).json() as Row[]
  t.deepEqual(one.map(r => r.view), ['7'], '?limit bounds the answer')
  const info = await (await fetch(`${url}/v1/subnets/${subnet.id}`)).json() as { evidence: number }
  t.is(info.evidence, 3, 'GET /v1/subnets/:id counts the stored records')
})

test('GET /v1/subnets/:id/evidence answers 404 for an unknown subnet and 400 for a bad limit or id, naming the value and the bound', async t => {
  const { subnet, url } = await evidenceApi(t)
  const unknown = 'bafyreieo5oo7bwhr3w423ecnb7x6ursmnco5oagwnza7jkcgignspsprh4'
  const missing = await fetch(`${url}/v1/subnets/${unknown}/evidence`)
  t.is(missing.status, 404)
  t.like(await missing.json(), { ok: false, reason: 'unknown-subnet', subnet: unknown })
  // The same shape as the other subnet routes give for it.
  const actors = await fetch(`${url}/v1/subnets/${unknown}/actors`)
  t.is(actors.status, 404)
  t.like(await actors.json(), { ok: false, reason: 'unknown-subnet', subnet: unknown })

  for (const limit of ['0', String(apiEvidencePageMax + 1), 'ten', '-1']) {
    const bad = await fetch(`${url}/v1/subnets/${subnet.id}/evidence?limit=${limit}`)
    t.is(bad.status, 400, `limit=${limit}`)
    const body = await bad.json() as { ok: boolean, error: string }
    t.false(body.ok)
    t.is(body.error, `limit must be an integer in 1..${apiEvidencePageMax}, got ${JSON.stringify(limit)}`)
  }
  const at = await fetch(`${url}/v1/subnets/${subnet.id}/evidence?limit=${apiEvidencePageMax}`)
  t.is(at.status, 200, 'the bound itself is allowed')
  const id = await fetch(`${url}/v1/subnets/not-a-cid/evidence`)
  t.is(id.status, 400)
  t.regex((await id.json() as { error: string }).error, /not a subnet id/)
})

test('a node that does not serve the subnet relays GET /v1/subnets/:id/evidence to a member, whose answer (or refusal) it passes on', async t => {
  const { subnet, directory, clock } = await evidenceApi(t)
  const member = relayHandler(directory, clock)
  const asked: RelayRequest[] = []
  const outsider: SubnetDirectory = {
    list: () => [],
    get: () => undefined,
    known: id => (id === subnet.id ? subnet : undefined),
    relay: async (_subnet, request, signal) => {
      asked.push(request)
      return ok(await member(request, signal ?? AbortSignal.timeout(5_000)))
    }
  }
  const api = new ApiServer({ logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [], routes: subnetRoutes(outsider, clock) }, { host: '127.0.0.1', port: 0 })
  await api.start()
  t.teardown(async () => { await api.stop() })
  const response = await fetch(`${api.url}/v1/subnets/${subnet.id}/evidence?limit=2`)
  t.is(response.status, 200)
  t.deepEqual((await response.json() as Row[]).map(r => [r.view, r.verified]), [['7', true], ['5', false]])
  t.like(asked[0], { method: 'GET', path: `/v1/subnets/${subnet.id}/evidence`, query: 'limit=2' })
  const bad = await fetch(`${api.url}/v1/subnets/${subnet.id}/evidence?limit=0`)
  t.is(bad.status, 400, 'the member\'s refusal comes back as it was')
  t.regex((await bad.json() as { error: string }).error, /limit must be an integer in 1\.\.256, got "0"/)
})
