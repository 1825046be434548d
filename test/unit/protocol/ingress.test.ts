import test from 'ava'
import fc from 'fast-check'
import { createHash, randomBytes } from 'node:crypto'
import { cidOf, cidOfBytes, decode, encode, rawCidOf, sha256Bytes, signingBytes } from '../../../protocol/codec.ts'
import { actorIdOf, peerIdOfPublicKey, type Principal, type SubnetId } from '../../../protocol/ids.ts'
import { checkExpiry, checksSignature, decodeIngress, ingressDomain, ingressIdOf, ingressSignedBytes, selectBlockIngress, signIngress, subnetOfIngress, verifyIngressSignature, type IngressCall, type IngressContent, type RequestId } from '../../../protocol/ingress.ts'
import {
  ingressActorNameCharsMax, ingressBytesMax, ingressControllersMax, ingressExpiryDriftMs, ingressMethodCharsMax,
  ingressNonceBytesMax, ingressPayloadBytesMax, ingressTtlMaxMs
} from '../../../protocol/limits.ts'
import { signerFromSeed, type Signer } from '../../../protocol/signature.ts'
import { signWithNonce } from '../node/ingress/_resign.ts'

const now = 1_700_000_000_000
const client = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
const other = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
const subnet = cidOf({ test: 'subnet' }).toString() as SubnetId
const otherSubnet = cidOf({ test: 'other' }).toString() as SubnetId
const actor = actorIdOf(subnet, 7n)

function call (over: Partial<IngressCall> = {}, signer: Signer = client): IngressCall {
  return { kind: 'update', actor, method: 'inc', payload: Uint8Array.of(1, 2, 3), expiryMs: BigInt(now + 60_000), nonce: Uint8Array.of(9), sender: signer.id as Principal, ...over }
}

/** Signs an arbitrary wire content (bypassing signIngress's own checks) so the decoder sees it. */
function rawEnvelope (wire: Record<string, unknown>, signer: Signer = client): Uint8Array {
  return encode({ content: wire, signature: signer.sign(ingressDomain, wire) })
}

test('decodeIngress round-trips every kind signed by signIngress', t => {
  const base = { expiryMs: BigInt(now + 1000), nonce: new Uint8Array(0), sender: client.id as Principal }
  const code = rawCidOf(Uint8Array.of(0, 97, 115, 109))
  const contents: IngressContent[] = [
    call(),
    call({ kind: 'query', subnet }),
    { kind: 'install', subnet, code, arg: Uint8Array.of(1), name: 'counter', controllers: [client.id as Principal, other.id as Principal], ...base },
    { kind: 'upgrade', actor, code, arg: new Uint8Array(0), ...base },
    { kind: 'delete', actor, ...base }
  ]
  for (const content of contents) {
    const signed = signIngress(content, client)
    const decoded = decodeIngress(signed.bytes, now)
    t.true(decoded.ok, content.kind)
    if (!decoded.ok) continue
    t.deepEqual(decoded.value.content, content)
    t.is(decoded.value.id, signed.id)
    t.is(decoded.value.requestId, signed.requestId)
    t.is(subnetOfIngress(decoded.value.content), subnet)
  }
})

test('decodeIngress refuses a forged signature, another signer, and a changed field', t => {
  const signed = signIngress(call(), client)
  const forged = new Uint8Array(signed.bytes)
  forged[forged.length - 1]! ^= 1 // the signature is the last field of the envelope
  const r1 = decodeIngress(forged, now)
  t.false(r1.ok)
  if (!r1.ok) t.is(r1.error.reason, 'bad-signature')
  // A valid signature by someone who is not the sender.
  const wire = { ...call(), expiryMs: BigInt(now + 60_000) } as Record<string, unknown>
  const r2 = decodeIngress(rawEnvelope(wire, other), now)
  t.false(r2.ok)
  if (!r2.ok) t.regex(r2.error.message, /bad signature: not by sender/)
  // Same signature, payload changed.
  const envelope = decode(signed.bytes)
  if (!envelope.ok) return t.fail()
  const tampered = envelope.value as { content: Record<string, unknown>, signature: Uint8Array }
  tampered.content.payload = Uint8Array.of(6, 6, 6)
  const r3 = decodeIngress(encode(tampered), now)
  t.false(r3.ok)
  if (!r3.ok) t.is(r3.error.reason, 'bad-signature')
})

