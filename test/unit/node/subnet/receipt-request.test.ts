// Every receipt of an executed envelope names its RequestId, so a node cannot answer one client with
// another client's certified receipt: real SubnetService, real envelopes from two principals, and the
// CLI client's own check of the certified answers.

import test from 'ava'
import { encodeCertifiedResponse } from '../../../../protocol/certification.ts'
import { decode } from '../../../../protocol/codec.ts'
import { actorIdOf } from '../../../../protocol/ids.ts'
import type { Ingress } from '../../../../protocol/ingress.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { verifyIngressResult, type IngressResult as ClientResult } from '../../../../node/cli/client.ts'
import { CliError } from '../../../../node/cli/output.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { IngressResult } from '../../../../node/subnet/subnet-service.ts'
import { Client, exampleCode, makeReplica, makeSubnet, runHeight, utf8 } from './_harness.ts'

/** The service's result as the HTTP API sends it (node/api/subnet-routes.ts), which is what the client checks. */
function asJson (result: IngressResult): ClientResult {
  const r = result.receipt!
  return {
    ok: true, status: 'certified', ingressId: result.ingressId, requestId: result.requestId, subnet: result.subnet,
    height: result.height.toString(), index: result.index, actor: result.actor,
    receipt: { ok: r.ok, method: r.method, result: r.result === null ? null : Buffer.from(r.result).toString('base64'), resultUtf8: utf8(r.result), error: r.error, fuelUsed: r.fuelUsed.toString(), logs: r.logs },
    certified: Buffer.from(encodeCertifiedResponse(result.certified!)).toString('base64')
  }
}

test('receipts name their request, and the client refuses another principal\'s certified receipt', async t => {
  const clock = new ManualClock()
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  t.teardown(async () => { await service.stop() })
  const alice = new Client(clock)
  const bob = new Client(clock)
  const code = await exampleCode('counter-wat')
  t.true((await service.putCode(code)).ok)
  const install = alice.install(subnet, code)
  service.submit(install.bytes)
  await runHeight(service, [service])
  const installed = await service.result(install.id)
  if (installed === undefined || installed === 'pending') return t.fail('no install result')
  t.is(installed.receipt?.requestId, install.requestId, 'an install\'s init receipt names the install')
  t.is(verifyIngressResult(asJson(installed), subnet, install).requestId, install.requestId)

  // Two principals call the same method of the same actor in one height: both answers are certified.
  const actor = actorIdOf(subnet.id, 1n)
  const mine = alice.update(actor)
  const theirs = bob.update(actor)
  const waits = [service.wait(mine.id, 5_000), service.wait(theirs.id, 5_000)]
  for (const ingress of [mine, theirs]) t.true(service.submit(ingress.bytes).ok)
  await runHeight(service, [service])
  const [myResult, theirResult] = await Promise.all(waits)
  if (myResult?.certified === undefined || theirResult?.certified === undefined) return t.fail('both updates should be certified')
  const stored = (await service.store.receipts(service.store.height)).map(bytes => decode(bytes))
  t.deepEqual(new Set(stored.map(d => d.ok ? (d.value as { requestId: unknown }).requestId : undefined)), new Set([mine.requestId, theirs.requestId]))

  const accept = (result: IngressResult, sent: Ingress): string => utf8(verifyIngressResult(asJson(result), subnet, sent).result)
  t.deepEqual(new Set([accept(myResult, mine), accept(theirResult, theirs)]), new Set(['1', '2']))
  // A node answers alice with bob's receipt and proof (certified, under the same root), its JSON
  // naming alice's ids: the receipt itself names bob's request.
  const swapped = { ...asJson(theirResult), ingressId: mine.id, requestId: mine.requestId }
  const error = t.throws(() => verifyIngressResult(swapped, subnet, mine), { instanceOf: CliError })
  t.is(error?.code, 'untrusted')
  t.is(error?.message, `certified receipt answers request ${theirs.requestId}, not ours (${mine.requestId})`)

  // A refused system operation (bob is no controller) still answers bob's request by name.
  const remove = bob.sign({ kind: 'delete', actor })
  service.submit(remove.bytes)
  await runHeight(service, [service])
  const removed = await service.result(remove.id)
  if (removed === undefined || removed === 'pending') return t.fail('no delete result')
  t.like(removed.receipt, { method: '$delete', ok: false, requestId: remove.requestId })
  t.is(verifyIngressResult(asJson(removed), subnet, remove).ok, false)
  t.throws(() => verifyIngressResult(asJson(removed), subnet, mine), { instanceOf: CliError, message: /answers request/ })
})
