import test from 'ava'
import { randomBytes } from 'node:crypto'
import { cidOf, decode, encode, signingBytes } from '../../../../protocol/codec.ts'
import { actorIdOf, peerIdOfPublicKey, type Principal, type SubnetId } from '../../../../protocol/ids.ts'
import { decodeIngress, ingressDomain, signIngress, type IngressCall } from '../../../../protocol/ingress.ts'
import { ingressBytesMax } from '../../../../protocol/limits.ts'
import { signerFromSeed, type Signer } from '../../../../protocol/signature.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger, type Logger } from '../../../../node/core/logger.ts'
import { Mempool, type MempoolInit, type MempoolRefusal } from '../../../../node/ingress/mempool.ts'
import { clientRequest, clientRequestTtlMs } from '../../../../node/ingress/client-request.ts'
import { PrometheusMempoolMetrics } from '../../../../node/ingress/mempool-metrics.ts'
import { Registry } from 'prom-client'
import { signWithNonce } from './_resign.ts'
import { countVerifications } from '../../../helpers/verify-counter.ts'

const subnet = cidOf({ test: 'subnet' }).toString() as SubnetId
const otherSubnet = cidOf({ test: 'other' }).toString() as SubnetId

function setup (init: MempoolInit = {}, logger: Logger = silentLogger) {
  const clock = new ManualClock()
  const refused: MempoolRefusal[] = []
  let accepted = 0
  const pool = new Mempool({ clock, logger, metrics: { accepted: () => { accepted++ }, refused: r => { refused.push(r) } } }, { subnet, ...init })
  const seed = randomBytes(32)
  const client = signerFromSeed(seed, peerIdOfPublicKey)
  let n = 0
  const message = (over: Partial<IngressCall> = {}, signer: Signer = client) => signIngress({
    kind: 'update', actor: actorIdOf(subnet, 1n), method: 'inc', payload: new Uint8Array(8),
    expiryMs: BigInt(clock.now() + 60_000), nonce: Uint8Array.of(n++ & 0xff, n >> 8), sender: signer.id as Principal, ...over
  }, signer)
  return { clock, pool, client, seed, message, refused, accepted: () => accepted }
}

function refusal (t: { fail: (m: string) => void }, result: ReturnType<Mempool['add']>): { reason: string, message: string } {
  if (result.ok) {
    t.fail('expected a refusal')
    return { reason: '', message: '' }
  }
  return result.error
}

test('Mempool accepts a valid message, tells listeners who sent it, and counts it', t => {
  const { pool, message, accepted } = setup()
  const heard: Array<[string, string | undefined]> = []
  const off = pool.onAccepted((ingress, from) => heard.push([ingress.id, from]))
  const m = message()
  const r = pool.add(m.bytes, 'peer-a')
  t.true(r.ok)
  t.deepEqual(heard, [[m.id, 'peer-a']])
  t.true(pool.has(m.id))
  t.is(pool.size, 1)
  t.is(pool.bytes, m.bytes.length)
  t.is(accepted(), 1)
  off()
  pool.add(message().bytes)
  t.is(heard.length, 1)
})

test('Mempool refuses, as a replay, a request its subnet\'s committed history names (its own replay memory started empty)', t => {
  const executed = new Set<string>()
  const { pool, message, refused } = setup({ committed: id => executed.has(id) })
  const before = message()
  executed.add(before.requestId)
  const r = refusal(t, pool.add(before.bytes))
  t.is(r.reason, 'replay')
  t.is(r.message, `replayed request ${before.requestId}: a committed block executed it`)
  t.like(pool.addVerified(before), { ok: false, error: { reason: 'replay' } })
  t.deepEqual(refused, ['replay', 'replay'])
  t.is(pool.size, 0)
  t.true(pool.add(message().bytes).ok, 'a request no block executed is admitted')
})