test('decodeIngress enforces the expiry window: expired, at the bound, one past it', t => {
  const aheadMax = ingressTtlMaxMs + ingressExpiryDriftMs
  const atBound = decodeIngress(signIngress(call({ expiryMs: BigInt(now + aheadMax) }), client).bytes, now)
  t.true(atBound.ok)
  const past = decodeIngress(signIngress(call({ expiryMs: BigInt(now + aheadMax + 1) }), client).bytes, now)
  t.false(past.ok)
  if (!past.ok) { t.is(past.error.reason, 'expiry-too-far'); t.regex(past.error.message, /360001 ms > 360000 ms/) }
  const justValid = decodeIngress(signIngress(call({ expiryMs: BigInt(now + 1) }), client).bytes, now)
  t.true(justValid.ok)
  const expired = decodeIngress(signIngress(call({ expiryMs: BigInt(now) }), client).bytes, now)
  t.false(expired.ok)
  if (!expired.ok) t.is(expired.error.reason, 'expired')
  t.true(checkExpiry(BigInt(now + 10), now).ok)
})

test('decodeIngress payload: at its limit accepted, one past refused with the numbers', t => {
  const atLimit = signIngress(call({ payload: new Uint8Array(ingressPayloadBytesMax) }), client)
  t.true(decodeIngress(atLimit.bytes, now).ok)
  const wire = { ...call(), payload: new Uint8Array(ingressPayloadBytesMax + 1) } as Record<string, unknown>
  const over = decodeIngress(rawEnvelope(wire), now)
  t.false(over.ok)
  if (!over.ok) {
    t.is(over.error.reason, 'too-large')
    t.is(over.error.message, `payload too large: ${ingressPayloadBytesMax + 1} > ${ingressPayloadBytesMax} bytes`)
  }
  t.throws(() => signIngress(call({ payload: new Uint8Array(ingressPayloadBytesMax + 1) }), client), { message: /payload too large/ })
})

test('decodeIngress: the largest legal message (every field at its limit) fits the envelope bound', t => {
  const controllers = Array.from({ length: ingressControllersMax }, () => signerFromSeed(randomBytes(32), peerIdOfPublicKey).id as Principal)
  const install = signIngress({
    kind: 'install', subnet, code: rawCidOf(Uint8Array.of(1)), arg: new Uint8Array(ingressPayloadBytesMax),
    name: 'n'.repeat(ingressActorNameCharsMax), controllers, expiryMs: BigInt(now + 1000), nonce: new Uint8Array(ingressNonceBytesMax), sender: client.id as Principal
  }, client)
  t.true(install.bytes.length <= ingressBytesMax)
  t.true(decodeIngress(install.bytes, now).ok)
  const update = signIngress(call({ method: 'm'.repeat(ingressMethodCharsMax), payload: new Uint8Array(ingressPayloadBytesMax), nonce: new Uint8Array(ingressNonceBytesMax) }), client)
  t.true(decodeIngress(update.bytes, now).ok)
})

test('decodeIngress total size: at the bound parsed, one past refused before parsing', t => {
  const atBound = decodeIngress(new Uint8Array(ingressBytesMax), now)
  t.false(atBound.ok)
  if (!atBound.ok) t.is(atBound.error.reason, 'malformed') // parsed (and found garbage), not refused for size
  const over = decodeIngress(new Uint8Array(ingressBytesMax + 1), now)
  t.false(over.ok)
  if (!over.ok) {
    t.is(over.error.reason, 'too-large')
    t.is(over.error.message, `ingress too large: ${ingressBytesMax + 1} > ${ingressBytesMax} bytes`)
  }
})

