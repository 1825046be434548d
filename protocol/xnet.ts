// Messages between actors and the certified streams that carry them between subnets. A subnet keeps,
// for every other subnet it talks to, an outgoing stream in its own certified state: messages under
// consecutive sequence numbers, and how far it has consumed the other side's stream (its ack). A
// slice is a run of one stream's messages, each with a proof against a state root that 2f+1 members
// of the sending subnet certified, plus the sender's signed genesis: the receiver checks it knowing
// nothing but the receiving subnet's id. Pure; never throws on untrusted input.

import { decode, encode } from './codec.ts'
import { parseActorId, parseSubnetId, subnetOfActorId, type ActorId, type Height, type SubnetId } from './ids.ts'
import { actorMethodCharsMax, actorPayloadBytesMax, actorResultBytesMax, xnetSliceBytesMax, xnetSliceMessagesMax } from './limits.ts'
import { err, ok, type Result } from './result.ts'
import { decodeCertificate, encodeCertificate, verifyCertificate, type StateCertificate } from './certification.ts'
import { decodeStateProof, encodeStateProof, verifyStateProof, type StateProof } from './state/state-proof.ts'
import { decodeGenesis, type Subnet } from './subnet.ts'

/**
 * A call, or the one answer every call gets. A call runs update `method` on `to` with caller
 * `from`; a reply runs `reply:<method>` and a reject `reject:<method>` on `to` (the caller of the
 * call), with caller `from` (the callee). Answers are never answered.
 */
export interface ActorCall {
  kind: 'call' | 'reply' | 'reject'
  from: ActorId
  to: ActorId
  /** The called method (for an answer: the method of the call it answers). */
  method: string
  /** call: the argument; reply: the callee's result; reject: the error as UTF-8 text. */
  payload: Uint8Array
}

/** Prefixes of the methods answers run under; a call's method leaves room for the longer one. */
export const replyPrefix = 'reply:'
export const rejectPrefix = 'reject:'
/** Longest method an actor may call: an answer's method must still fit actorMethodCharsMax. */
export const callMethodCharsMax = actorMethodCharsMax - rejectPrefix.length

/** The update an ActorCall runs on its target. */
export function methodRun (message: ActorCall): string {
  return message.kind === 'call' ? message.method : `${message.kind === 'reply' ? replyPrefix : rejectPrefix}${message.method}`
}

/** The answer to a call, from the callee's receipt: the result, or the error text. */
export function answerOf (call: ActorCall, outcome: { ok: true, result: Uint8Array } | { ok: false, error: string }): ActorCall {
  return outcome.ok
    ? { kind: 'reply', from: call.to, to: call.from, method: call.method, payload: outcome.result }
    : { kind: 'reject', from: call.to, to: call.from, method: call.method, payload: new TextEncoder().encode(outcome.error) }
}

export function encodeActorCall (message: ActorCall): Uint8Array {
  return encode({ kind: message.kind, from: message.from, to: message.to, method: message.method, payload: message.payload })
}

/** Decodes an untrusted message: exact shape, ids, method and payload bounds. */
export function decodeActorCall (bytes: Uint8Array): Result<ActorCall> {
  const decoded = decode(bytes, { bytesMax: actorResultBytesMax + 4096 })
  if (!decoded.ok) return err(`actor message: ${decoded.error}`)
  const v = decoded.value as Record<string, unknown>
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return err('actor message must be a map')
  if (Object.keys(v).length !== 5) return err('actor message must be a map of exactly { kind, from, to, method, payload }')
  if (v.kind !== 'call' && v.kind !== 'reply' && v.kind !== 'reject') return err('actor message kind must be call, reply or reject')
  const from = parseActorId(v.from)
  if (!from.ok) return err(`actor message from: ${from.error}`)
  const to = parseActorId(v.to)
  if (!to.ok) return err(`actor message to: ${to.error}`)
  if (typeof v.method !== 'string' || v.method.length === 0 || v.method.length > callMethodCharsMax) return err(`actor message method must be 1..${callMethodCharsMax} characters`)
  if (!(v.payload instanceof Uint8Array)) return err('actor message payload must be bytes')
  const payloadMax = v.kind === 'reply' ? actorResultBytesMax : actorPayloadBytesMax
  if (v.payload.length > payloadMax) return err(`actor message payload too large: ${v.payload.length} > ${payloadMax} bytes`)
  return ok({ kind: v.kind, from: from.value, to: to.value, method: v.method, payload: v.payload })
}