test('Mempool refuses a forged signature and an expired message, and changes nothing', t => {
  const { pool, clock, message, refused } = setup()
  const forged = new Uint8Array(message().bytes)
  forged[forged.length - 1]! ^= 1
  t.is(refusal(t, pool.add(forged)).reason, 'bad-signature')
  const expired = message({ expiryMs: BigInt(clock.now() - 1) })
  t.is(refusal(t, pool.add(expired.bytes)).reason, 'expired')
  const tooFar = message({ expiryMs: BigInt(clock.now() + 10 * 60_000) })
  t.is(refusal(t, pool.add(tooFar.bytes)).reason, 'expiry-too-far')
  t.is(refusal(t, pool.add(Uint8Array.of(1, 2, 3))).reason, 'malformed')
  t.is(pool.size, 0)
  t.is(pool.rememberedCount, 0)
  t.deepEqual(refused, ['bad-signature', 'expired', 'expiry-too-far', 'malformed'])
  t.is(pool.counts()['bad-signature'], 1)
})

test('Mempool deduplicates the same bytes and refuses a re-signed copy as a replay', t => {
  const { pool, message, seed } = setup()
  const m = message()
  t.true(pool.add(m.bytes).ok)
  const again = refusal(t, pool.add(m.bytes))
  t.is(again.reason, 'duplicate')
  t.regex(again.message, new RegExp(m.id))
  const wire = (decode(m.bytes) as { ok: true, value: { content: Record<string, unknown> } }).value.content
  const resigned = encode({ content: wire, signature: signWithNonce(seed, signingBytes(ingressDomain, wire), 99n) })
  const r = refusal(t, pool.add(resigned))
  t.is(r.reason, 'replay', 'a different id (other signature) for the same request is still one request')
  t.is(pool.size, 1)
})

test('Mempool forgets finalized messages but refuses their replay until they expire', t => {
  const { pool, clock, message } = setup()
  const m = message({ expiryMs: BigInt(clock.now() + 30_000) })
  t.true(pool.add(m.bytes).ok)
  pool.markFinalized([m])
  t.false(pool.has(m.id))
  t.is(pool.size, 0)
  t.is(pool.bytes, 0)
  t.is(refusal(t, pool.add(m.bytes)).reason, 'replay')
  // A message finalized through another node's pool is remembered too.
  const elsewhere = message({ expiryMs: BigInt(clock.now() + 30_000) })
  pool.markFinalized([elsewhere])
  t.is(refusal(t, pool.add(elsewhere.bytes)).reason, 'replay')
  t.is(pool.rememberedCount, 2)
  clock.advance(30_000)
  pool.prune()
  t.is(pool.rememberedCount, 0, 'ids are forgotten once their messages expired')
  t.is(refusal(t, pool.add(m.bytes)).reason, 'expired', 'and the message itself can no longer be admitted')
})

test('Mempool drops a pooled message when a block finalizes the same request under another signature', t => {
  const { pool, clock, message, seed } = setup()
  const m = message()
  t.true(pool.add(m.bytes).ok)
  const wire = (decode(m.bytes) as { ok: true, value: { content: Record<string, unknown> } }).value.content
  const resigned = decodeIngress(encode({ content: wire, signature: signWithNonce(seed, signingBytes(ingressDomain, wire), 7n) }), clock.now())
  if (!resigned.ok) return t.fail(resigned.error.message)
  t.not(resigned.value.id, m.id)
  pool.markFinalized([resigned.value])
  t.false(pool.has(m.id))
  t.is(pool.size, 0)
  t.is(pool.bytes, 0)
  t.is(refusal(t, pool.add(m.bytes)).reason, 'replay')
})

test('Mempool drops messages that expire while pooled', t => {
  const { pool, clock, message } = setup()
  const short = message({ expiryMs: BigInt(clock.now() + 1_000) })
  const long = message({ expiryMs: BigInt(clock.now() + 60_000) })
  t.true(pool.add(short.bytes).ok)
  t.true(pool.add(long.bytes).ok)
  clock.advance(1_000)
  t.deepEqual(pool.take(10, ingressBytesMax * 10).map(i => i.id), [long.id])
  t.false(pool.has(short.id))
  t.is(pool.size, 1)
  clock.advance(59_000)
  t.is(pool.prune(), 1)
  t.is(pool.size, 0)
})