test('decodeIngress method, nonce, controllers, name: at limit accepted, one past refused', t => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['method', { method: 'm'.repeat(ingressMethodCharsMax) }, { method: 'm'.repeat(ingressMethodCharsMax + 1) }],
    ['nonce', { nonce: new Uint8Array(ingressNonceBytesMax) }, { nonce: new Uint8Array(ingressNonceBytesMax + 1) }]
  ]
  for (const [what, at, over] of cases) {
    t.true(decodeIngress(rawEnvelope({ ...call(), ...at }), now).ok, `${what} at limit`)
    const r = decodeIngress(rawEnvelope({ ...call(), ...over }), now)
    t.false(r.ok, `${what} over limit`)
    if (!r.ok) t.regex(r.error.message, new RegExp(what), what)
  }
  const install = (over: Record<string, unknown>): Record<string, unknown> => ({
    kind: 'install', subnet, code: rawCidOf(Uint8Array.of(1)), arg: new Uint8Array(0), name: 'x', controllers: [],
    expiryMs: BigInt(now + 1000), nonce: new Uint8Array(0), sender: client.id, ...over
  })
  const principals = Array.from({ length: ingressControllersMax + 1 }, () => signerFromSeed(randomBytes(32), peerIdOfPublicKey).id)
  t.true(decodeIngress(rawEnvelope(install({ controllers: principals.slice(1) })), now).ok)
  const many = decodeIngress(rawEnvelope(install({ controllers: principals })), now)
  t.false(many.ok)
  if (!many.ok) t.is(many.error.message, `too many controllers: ${ingressControllersMax + 1} > ${ingressControllersMax}`)
  t.true(decodeIngress(rawEnvelope(install({ name: 'n'.repeat(ingressActorNameCharsMax) })), now).ok)
  t.false(decodeIngress(rawEnvelope(install({ name: 'n'.repeat(ingressActorNameCharsMax + 1) })), now).ok)
})