// ── Stream layout in the sending subnet's state (under its system actor `<SubnetId>.0`) ─────────

const text = new TextEncoder()

/** Fixed-width decimal so byte order equals numeric order (u64 has 20 digits). */
export function padded (n: bigint): string {
  return n.toString().padStart(20, '0')
}

/** The reserved actor whose storage holds a subnet's own records (actorIdOf never issues index 0). */
export function systemActorOf (subnet: SubnetId): ActorId {
  return `${subnet}.0` as ActorId
}

export const streamKeys = {
  /** Message `seq` of this subnet's stream to `to`. */
  message: (to: SubnetId, seq: bigint): Uint8Array => text.encode(`xout/${to}/${padded(seq)}`),
  /** Next sequence number of the stream to `to` (u64, starts at 0). */
  tail: (to: SubnetId): Uint8Array => text.encode(`xout-tail/${to}`),
  /** Lowest sequence number still kept (messages below it were acknowledged and removed). */
  head: (to: SubnetId): Uint8Array => text.encode(`xout-head/${to}`),
  /** How many messages of `from`'s stream to this subnet were consumed: the ack `from` reads. */
  consumed: (from: SubnetId): Uint8Array => text.encode(`xin/${from}`)
}

// ── Slices ────────────────────────────────────────────────────────────────────────────────────

/** A run of stream `from → to` as it travels: everything proven against one certified state of `from`. */
export interface StreamSlice {
  /** The sending subnet's signed genesis (encodeGenesis): its CID is the sending SubnetId. */
  genesis: Uint8Array
  certificate: StateCertificate
  /** Consecutive messages, each with its proof (the proof's value is the encoded ActorCall). */
  messages: Array<{ seq: bigint, proof: StateProof }>
  /** Proof of the sender's `xin/<to>`: how far it consumed the receiver's stream. */
  ack: StateProof
}

/** What a verified slice says. */
export interface VerifiedSlice {
  from: SubnetId
  to: SubnetId
  height: Height
  messages: Array<{ seq: bigint, message: ActorCall }>
  /** Messages of the receiver's stream to `from` that `from` consumed. */
  acked: bigint
}

export function encodeSlice (slice: StreamSlice): Uint8Array {
  return encode({
    genesis: slice.genesis,
    certificate: encodeCertificate(slice.certificate),
    messages: slice.messages.map(m => [m.seq, encodeStateProof(m.proof)]),
    ack: encodeStateProof(slice.ack)
  })
}

/** Decodes untrusted slice bytes (shape and bounds; verifySlice checks signatures and proofs). */
export function decodeSlice (bytes: Uint8Array): Result<StreamSlice> {
  if (!(bytes instanceof Uint8Array)) return err('slice must be bytes')
  if (bytes.length > xnetSliceBytesMax) return err(`slice too large: ${bytes.length} > ${xnetSliceBytesMax} bytes`)
  const decoded = decode(bytes, { bytesMax: xnetSliceBytesMax })
  if (!decoded.ok) return err(`slice: ${decoded.error}`)
  const v = decoded.value as Record<string, unknown>
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length !== 4) return err('slice must be a map of exactly { genesis, certificate, messages, ack }')
  if (!(v.genesis instanceof Uint8Array)) return err('slice genesis must be bytes')
  if (!(v.certificate instanceof Uint8Array)) return err('slice certificate must be bytes')
  const certificate = decodeCertificate(v.certificate)
  if (!certificate.ok) return err(`slice ${certificate.error}`)
  if (!Array.isArray(v.messages)) return err('slice messages must be a list')
  if (v.messages.length > xnetSliceMessagesMax) return err(`slice holds ${v.messages.length} messages > ${xnetSliceMessagesMax}`)
  const messages: StreamSlice['messages'] = []
  for (const [i, entry] of (v.messages as unknown[]).entries()) {
    if (!Array.isArray(entry) || entry.length !== 2 || !(typeof entry[0] === 'bigint' || Number.isSafeInteger(entry[0])) || !(entry[1] instanceof Uint8Array)) return err(`slice message ${i} must be [seq, proof]`)
    const seq = BigInt(entry[0] as number | bigint)
    if (seq < 0n) return err(`slice message ${i} has a negative seq`)
    const proof = decodeStateProof(entry[1])
    if (!proof.ok) return err(`slice message ${i}: ${proof.error}`)
    messages.push({ seq, proof: proof.value })
  }
  if (!(v.ack instanceof Uint8Array)) return err('slice ack must be bytes')
  const ack = decodeStateProof(v.ack)
  if (!ack.ok) return err(`slice ack: ${ack.error}`)
  return ok({ genesis: v.genesis, certificate: certificate.value, messages, ack: ack.value })
}