test('Mempool rate-limits each principal with a token bucket, independently', t => {
  const { pool, clock, message } = setup({ burst: 3, ratePerSecond: 1 })
  for (let i = 0; i < 3; i++) t.true(pool.add(message().bytes).ok)
  const limited = refusal(t, pool.add(message().bytes))
  t.is(limited.reason, 'rate-limited')
  t.regex(limited.message, /may send again in 1000 ms/)
  const other = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
  t.true(pool.add(message({}, other).bytes).ok, 'another principal has its own bucket')
  clock.advance(1_000)
  t.true(pool.add(message().bytes).ok, 'one token back after one second')
  t.is(refusal(t, pool.add(message().bytes)).reason, 'rate-limited')
})

test('Mempool at its count bound refuses with a clear error and takes nothing', t => {
  const { pool, message } = setup({ countMax: 2, seenMax: 10 })
  t.true(pool.add(message().bytes).ok)
  t.true(pool.add(message().bytes).ok)
  const full = refusal(t, pool.add(message().bytes))
  t.is(full.reason, 'full')
  t.regex(full.message, /^mempool full: 2\/2 messages/)
  t.is(pool.size, 2)
})

test('Mempool at its byte bound refuses with the numbers', t => {
  const { pool, message } = setup({ bytesMax: ingressBytesMax })
  const big = () => message({ payload: new Uint8Array(ingressBytesMax / 2) }) // two of them overflow the pool
  const first = big()
  t.true(pool.add(first.bytes).ok)
  const second = big()
  const full = refusal(t, pool.add(second.bytes))
  t.is(full.reason, 'full')
  t.true(full.message.includes(`${first.bytes.length + second.bytes.length} > ${ingressBytesMax} bytes`))
  t.is(pool.bytes, first.bytes.length)
})

test('Mempool refuses new messages when its replay memory is full rather than forgetting ids early', t => {
  const { pool, message } = setup({ countMax: 2, seenMax: 2 })
  const a = message()
  const b = message()
  t.true(pool.add(a.bytes).ok)
  t.true(pool.add(b.bytes).ok)
  pool.markFinalized([a, b])
  t.is(pool.size, 0)
  const r = refusal(t, pool.add(message().bytes))
  t.is(r.reason, 'full')
  t.regex(r.message, /replay memory full: 2\/2/)
})

test('Mempool.take respects count and byte bounds, order, exclusions, and leaves messages pooled', t => {
  const { pool, message } = setup()
  const ms = Array.from({ length: 5 }, () => message())
  for (const m of ms) t.true(pool.add(m.bytes).ok)
  const size = ms[0]!.bytes.length
  t.deepEqual(pool.take(3, 100 * size).map(i => i.id), ms.slice(0, 3).map(m => m.id))
  t.deepEqual(pool.take(10, 2 * size).map(i => i.id), ms.slice(0, 2).map(m => m.id))
  t.deepEqual(pool.take(10, size - 1), [])
  t.deepEqual(pool.take(0, 100 * size), [])
  const excluded = new Set([ms[0]!.id, ms[2]!.id])
  t.deepEqual(pool.take(2, 100 * size, { exclude: id => excluded.has(id) }).map(i => i.id), [ms[1]!.id, ms[3]!.id])
  t.is(pool.size, 5)
  const sum = pool.take(10, 100 * size).reduce((s, i) => s + i.bytes.length, 0)
  t.is(sum, pool.bytes)
})

test('Mempool.take skips a message too big for the remaining room and fills with smaller ones', t => {
  const { pool, message } = setup()
  const small1 = message()
  const big = message({ payload: new Uint8Array(10_000) })
  const small2 = message()
  for (const m of [small1, big, small2]) t.true(pool.add(m.bytes).ok)
  t.deepEqual(pool.take(10, small1.bytes.length + small2.bytes.length).map(i => i.id), [small1.id, small2.id])
})

test('Mempool refuses queries and messages for another subnet', t => {
  const { pool, message } = setup()
  t.is(refusal(t, pool.add(message({ kind: 'query' }).bytes)).reason, 'query')
  const wrong = refusal(t, pool.add(message({ actor: actorIdOf(otherSubnet, 1n) }).bytes))
  t.is(wrong.reason, 'wrong-subnet')
  t.regex(wrong.message, new RegExp(`for subnet ${otherSubnet}`))
  t.is(pool.size, 0)
})

