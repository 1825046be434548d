// Which subnet `pylon deploy` picks without --subnet (chooseSubnet), against a stub API: the node's
// own subnet when it serves one, else the one with the fewest actors among those it serves or,
// serving none, among those it knows; a subnet whose listing fails is passed over.

import test from 'ava'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cidOf } from '../../../../protocol/codec.ts'
import type { SubnetId } from '../../../../protocol/ids.ts'
import { ApiClient } from '../../../../node/cli/client.ts'
import { chooseSubnet } from '../../../../node/cli/commands/deploy.ts'

/** Three subnet ids in ascending order (ties between subnets go to the lower id). */
const [a, b, c] = ['x', 'y', 'z'].map(v => cidOf(v).toString()).sort() as [SubnetId, SubnetId, SubnetId]

/** A stub API: the subnets it serves, the directory it knows, and how many actors each subnet has (undefined: the listing fails). */
async function stub (t: import('ava').ExecutionContext, served: SubnetId[], known: SubnetId[], actors: Record<string, number | undefined>): Promise<ApiClient> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const json = (status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }
    if (url.pathname === '/v1/subnets') return json(200, served.map(id => ({ id })))
    if (url.pathname === '/v1/directory') return json(200, known.map(id => ({ id })))
    const m = url.pathname.match(/^\/v1\/subnets\/([^/]+)\/actors$/)
    const n = m === null ? undefined : actors[m[1]!]
    if (n === undefined) return json(502, { ok: false, error: 'no member answered' })
    json(200, { actors: Array.from({ length: n }, (_, i) => ({ actor: `${m![1]}.${i + 1}` })), next: null })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  return new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
}

test('deploy without --subnet: the served subnet, else the one with the fewest actors, served ones first', async t => {
  t.is(await chooseSubnet(await stub(t, [b], [a, b, c], { [a]: 0, [b]: 9, [c]: 0 }), undefined), b, 'the node\'s own subnet, however full')
  t.is(await chooseSubnet(await stub(t, [b, c], [a, b, c], { [a]: 0, [b]: 9, [c]: 3 }), undefined), c, 'of the served ones, the emptier')
  t.is(await chooseSubnet(await stub(t, [], [a, b, c], { [a]: 5, [b]: 2, [c]: 2 }), undefined), b, 'serving none: of the known ones, the emptiest; a tie goes to the lower id')
  t.is(await chooseSubnet(await stub(t, [], [a, b], { [a]: undefined, [b]: 7 }), undefined), b, 'a subnet whose listing fails is passed over')
  t.is(await chooseSubnet(await stub(t, [b], [], {}), a), a, '--subnet wins')
  await t.throwsAsync(chooseSubnet(await stub(t, [], [], {}), undefined), { message: /knows no subnet/ })
  await t.throwsAsync(chooseSubnet(await stub(t, [], [a, b], {}), undefined), { message: /knows 2 subnets but none answered/ })
  await t.throwsAsync(chooseSubnet(await stub(t, [], [], {}), 'nope'), { message: /^--subnet: / })
})