test('decodeIngress refuses garbage and wrong shapes with a clear error, never throws', t => {
  const good = call() as unknown as Record<string, unknown>
  const badContents: Array<[string, Record<string, unknown>, RegExp]> = [
    ['unknown kind', { ...good, kind: 'launch' }, /unknown ingress kind/],
    ['extra field', { ...good, extra: 1 }, /unexpected field in update: "extra"/],
    ['bad actor', { ...good, actor: 'bafy.1' }, /actor id/],
    ['actor without index', { ...good, actor: subnet }, /<subnet>.<index>/],
    ['subnet mismatch', { ...good, subnet: otherSubnet }, /not the actor's subnet/],
    ['empty method', { ...good, method: '' }, /method must be/],
    ['payload not bytes', { ...good, payload: 'abc' }, /payload must be bytes/],
    ['negative expiry', { ...good, expiryMs: -1 }, /expiryMs/],
    ['float expiry', { ...good, expiryMs: 1.5 }, /expiryMs/],
    ['bad sender', { ...good, sender: 'nobody' }, /sender/],
    ['install without subnet', { kind: 'install', code: rawCidOf(Uint8Array.of(1)), arg: new Uint8Array(0), name: 'x', controllers: [], expiryMs: BigInt(now + 1), nonce: new Uint8Array(0), sender: client.id }, /install must name its subnet/],
    ['code not raw', { kind: 'upgrade', actor, code: cidOf(1), arg: new Uint8Array(0), expiryMs: BigInt(now + 1), nonce: new Uint8Array(0), sender: client.id }, /raw sha2-256 CIDv1/]
  ]
  for (const [what, wire, message] of badContents) {
    const r = decodeIngress(rawEnvelope(wire), now)
    t.false(r.ok, what)
    if (!r.ok) t.regex(r.error.message, message, what)
  }
  const garbage: unknown[] = [new Uint8Array(0), Uint8Array.of(0xff), randomBytes(100), encode(42), encode([1, 2]), encode({ content: good }),
    encode({ content: good, signature: new Uint8Array(63) }), encode({ content: 'x', signature: new Uint8Array(64) }), 'not bytes', null]
  for (const bytes of garbage) {
    const r = decodeIngress(bytes as Uint8Array, now)
    t.false(r.ok)
    if (!r.ok) t.is(r.error.reason, 'malformed')
  }
})

test('decodeIngress refuses a non-canonical encoding of a validly signed message', t => {
  const signed = signIngress(call(), client)
  // Re-encode the same envelope with its map keys in reverse order: same content and signature,
  // different bytes, which would otherwise be a second id for one message.
  const hex = Buffer.from(signed.bytes).toString('hex')
  t.true(hex.startsWith('a2'))
  const envelope = decode(signed.bytes)
  if (!envelope.ok) return t.fail()
  const { content, signature } = envelope.value as { content: unknown, signature: Uint8Array }
  const swapped = Buffer.concat([Buffer.from([0xa2]), Buffer.from(encode('signature')).subarray(0), Buffer.from(encode(signature)), Buffer.from(encode('content')), Buffer.from(encode(content))])
  const r = decodeIngress(new Uint8Array(swapped), now)
  t.false(r.ok)
  if (!r.ok) t.regex(r.error.message, /^ingress: not canonical dag-cbor: encoding the value again gives other bytes/)
})

test('decodeIngress refuses an expiry written as a float64 holding the same integer (same value, other bytes)', t => {
  const signed = signIngress(call(), client)
  // The u64 head 0x1b + 8 bytes and the float head 0xfb + 8 bytes have the same length, so only
  // the encoding changes; the decoded content (and so the signature check) would be identical.
  const expiry = Buffer.alloc(9)
  expiry[0] = 0x1b
  expiry.writeBigUInt64BE(BigInt(now + 60_000), 1)
  const at = Buffer.from(signed.bytes).indexOf(expiry)
  t.true(at > 0)
  const floated = new Uint8Array(signed.bytes)
  floated[at] = 0xfb
  new DataView(floated.buffer).setFloat64(at + 1, now + 60_000)
  const before = decode(floated)
  t.true(before.ok, 'the dag-cbor decoder accepts it')
  if (before.ok) t.is(Number((before.value as { content: { expiryMs: number } }).content.expiryMs), now + 60_000)
  const r = decodeIngress(floated, now)
  t.false(r.ok)
  if (!r.ok) t.deepEqual([r.error.reason, r.error.message], ['malformed', 'ingress: not canonical dag-cbor: encoding the value again gives other bytes'])
})

test('decodeIngress gives the ids of the multiformats construction: CID string of the bytes, hex SHA-256 of [domain, content]', t => {
  // Ids live in replicated state, receipts and the API: the fast path must not change one byte.
  const code = rawCidOf(Uint8Array.of(0, 97, 115, 109))
  const base = { expiryMs: BigInt(now + 1000), nonce: randomBytes(16), sender: client.id as Principal }
  const contents: IngressContent[] = [
    call({ payload: randomBytes(1000) }), call({ kind: 'query', subnet, method: 'é✓' }),
    { kind: 'install', subnet, code, arg: randomBytes(3), name: 'counter', controllers: [other.id as Principal], ...base },
    { kind: 'upgrade', actor, code, arg: new Uint8Array(0), ...base },
    { kind: 'delete', actor, ...base }
  ]
  for (const content of contents) {
    const signed = signIngress(content, client)
    const decoded = decodeIngress(signed.bytes, now)
    if (!decoded.ok) return t.fail(decoded.error.message)
    const wire = (decode(signed.bytes) as { ok: true, value: { content: unknown } }).value.content
    const requestId = Buffer.from(sha256Bytes(signingBytes(ingressDomain, wire))).toString('hex')
    const id = cidOfBytes(signed.bytes).toString()
    t.is<string, string>(decoded.value.id, id)
    t.is<string, string>(signed.id, id)
    t.is<string, string>(ingressIdOf(signed.bytes), id)
    t.is<string, string>(decoded.value.requestId, requestId)
    t.is<string, string>(signed.requestId, requestId)
    t.true(Buffer.from(ingressSignedBytes(signed.bytes) ?? []).equals(signingBytes(ingressDomain, wire)), 'the sliced signed bytes are the encoded ones')
  }
  // Envelope bytes inside a larger buffer (an HTTP body or a stream frame): the same verdict and ids.
  const signed = signIngress({ kind: 'install', subnet, code, arg: randomBytes(3), name: 'n', controllers: [], ...base }, client)
  const framed = Buffer.concat([randomBytes(13), signed.bytes, randomBytes(5)]).subarray(13, 13 + signed.bytes.length)
  const fromFrame = decodeIngress(new Uint8Array(framed.buffer, framed.byteOffset, framed.length), now)
  t.true(fromFrame.ok && fromFrame.value.id === signed.id && fromFrame.value.requestId === signed.requestId)
  // Bytes without the envelope's layout around the content have no signed bytes.
  for (const bytes of [new Uint8Array(0), Uint8Array.of(0xa2), encode({ content: 1 }), encode({ content: 'x', signature: new Uint8Array(63) })]) t.is(ingressSignedBytes(bytes), undefined)
})

test('decodeIngress gives the same verdicts twice: the parse and key memos change no answer', t => {
  const other = call({ actor: actorIdOf(otherSubnet, 3n) })
  const badActor = { ...call(), actor: `${subnet}.0` } as unknown as Record<string, unknown>
  const envelopes = [signIngress(call(), client).bytes, signIngress(other, client).bytes, rawEnvelope(badActor)]
  const first = envelopes.map(bytes => decodeIngress(bytes, now))
  const second = envelopes.map(bytes => decodeIngress(bytes, now))
  t.deepEqual(second, first)
  t.deepEqual(first.map(r => r.ok), [true, true, false])
})

test('ingress id covers the signature; a re-signed request gets a new id but the same request id', t => {
  const seed = randomBytes(32)
  const signer = signerFromSeed(seed, peerIdOfPublicKey)
  const content = call({}, signer)
  const a = signIngress(content, signer)
  t.is(signIngress(content, signer).id, a.id) // deterministic signing: same content, same bytes
  const wire = (decode(a.bytes) as { ok: true, value: { content: Record<string, unknown> } }).value.content
  const signature = signWithNonce(seed, signingBytes(ingressDomain, wire), 12345n)
  t.notDeepEqual(signature, a.signature)
  const b = decodeIngress(encode({ content: wire, signature }), now)
  t.true(b.ok, 'the second signature is valid')
  if (!b.ok) return
  t.not(b.value.id, a.id)
  t.is(b.value.id, ingressIdOf(b.value.bytes))
  t.is(b.value.requestId, a.requestId)
  const changed = signIngress({ ...content, nonce: Uint8Array.of(10) }, signer)
  t.not(changed.id, a.id)
  t.not(changed.requestId, a.requestId)
})

test('signIngress refuses content whose sender is not the signer', t => {
  t.throws(() => signIngress(call({}, other), client), { message: /is not the signer/ })
})

test('selectBlockIngress runs each request once per block and history, judged at block time', t => {
  const seed = randomBytes(32)
  const signer = signerFromSeed(seed, peerIdOfPublicKey)
  const a = signIngress(call({ nonce: Uint8Array.of(1) }, signer), signer)
  const b = signIngress(call({ nonce: Uint8Array.of(2) }, signer), signer)
  const old = signIngress(call({ nonce: Uint8Array.of(3) }, signer), signer)
  const soon = signIngress(call({ nonce: Uint8Array.of(4), expiryMs: BigInt(now + 5) }, signer), signer)
  const wire = (decode(a.bytes) as { ok: true, value: { content: Record<string, unknown> } }).value.content
  const aResigned = encode({ content: wire, signature: signWithNonce(seed, signingBytes(ingressDomain, wire), 5n) })
  const query = signIngress(call({ kind: 'query' }, signer), signer)
  const foreign = signIngress(call({ actor: actorIdOf(otherSubnet, 1n) }, signer), signer)
  const envelopes = [a.bytes, a.bytes, aResigned, b.bytes, old.bytes, soon.bytes, query.bytes, foreign.bytes, Uint8Array.of(1)]
  const selection = selectBlockIngress(envelopes, { subnet, blockTimeMs: now + 5, executed: id => id === old.requestId })
  t.deepEqual(selection.execute.map(m => m.id), [a.id, b.id])
  t.deepEqual(selection.skipped.map(s => [s.index, s.reason]), [[1, 'replay'], [2, 'replay'], [4, 'replay'], [5, 'expired'], [6, 'query'], [7, 'wrong-subnet'], [8, 'malformed']])
  const again = selectBlockIngress(envelopes, { subnet, blockTimeMs: now + 5, executed: id => id === old.requestId })
  t.deepEqual(again, selection, 'deterministic')
})

test('selectBlockIngress with the block already decoded in order gives the same selection, still judges expiry at block time, and ignores a list of another length', t => {
  const signer = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
  const a = signIngress(call({ nonce: Uint8Array.of(1) }, signer), signer)
  const soon = signIngress(call({ nonce: Uint8Array.of(2), expiryMs: BigInt(now + 5) }, signer), signer)
  const envelopes = [a.bytes, soon.bytes, a.bytes]
  const decoded = envelopes.map(bytes => { const r = decodeIngress(bytes, now); if (!r.ok) throw new Error(r.error.message); return r.value })
  for (const blockTimeMs of [now, now + 5]) {
    const plain = selectBlockIngress(envelopes, { subnet, blockTimeMs, executed: () => false })
    t.deepEqual(selectBlockIngress(envelopes, { subnet, blockTimeMs, executed: () => false, decoded }), plain, `at ${blockTimeMs - now} ms`)
  }
  t.deepEqual(selectBlockIngress(envelopes, { subnet, blockTimeMs: now + 5, executed: () => false, decoded }).skipped.map(s => [s.index, s.reason]), [[1, 'expired'], [2, 'replay']])
  // A list that does not match the block is not trusted: the envelopes are decoded again.
  const wrong = selectBlockIngress([soon.bytes], { subnet, blockTimeMs: now, executed: () => false, decoded: [decoded[0]!, decoded[1]!] })
  t.deepEqual(wrong.execute.map(m => m.id), [soon.id])
})

test('decodeIngress answers bad-signature (never throws) for senders whose key is not a curve point', t => {
  for (let i = 0; i < 20; i++) {
    const sender = peerIdOfPublicKey(randomBytes(32)) as Principal
    const wire = { ...call(), sender } as unknown as Record<string, unknown>
    const r = decodeIngress(encode({ content: wire, signature: randomBytes(64) }), now)
    t.false(r.ok)
    if (!r.ok) t.is(r.error.reason, 'bad-signature')
  }
})

test('decodeIngress refuses every single-byte change and truncation of a valid envelope, never throwing', t => {
  const signed = signIngress(call({ payload: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }), client)
  // fc.assert throws, with the seed and the counterexample, on the first violation.
  t.notThrows(() => fc.assert(fc.property(
    fc.nat({ max: signed.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.nat({ max: signed.bytes.length - 1 }),
    (position, delta, cut) => {
      const changed = new Uint8Array(signed.bytes)
      changed[position] = (changed[position]! + delta) & 0xff
      const a = decodeIngress(changed, now)
      const b = decodeIngress(signed.bytes.subarray(0, cut), now)
      return !a.ok && !b.ok
    }), { numRuns: 300, seed: 42 }))
})

test('checksSignature: exactly f of n members skip each request, and every member skips some', t => {
  for (const [n, f] of [[4, 1], [7, 2], [10, 3], [1, 0]] as const) {
    const skips = new Array<number>(n).fill(0)
    for (let i = 0; i < 400; i++) {
      const requestId = createHash('sha256').update(Uint8Array.of(i & 0xff, i >> 8, n)).digest('hex') as RequestId
      const skipping = [...Array(n).keys()].filter(m => !checksSignature(requestId, m, n, f))
      t.is(skipping.length, f, `n ${n}, request ${i}`)
      for (const m of skipping) skips[m]!++
    }
    // f/n of 400 each on average; a member that never skipped would mean a broken spread.
    for (const [m, count] of skips.entries()) t.true(f === 0 ? count === 0 : count > 400 * f / n / 2, `n ${n}: member ${m} skipped ${count}`)
  }
})

test('decodeIngress leaves a signature unchecked only where checkSignature says so, every other check still runs, and verifyIngressSignature checks it later', t => {
  const signer = signerFromSeed(randomBytes(32), peerIdOfPublicKey)
  const good = signIngress(call({ nonce: Uint8Array.of(7) }, signer), signer)
  const forged = new Uint8Array(good.bytes)
  forged[forged.length - 1]! ^= 1
  const asked: RequestId[] = []
  const skip = (requestId: RequestId): boolean => { asked.push(requestId); return false }
  const unchecked = decodeIngress(forged, now, { checkSignature: skip })
  t.true(unchecked.ok, 'not checked: accepted')
  t.deepEqual(asked, [good.requestId], 'asked by the request id, which the signature does not change')
  if (unchecked.ok) t.false(verifyIngressSignature(unchecked.value))
  t.true(verifyIngressSignature(good))
  t.like(decodeIngress(forged, now, { checkSignature: () => true }), { ok: false, error: { reason: 'bad-signature' } })
  t.like(decodeIngress(forged, now), { ok: false, error: { reason: 'bad-signature' } })
  t.like(decodeIngress(forged, now + 10 * 60_000, { checkSignature: skip }), { ok: false, error: { reason: 'expired' } })
  t.like(decodeIngress(forged.subarray(1), now, { checkSignature: skip }), { ok: false, error: { reason: 'malformed' } })
})