test('Mempool survives a throwing listener and logs it', t => {
  const warnings: string[] = []
  const logger: Logger = { ...silentLogger, warn: (msg: string) => { warnings.push(msg) }, child: () => logger }
  const { pool, message } = setup({}, logger)
  pool.onAccepted(() => { throw new Error('gossip down') })
  t.true(pool.add(message().bytes).ok)
  t.deepEqual(warnings, ['accepted-message listener failed'])
})

test('PrometheusMempoolMetrics exports accepted, refusals by reason and the pool fill', async t => {
  const registry = new Registry()
  const clock = new ManualClock()
  let pool: Mempool | undefined
  const metrics = new PrometheusMempoolMetrics(registry, () => ({ messages: pool?.size ?? 0, bytes: pool?.bytes ?? 0 }))
  pool = new Mempool({ clock, logger: silentLogger, metrics }, { subnet })
  const client = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
  const m = signIngress({ kind: 'update', actor: actorIdOf(subnet, 1n), method: 'inc', payload: new Uint8Array(1), expiryMs: BigInt(clock.now() + 1000), nonce: new Uint8Array(0), sender: client.id as Principal }, client)
  t.true(pool.add(m.bytes).ok)
  pool.add(m.bytes)
  pool.add(Uint8Array.of(0))
  const text = await registry.metrics()
  t.regex(text, /^pylon_ingress_accepted_total 1$/m)
  t.regex(text, /^pylon_ingress_refused_total\{reason="duplicate"\} 1$/m)
  t.regex(text, /^pylon_ingress_refused_total\{reason="malformed"\} 1$/m)
  t.regex(text, /^pylon_ingress_pool_messages 1$/m)
  t.regex(text, new RegExp(`^pylon_ingress_pool_bytes ${m.bytes.length}$`, 'm'))
})

test('clientRequest signs a body with a fresh nonce and an expiry the mempool accepts', t => {
  const { pool, clock, client } = setup()
  const body = { kind: 'update', actor: actorIdOf(subnet, 3n), method: 'inc', payload: Uint8Array.of(1) } as const
  const a = clientRequest(client, body, { nowMs: clock.now() })
  const b = clientRequest(client, body, { nowMs: clock.now() })
  t.not(a.requestId, b.requestId, 'two identical calls are two requests')
  t.is(a.content.expiryMs, BigInt(clock.now() + clientRequestTtlMs))
  t.true(pool.add(a.bytes).ok)
  t.true(pool.add(b.bytes).ok)
  t.throws(() => clientRequest(client, body, { nowMs: clock.now(), ttlMs: 10 * 60_000 }), { message: /ttlMs must be an integer/ })
})

test.serial('Mempool.addVerified admits a decoded message without verifying its signature again; add verifies once', t => {
  const { pool, clock, message } = setup()
  const m = message()
  const n = message()
  const counter = countVerifications()
  t.teardown(() => counter.restore())
  const decoded = decodeIngress(m.bytes, clock.now())
  t.is(counter.count, 1, 'the counter sees decodeIngress verify')
  if (!decoded.ok) return t.fail(decoded.error.message)
  const r = pool.addVerified(decoded.value, 'peer-a')
  t.true(r.ok)
  t.is(counter.count, 1, 'addVerified verified nothing')
  t.true(pool.has(m.id))
  t.true(pool.add(n.bytes).ok)
  t.is(counter.count, 2, 'add verifies untrusted bytes')
  // Duplicates cost no verification on either path.
  t.is(refusal(t, pool.addVerified(decoded.value)).reason, 'duplicate')
  t.is(refusal(t, pool.add(n.bytes)).reason, 'duplicate')
  t.is(counter.count, 2)
})