/**
 * Checks a slice meant for subnet `to`: the genesis names the subnet the certificate is of; the
 * certificate holds a quorum of its members' signatures; every message is present under its key in
 * the certified state, is consecutive, and is from an actor of that subnet to one of `to`; the ack
 * is proven too (absent = 0).
 */
export function verifySlice (slice: StreamSlice, to: SubnetId): Result<VerifiedSlice> {
  const sender = decodeGenesis(slice.genesis)
  if (!sender.ok) return err(`slice genesis: ${sender.error}`)
  return verifySliceOf(slice, sender.value, to)
}

function verifySliceOf (slice: StreamSlice, from: Subnet, to: SubnetId): Result<VerifiedSlice> {
  if (from.id === to) return err('a slice cannot be from the subnet it is for')
  const cert = verifyCertificate(slice.certificate, from)
  if (!cert.ok) return err(`slice certificate: ${cert.error}`)
  const root = cert.value.state.stateRoot
  const system = systemActorOf(from.id)
  const messages: VerifiedSlice['messages'] = []
  for (const [i, { seq, proof }] of slice.messages.entries()) {
    if (i > 0 && seq !== slice.messages[i - 1]!.seq + 1n) return err(`slice message ${i}: seq ${seq} does not follow ${slice.messages[i - 1]!.seq}`)
    const value = verifyStateProof(root, system, streamKeys.message(to, seq), proof)
    if (!value.ok) return err(`slice message ${seq}: ${value.error}`)
    if (value.value === null) return err(`slice message ${seq} is proven absent`)
    const message = decodeActorCall(value.value)
    if (!message.ok) return err(`slice message ${seq}: ${message.error}`)
    if (subnetOfActorId(message.value.from) !== from.id) return err(`slice message ${seq} is from ${message.value.from}, not an actor of ${from.id}`)
    if (subnetOfActorId(message.value.to) !== to) return err(`slice message ${seq} is to ${message.value.to}, not an actor of ${to}`)
    messages.push({ seq, message: message.value })
  }
  const ack = verifyStateProof(root, system, streamKeys.consumed(to), slice.ack)
  if (!ack.ok) return err(`slice ack: ${ack.error}`)
  let acked = 0n
  if (ack.value !== null) {
    const n = decode(ack.value)
    if (!n.ok || !(typeof n.value === 'bigint' || Number.isSafeInteger(n.value))) return err('slice ack is not a count')
    acked = BigInt(n.value as number | bigint)
  }
  return ok({ from: from.id, to, height: cert.value.state.height, messages, acked })
}

/** A request for stream `from → to` starting at `next` (what `to` has not consumed yet). */
export interface SliceRequest {
  from: SubnetId
  to: SubnetId
  next: bigint
  /** The asker holds messages below this already: only a message at or past it is news. */
  have: bigint
  /** The ack the asker already holds: the server answers at once when it has moved. */
  acked: bigint
  /** How long the server may hold the request for news (ms), bounded by xnetLongPollMs. */
  waitMs: number
}

export function encodeSliceRequest (request: SliceRequest): Uint8Array {
  return encode({ from: request.from, to: request.to, next: request.next, have: request.have, acked: request.acked, waitMs: request.waitMs })
}

export function decodeSliceRequest (bytes: Uint8Array): Result<SliceRequest> {
  const decoded = decode(bytes, { bytesMax: 1024 })
  if (!decoded.ok) return err(`slice request: ${decoded.error}`)
  const v = decoded.value as Record<string, unknown>
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return err('slice request must be a map')
  const from = parseSubnetId(v.from)
  if (!from.ok) return err(`slice request from: ${from.error}`)
  const to = parseSubnetId(v.to)
  if (!to.ok) return err(`slice request to: ${to.error}`)
  const isU64 = (x: unknown): boolean => (typeof x === 'bigint' && x >= 0n) || (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)
  if (!isU64(v.next) || !isU64(v.have) || !isU64(v.acked)) return err('slice request next, have and acked must be non-negative integers')
  if (!Number.isSafeInteger(v.waitMs) || (v.waitMs as number) < 0) return err('slice request waitMs must be a non-negative integer')
  return ok({ from: from.value, to: to.value, next: BigInt(v.next as number), have: BigInt(v.have as number), acked: BigInt(v.acked as number), waitMs: v.waitMs as number })
}
