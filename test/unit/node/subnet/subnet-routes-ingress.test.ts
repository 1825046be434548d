import test from 'ava'
import { decode, encode } from '../../../../protocol/codec.ts'
import { actorIdOf } from '../../../../protocol/ids.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { countVerifications } from '../../../helpers/verify-counter.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { verifyIngressResult, type IngressResult } from '../../../../node/cli/client.ts'
import { Client, counterIncrementedOnce, makeReplica, makeSubnet, oneReplicaApi, replicaApi, utf8 } from './_harness.ts'

// POST /v1/ingress and /v1/query: the API decodes and verifies the envelope to route it, then hands the decoded
// message to the service, so each envelope costs this node one Ed25519 verification, not two.
// Verifications are counted for the whole process, so this file holds one serial test.

test.serial('POST /v1/ingress verifies each envelope once; forged and non-canonical ones are refused and not pooled', async t => {
  const clock = new ManualClock(Date.now())
  const { subnet, service, url } = await oneReplicaApi(t, clock)
  const post = async (body: Uint8Array) => {
    const res = await fetch(`${url}/v1/ingress`, { method: 'POST', body })
    return { status: res.status, json: await res.json() as Record<string, unknown> }
  }
  const client = new Client(clock)
  const counter = countVerifications()
  t.teardown(() => counter.restore())
  const verifiedBy = async (body: Uint8Array) => {
    const before = counter.count
    const answer = await post(body)
    return { ...answer, verifications: counter.count - before }
  }

  const update = client.update(actorIdOf(subnet.id, 1n))
  const accepted = await verifiedBy(update.bytes)
  t.like(accepted, { status: 202, verifications: 1 })
  t.like(accepted.json, { status: 'pending', ingressId: update.id, requestId: update.requestId })
  t.true(service.mempool.has(update.id))

  // The pooled message is the decoded one, with the bytes and ids of the envelope.
  const pooled = service.mempool.get(update.id)
  t.true(pooled !== undefined && Buffer.from(pooled.bytes).equals(update.bytes) && pooled.requestId === update.requestId)

  const forged = new Uint8Array(client.update(actorIdOf(subnet.id, 1n)).bytes)
  forged[forged.length - 1]! ^= 1
  const refused = await verifiedBy(forged)
  t.like(refused, { verifications: 1 })
  t.like(refused.json, { reason: 'bad-signature' })

  // Same content and signature, keys in reverse order: refused before any verification.
  const other = client.update(actorIdOf(subnet.id, 1n))
  const { content, signature } = (decode(other.bytes) as { ok: true, value: { content: unknown, signature: Uint8Array } }).value
  const swapped = Buffer.concat([Uint8Array.of(0xa2), encode('signature'), encode(signature), encode('content'), encode(content)])
  const noncanonical = await verifiedBy(new Uint8Array(swapped))
  t.like(noncanonical, { status: 400, verifications: 0 })
  t.like(noncanonical.json, { reason: 'malformed' })
  t.regex(noncanonical.json.error as string, /not canonical dag-cbor/)
  t.is(service.mempool.size, 1, 'only the valid envelope was pooled')

  // POST /v1/query: decoded and verified once at the route too, then run from the decoded message.
  const before = counter.count
  const res = await fetch(`${url}/v1/query`, { method: 'POST', body: client.query(actorIdOf(subnet.id, 1n)).bytes })
  t.is(res.status, 404, 'no such actor here')
  t.like(await res.json(), { reason: 'unknown-actor' })
  t.is(counter.count - before, 1, 'one verification for a query')
})

test.serial('POST /v1/ingress?wait=1 of a request executed before a restart is answered from the store, certified, and runs nothing again', async t => {
  const clock = new ManualClock(Date.now())
  const { subnet, nodes } = makeSubnet(1, clock)
  const store = await memoryStore()
  const { actor, inc } = await counterIncrementedOnce(subnet, nodes[0]!, store, clock, new Client(clock))
  // The same store under a new service: what a daemon restart leaves (no results in memory).
  const { service } = makeReplica(subnet, nodes[0]!, store, clock)
  await service.start()
  t.teardown(async () => { await service.stop() })
  const { url } = await replicaApi(t, service, clock)
  const res = await fetch(`${url}/v1/ingress?wait=1`, { method: 'POST', body: inc.bytes, signal: AbortSignal.timeout(10_000) })
  t.is(res.status, 200)
  const answer = await res.json() as IngressResult
  t.like(answer, { status: 'certified', ingressId: inc.id, requestId: inc.requestId })
  const outcome = verifyIngressResult(answer, subnet, inc)
  t.like(outcome, { height: 2n, ok: true, actor })
  t.is(utf8(outcome.result ?? undefined), '1')
  t.is(service.mempool.size, 0, 'not pooled again')
})