test('Mempool.addVerified runs every check of add but the signature: expiry at its clock, replay, kind, subnet, rate', t => {
  const { pool, clock, message, refused, client, seed } = setup({ burst: 3, ratePerSecond: 0.001 })
  const verified = (bytes: Uint8Array) => {
    const decoded = decodeIngress(bytes, clock.now())
    if (!decoded.ok) throw new Error(decoded.error.message)
    return decoded.value
  }
  // Decoded while fresh, expired by the time it reaches the pool.
  const late = verified(message({ expiryMs: BigInt(clock.now() + 10) }).bytes)
  clock.advance(10)
  t.is(refusal(t, pool.addVerified(late)).reason, 'expired')
  t.is(refusal(t, pool.addVerified(verified(message({ kind: 'query' }).bytes))).reason, 'query')
  t.is(refusal(t, pool.addVerified(verified(message({ actor: actorIdOf(otherSubnet, 1n) }).bytes))).reason, 'wrong-subnet')
  const first = message()
  t.true(pool.addVerified(verified(first.bytes)).ok)
  // The same request under another signature is a replay, not a second message.
  const wire = (decode(first.bytes) as { ok: true, value: { content: Record<string, unknown> } }).value.content
  const resigned = encode({ content: wire, signature: signWithNonce(seed, signingBytes(ingressDomain, wire), 7n) })
  t.is(refusal(t, pool.addVerified(verified(resigned))).reason, 'replay')
  t.true(pool.addVerified(verified(message().bytes)).ok)
  t.true(pool.addVerified(verified(message().bytes)).ok)
  t.is(refusal(t, pool.addVerified(verified(message({}, client).bytes))).reason, 'rate-limited')
  t.deepEqual(refused, ['expired', 'query', 'wrong-subnet', 'replay', 'rate-limited'])
  t.is(pool.size, 3)
})

test('Mempool forgets each request id exactly when it expires, also within a second, and only then', t => {
  const { pool, clock, message } = setup()
  clock.advance(1_000 - (clock.now() % 1_000) + 250) // a quarter into a second
  const start = clock.now()
  const expiries = [1_000, 1_500, 1_500, 2_750, 60_000].map(d => start + d)
  for (const expiryMs of expiries) pool.markFinalized([message({ expiryMs: BigInt(expiryMs) })])
  t.is(pool.rememberedCount, 5)
  const rememberedAt = (ms: number): number => {
    clock.advance(ms - clock.now())
    pool.prune()
    return pool.rememberedCount
  }
  t.is(rememberedAt(start + 999), 5)
  t.is(rememberedAt(start + 1_000), 4, 'at its expiry, mid-second')
  t.is(rememberedAt(start + 1_499), 4)
  t.is(rememberedAt(start + 1_500), 2)
  t.is(rememberedAt(start + 2_749), 2)
  t.is(rememberedAt(start + 2_750), 1)
  t.is(rememberedAt(start + 59_999), 1)
  t.is(rememberedAt(start + 60_000), 0)
})

test('Mempool admits a relayed message unchecked where checkSignature says so, and take() checks it before a proposal: a forged one is dropped and its request id forgotten', t => {
  const { pool, message, refused } = setup()
  const good = message()
  const forged = new Uint8Array(good.bytes)
  forged[forged.length - 1]! ^= 1
  const skip = { checkSignature: () => false }
  const counter = countVerifications()
  t.teardown(() => counter.restore())
  const admitted = pool.add(forged, 'member-b', skip)
  t.true(admitted.ok)
  t.is(counter.count, 0, 'admitted without a signature check')
  if (admitted.ok) t.true(pool.unchecked(admitted.value.id))
  t.is(refusal(t, pool.add(good.bytes, 'member-c', skip)).reason, 'replay', 'the same request is pooled')
  const other = message()
  t.true(pool.add(other.bytes, 'member-b', skip).ok)
  const batch = pool.take(10, 1 << 20)
  t.is(counter.count, 2, 'both checked at take')
  t.deepEqual(batch.map(m => m.id), [other.id])
  t.false(pool.unchecked(other.id), 'checked now')
  t.deepEqual(refused.slice(-1), ['bad-signature'])
  t.is(pool.size, 1)
  // The forgery no longer holds the request: the genuine message comes in (from a client: checked).
  t.true(pool.add(good.bytes).ok)
  t.false(pool.unchecked(good.id))
  t.deepEqual(pool.take(10, 1 << 20).map(m => m.id), [other.id, good.id])
  t.is(counter.count, 3)
})
