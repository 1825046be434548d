// Signed client envelopes (update, query, install, upgrade, delete): wire format, limits, signature,
// expiry window and the two ids. Pure: the caller hands in the time; this file never reads a clock,
// and decodeIngress never throws for any input.

import { CID, cidStringOfBytes, decodeCanonical, encode, sha256Hex, signingBytes } from './codec.ts'
import { parseActorId, parsePrincipal, parseSubnetId, subnetOfActorId, type ActorId, type Principal, type SubnetId } from './ids.ts'
import {
  ingressActorNameCharsMax, ingressBytesMax, ingressControllersMax, ingressExpiryDriftMs, ingressMethodCharsMax,
  ingressIdsParsedCachedMax, ingressNonceBytesMax, ingressPayloadBytesMax, ingressTtlMaxMs
} from './limits.ts'
import { err, ok, type Result } from './result.ts'
import { ed25519SignatureBytes, keyOfPeerHeld, verifyBytesBy, type Signer } from './signature.ts'

/** Domain tag of a client's signature over an ingress content. */
export const ingressDomain = 'pylon/ingress/v1'

/**
 * Names one exact message: the CID (dag-cbor, sha2-256) of the signed envelope bytes, signature
 * INCLUDED. Blocks list and peers fetch messages by this id, so it must pin every byte: the IC's
 * December 2024 stall came from block-reconstruction ids that left the signature out, so a replica
 * rebuilt a block from a message with the same content but another signature, and replicas
 * disagreed on the block's bytes.
 */
export type IngressId = string & { readonly __brand: 'IngressId' }
/**
 * Names one request: hex SHA-256 of the signed content (what the signature covers, without it).
 * Replay protection keys on this, so re-signing or re-encoding a request never makes it run twice.
 */
export type RequestId = string & { readonly __brand: 'RequestId' }

export type IngressKind = 'update' | 'query' | 'install' | 'upgrade' | 'delete'

interface IngressCommon {
  /**
   * Expiry: milliseconds since the Unix epoch (u64). Milliseconds, not the IC's nanoseconds,
   * because the node's Clock and every timeout here count ms; a 5-minute window needs no finer grain.
   */
  expiryMs: bigint
  /** 0..ingressNonceBytesMax bytes chosen by the client so identical calls are distinct requests. */
  nonce: Uint8Array
  /** The signer: peer id of the client's Ed25519 key. */
  sender: Principal
}
/** A call: `update` goes through consensus, `query` runs on one replica against finalized state. */
export interface IngressCall extends IngressCommon {
  kind: 'update' | 'query'
  /** Optional; when present it must be the actor's subnet (lets a client pin the route). */
  subnet?: SubnetId
  actor: ActorId
  method: string
  payload: Uint8Array
}
export interface IngressInstall extends IngressCommon {
  kind: 'install'
  /** Required: an install names where it runs, so it cannot be replayed on another subnet. */
  subnet: SubnetId
  /** Raw CID of the component's bytes, uploaded separately. */
  code: CID
  /** Argument to the actor's `init`. */
  arg: Uint8Array
  name: string
  /** Principals allowed to upgrade or delete the actor (the sender is not added implicitly). */
  controllers: Principal[]
}
export interface IngressUpgrade extends IngressCommon {
  kind: 'upgrade'
  subnet?: SubnetId
  actor: ActorId
  code: CID
  arg: Uint8Array
}
export interface IngressDelete extends IngressCommon {
  kind: 'delete'
  subnet?: SubnetId
  actor: ActorId
}
export type IngressContent = IngressCall | IngressInstall | IngressUpgrade | IngressDelete

/** A decoded, signature-checked message. `bytes` are the exact envelope bytes `id` names. */
export interface Ingress {
  readonly content: IngressContent
  readonly signature: Uint8Array
  readonly bytes: Uint8Array
  readonly id: IngressId
  readonly requestId: RequestId
}

/** Why a message was refused; stable strings for metrics labels. */
export type IngressRefusal = 'too-large' | 'malformed' | 'bad-signature' | 'expired' | 'expiry-too-far'
export interface IngressError<R extends string = IngressRefusal> {
  reason: R
  message: string
}

const refuse = <R extends string>(reason: R, message: string): Result<never, IngressError<R>> => err({ reason, message })

// Keys each kind carries on the wire; any other key is refused so one content has one encoding.
const keysOf: Record<IngressKind, readonly string[]> = {
  update: ['kind', 'subnet', 'actor', 'method', 'payload', 'expiryMs', 'nonce', 'sender'],
  query: ['kind', 'subnet', 'actor', 'method', 'payload', 'expiryMs', 'nonce', 'sender'],
  install: ['kind', 'subnet', 'code', 'arg', 'name', 'controllers', 'expiryMs', 'nonce', 'sender'],
  upgrade: ['kind', 'subnet', 'actor', 'code', 'arg', 'expiryMs', 'nonce', 'sender'],
  delete: ['kind', 'subnet', 'actor', 'expiryMs', 'nonce', 'sender']
}

/** The subnet a message must be executed on: explicit for installs, else the actor's. */
export function subnetOfIngress (content: IngressContent): SubnetId {
  return content.kind === 'install' ? content.subnet : subnetOfActorId(content.actor)
}

/** Is `expiryMs` inside (now, now + TTL + drift]? The same rule at the mempool and in a block. */
export function checkExpiry (expiryMs: bigint, nowMs: number): Result<void, IngressError> {
  const now = BigInt(Math.floor(nowMs))
  if (expiryMs <= now) return refuse('expired', `message expired: expiry ${expiryMs} ms <= now ${now} ms`)
  const ahead = expiryMs - now
  const aheadMax = BigInt(ingressTtlMaxMs + ingressExpiryDriftMs)
  if (ahead > aheadMax) return refuse('expiry-too-far', `expiry too far ahead: ${ahead} ms > ${aheadMax} ms (TTL ${ingressTtlMaxMs} + drift ${ingressExpiryDriftMs})`)
  return ok(undefined)
}

/** The canonical wire form of a content (optional keys omitted, never `undefined`). */
function wireOf (content: IngressContent): Record<string, unknown> {
  const wire: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(content)) if (value !== undefined) wire[key] = value
  return wire
}

/**
 * Signs a content as `signer` and returns the message with its exact bytes and ids.
 * Pre: content.sender === signer.id and the content is within limits (a violation is a bug: throws).
 */
export function signIngress (content: IngressContent, signer: Signer): Ingress {
  if (content.sender !== signer.id) throw new RangeError(`ingress sender ${content.sender} is not the signer ${signer.id}`)
  const wire = wireOf(content)
  const checked = parseContent(wire)
  if (!checked.ok) throw new RangeError(`invalid ingress content: ${checked.error.message}`)
  const signature = signer.sign(ingressDomain, wire)
  const bytes = encode({ content: wire, signature })
  if (bytes.length > ingressBytesMax) throw new RangeError(`ingress too large: ${bytes.length} > ${ingressBytesMax} bytes`)
  return { content: checked.value, signature, bytes, id: ingressIdOf(bytes), requestId: requestIdOf(wire) }
}

/** The IngressId of envelope bytes: the string of their CID (dag-cbor, sha2-256, base32). */
export function ingressIdOf (bytes: Uint8Array): IngressId {
  return cidStringOfBytes(bytes) as IngressId
}

function requestIdOf (wire: unknown): RequestId {
  return sha256Hex(signingBytes(ingressDomain, wire)) as RequestId
}

// The canonical envelope is the map { content, signature } in dag-cbor key order, so its bytes are
// `envelopeHead ‖ content ‖ envelopeMiddle ‖ signature`, and the signed bytes `[domain, content]`
// are `signedHead ‖ content`. Both layouts are taken from the codec itself (a placeholder content
// and signature), not written out by hand. Slicing replaces two re-encodings of the content.
const envelopeShape = encode({ content: null, signature: new Uint8Array(ed25519SignatureBytes) })
const contentAt = envelopeShape.indexOf(0xf6) // the placeholder null content
const envelopeHead = envelopeShape.subarray(0, contentAt)
const envelopeTail = envelopeShape.length - contentAt - 1 // bytes after the content: key, head, signature
const envelopeMiddle = envelopeShape.subarray(contentAt + 1, envelopeShape.length - ed25519SignatureBytes)
const signedShape = signingBytes(ingressDomain, null)
const signedHead = signedShape.subarray(0, signedShape.length - 1)

/**
 * The content's bytes inside a canonical envelope of exactly { content, signature: 64 bytes }, or
 * undefined if the bytes do not have that layout (impossible for such an envelope; checked so that
 * a codec change could never make us verify a signature over the wrong bytes).
 */
function contentBytesOf (bytes: Uint8Array): Uint8Array | undefined {
  const end = bytes.length - envelopeTail
  if (end <= contentAt) return undefined
  for (let i = 0; i < envelopeHead.length; i++) if (bytes[i] !== envelopeHead[i]) return undefined
  for (let i = 0; i < envelopeMiddle.length; i++) if (bytes[end + i] !== envelopeMiddle[i]) return undefined
  return bytes.subarray(contentAt, end)
}

/**
 * The bytes the signature of canonical envelope `bytes` covers, `signingBytes(ingressDomain,
 * content)`, copied out of the envelope instead of re-encoded; undefined if `bytes` are not laid
 * out as a canonical { content, signature } envelope. Pre: decodeIngress accepted the layout
 * (this checks the fixed bytes around the content, not the content itself).
 */
export function ingressSignedBytes (bytes: Uint8Array): Uint8Array | undefined {
  const content = contentBytesOf(bytes)
  if (content === undefined) return undefined
  const signed = new Uint8Array(signedHead.length + content.length)
  signed.set(signedHead)
  signed.set(content, signedHead.length)
  return signed
}

export interface DecodeIngressOptions {
  /** ingressIdOf(bytes) when the caller already computed it (the mempool does, to drop duplicates cheaply). */
  id?: IngressId
  /**
   * Whether to verify the signature of the request with this RequestId (see checksSignature); false
   * leaves it unchecked and every other check in place. @default every signature is verified
   */
  checkSignature?: (requestId: RequestId) => boolean
}

/**
 * Whether subnet member `member` (of n = 3f+1) checks the client signature of request `requestId`
 * before voting for a block that carries it. Exactly f members skip each request, chosen by its
 * RequestId: any quorum of 2f+1 voters then holds at least f+1 checkers, so at least one honest
 * checker, who votes for no block with a forged envelope. No forged envelope is ever notarized,
 * so none is finalized, and what a member did not check it may execute unchecked. This saves one
 * Ed25519 check in four per update on a 4-member subnet (the checks were half of a replica's CPU).
 * A member still checks every envelope it proposes and every envelope a client sends it.
 */
export function checksSignature (requestId: RequestId, member: number, n: number, f: number): boolean {
  const first = Number.parseInt(requestId.slice(0, 8), 16) % n
  return (member - first + n) % n >= f
}

/** Verifies the client signature of an envelope decodeIngress left unchecked (its bytes decoded already). */
export function verifyIngressSignature (ingress: Ingress): boolean {
  const signed = ingressSignedBytes(ingress.bytes)
  return signed !== undefined && verifyBytesBy(ingress.content.sender, signed, ingress.signature)
}

/**
 * Decodes untrusted envelope bytes received at `nowMs` (the node's clock, or a block's consensus
 * time when executing). Checks, cheapest first: total size, dag-cbor and its canonical form, shape
 * and per-field limits, expiry window, then the signature. Never throws.
 */
export function decodeIngress (bytes: Uint8Array, nowMs: number, options: DecodeIngressOptions = {}): Result<Ingress, IngressError> {
  if (!(bytes instanceof Uint8Array)) return refuse('malformed', 'ingress must be bytes')
  if (bytes.length > ingressBytesMax) return refuse('too-large', `ingress too large: ${bytes.length} > ${ingressBytesMax} bytes`)
  // Non-canonical bytes (unsorted keys, float-encoded integers…) would give one request many ids.
  const decoded = decodeCanonical(bytes, { bytesMax: ingressBytesMax })
  if (!decoded.ok) return refuse('malformed', `ingress: ${decoded.error}`)
  const envelope = decoded.value
  if (!isRecord(envelope) || !hasOnlyKeys(envelope, ['content', 'signature'])) return refuse('malformed', 'ingress must be a map of exactly { content, signature }')
  const { content: wire, signature } = envelope
  if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return refuse('malformed', `signature must be ${ed25519SignatureBytes} bytes`)
  const content = parseContent(wire)
  if (!content.ok) return content
  const expiry = checkExpiry(content.value.expiryMs, nowMs)
  if (!expiry.ok) return expiry
  const signed = ingressSignedBytes(bytes)
  if (signed === undefined) return refuse('malformed', 'ingress envelope is not laid out as { content, signature }')
  const requestId = sha256Hex(signed) as RequestId
  if (options.checkSignature?.(requestId) !== false && !verifyBytesBy(content.value.sender, signed, signature)) return refuse('bad-signature', `bad signature: not by sender ${content.value.sender}`)
  return ok({ content: content.value, signature, bytes, id: options.id ?? ingressIdOf(bytes), requestId })
}

/**
 * Actor and subnet id strings that parsed before, with what they parsed to (a CID string parse and
 * re-print costs about 3 µs; the same few actors receive most calls). A pure memo like signature.ts's keys by peer id.
 */
const parsedIds = new Map<string, string>()

function parseIdMemo<T extends string> (value: unknown, parse: (value: unknown) => Result<T>, tag: string): Result<T> {
  if (typeof value !== 'string') return parse(value)
  const key = tag + value
  const known = parsedIds.get(key)
  if (known !== undefined) return ok(known as T)
  const parsed = parse(value)
  if (!parsed.ok) return parsed
  if (parsedIds.size >= ingressIdsParsedCachedMax) parsedIds.delete(parsedIds.keys().next().value!)
  parsedIds.set(key, parsed.value)
  return parsed
}

function parseContent (wire: unknown): Result<IngressContent, IngressError> {
  if (!isRecord(wire)) return refuse('malformed', 'ingress content must be a map')
  const kind = wire.kind
  if (typeof kind !== 'string' || !Object.hasOwn(keysOf, kind)) return refuse('malformed', `unknown ingress kind: ${JSON.stringify(String(kind).slice(0, 16))}`)
  const keys = keysOf[kind as IngressKind]
  const extra = Object.keys(wire).find(key => !keys.includes(key))
  if (extra !== undefined) return refuse('malformed', `unexpected field in ${kind}: ${JSON.stringify(extra.slice(0, 32))}`)
  const common = parseCommon(wire)
  if (!common.ok) return common
  let subnet: SubnetId | undefined
  if (wire.subnet !== undefined) {
    const parsed = parseIdMemo(wire.subnet, parseSubnetId, 's')
    if (!parsed.ok) return refuse('malformed', parsed.error)
    subnet = parsed.value
  }
  if (kind === 'install') return parseInstall(wire, common.value, subnet)
  const actor = parseIdMemo(wire.actor, parseActorId, 'a')
  if (!actor.ok) return refuse('malformed', actor.error)
  if (subnet !== undefined && subnet !== subnetOfActorId(actor.value)) return refuse('malformed', `subnet ${subnet} is not the actor's subnet ${subnetOfActorId(actor.value)}`)
  const at = { ...common.value, ...(subnet === undefined ? {} : { subnet }), actor: actor.value }
  if (kind === 'delete') return ok({ kind, ...at })
  if (kind === 'upgrade') {
    const code = parseCode(wire.code)
    if (!code.ok) return code
    const arg = parsePayload(wire.arg, 'arg')
    return arg.ok ? ok({ kind, ...at, code: code.value, arg: arg.value }) : arg
  }
  const method = wire.method
  if (typeof method !== 'string' || method.length === 0 || method.length > ingressMethodCharsMax) {
    return refuse(typeof method === 'string' && method.length > ingressMethodCharsMax ? 'too-large' : 'malformed', `method must be 1..${ingressMethodCharsMax} characters, got ${typeof method === 'string' ? method.length : typeof method}`)
  }
  const payload = parsePayload(wire.payload, 'payload')
  return payload.ok ? ok({ kind: kind as 'update' | 'query', ...at, method, payload: payload.value }) : payload
}

function parseCommon (wire: Record<string, unknown>): Result<IngressCommon, IngressError> {
  const expiry = wire.expiryMs
  if (!(typeof expiry === 'bigint' || (typeof expiry === 'number' && Number.isSafeInteger(expiry))) || BigInt(expiry) < 0n) {
    return refuse('malformed', 'expiryMs must be a non-negative integer (ms since the Unix epoch)')
  }
  const nonce = wire.nonce
  if (!(nonce instanceof Uint8Array)) return refuse('malformed', 'nonce must be bytes')
  if (nonce.length > ingressNonceBytesMax) return refuse('too-large', `nonce too large: ${nonce.length} > ${ingressNonceBytesMax} bytes`)
  // A sender whose key is cached was parsed as a principal before (parsing is a base58 decode).
  const sender = typeof wire.sender === 'string' && keyOfPeerHeld(wire.sender) ? ok(wire.sender as Principal) : parsePrincipal(wire.sender)
  if (!sender.ok) return refuse('malformed', `sender: ${sender.error}`)
  return ok({ expiryMs: BigInt(expiry), nonce, sender: sender.value })
}

function parseInstall (wire: Record<string, unknown>, common: IngressCommon, subnet: SubnetId | undefined): Result<IngressInstall, IngressError> {
  if (subnet === undefined) return refuse('malformed', 'install must name its subnet')
  const code = parseCode(wire.code)
  if (!code.ok) return code
  const arg = parsePayload(wire.arg, 'arg')
  if (!arg.ok) return arg
  const name = wire.name
  if (typeof name !== 'string' || name.length === 0 || name.length > ingressActorNameCharsMax) return refuse('malformed', `actor name must be 1..${ingressActorNameCharsMax} characters`)
  const list = wire.controllers
  if (!Array.isArray(list)) return refuse('malformed', 'controllers must be a list of principals')
  if (list.length > ingressControllersMax) return refuse('too-large', `too many controllers: ${list.length} > ${ingressControllersMax}`)
  const controllers: Principal[] = []
  for (const entry of list) {
    const principal = parsePrincipal(entry)
    if (!principal.ok) return refuse('malformed', `controller: ${principal.error}`)
    if (controllers.includes(principal.value)) return refuse('malformed', `duplicate controller ${principal.value}`)
    controllers.push(principal.value)
  }
  return ok({ kind: 'install', subnet, code: code.value, arg: arg.value, name, controllers, ...common })
}

function parseCode (value: unknown): Result<CID, IngressError> {
  const cid = CID.asCID(value)
  if (cid === null) return refuse('malformed', 'code must be a CID')
  // Code is named by the raw-bytes CID of the component (codec.ts rawCidOf).
  if (cid.version !== 1 || cid.code !== 0x55 || cid.multihash.code !== 0x12) return refuse('malformed', `code must be a raw sha2-256 CIDv1, got ${cid.toString().slice(0, 24)}`)
  return ok(cid)
}

function parsePayload (value: unknown, what: string): Result<Uint8Array, IngressError> {
  if (!(value instanceof Uint8Array)) return refuse('malformed', `${what} must be bytes`)
  if (value.length > ingressPayloadBytesMax) return refuse('too-large', `${what} too large: ${value.length} > ${ingressPayloadBytesMax} bytes`)
  return ok(value)
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && CID.asCID(value) === null
}

function hasOnlyKeys (value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value)
  return own.length === keys.length && keys.every(key => Object.hasOwn(value, key))
}

export interface BlockIngressOptions {
  /** The subnet executing the block; messages for any other are skipped. */
  subnet: SubnetId
  /** Consensus time of the block (ms): expiry is judged against it, never against a local clock. */
  blockTimeMs: number
  /**
   * Whether the request ran in an earlier, finalized block and has not expired: the replicated
   * ingress history, which is the authority on replays (a mempool's memory is only a filter, and a
   * faulty leader may propose anything).
   */
  executed: (requestId: RequestId) => boolean
  /**
   * Envelopes this replica already decoded and signature-checked, by IngressId (the hash of the
   * exact bytes, signature included), or left unchecked where checksSignature lets this member skip
   * them (sound for a finalized block: no quorum votes for a forged envelope): they skip the
   * signature check, not the expiry check. @default none
   */
  verified?: (id: IngressId) => Ingress | undefined
  /**
   * The block's envelopes already decoded (and signature-checked, or skipped as `verified` says) by this replica, in block order
   * (one per envelope, each made from exactly those bytes: the proposer's batch, or what verify
   * decoded). They skip the hashing, the lookup and the signature check, not the expiry check; a
   * list of another length is ignored. @default none
   */
  decoded?: readonly Ingress[]
}

export interface BlockIngressSelection {
  /** Messages to execute, in block order. */
  execute: Ingress[]
  /** Messages refused, with their position in the block, so receipts can say why. */
  skipped: Array<{ index: number, reason: IngressRefusal | 'query' | 'wrong-subnet' | 'replay', message: string }>
}

/**
 * Which envelopes of a finalized block run, decided identically on every replica: each must decode
 * and verify at the block's time, be an update/install/upgrade/delete for this subnet, and be a
 * request neither executed before nor earlier in the same block (whatever its signature).
 */
export function selectBlockIngress (envelopes: readonly Uint8Array[], options: BlockIngressOptions): BlockIngressSelection {
  const selection: BlockIngressSelection = { execute: [], skipped: [] }
  const inBlock = new Set<RequestId>()
  const held = options.decoded?.length === envelopes.length ? options.decoded : undefined
  for (const [index, bytes] of envelopes.entries()) {
    const known = held?.[index] ?? options.verified?.(ingressIdOf(bytes))
    const decoded = known !== undefined && (known === held?.[index] || Buffer.from(known.bytes).equals(bytes)) ? knownAt(known, options.blockTimeMs) : decodeIngress(bytes, options.blockTimeMs)
    if (!decoded.ok) {
      selection.skipped.push({ index, ...decoded.error })
      continue
    }
    const { content, requestId } = decoded.value
    if (content.kind === 'query') selection.skipped.push({ index, reason: 'query', message: 'queries do not go through consensus' })
    else if (subnetOfIngress(content) !== options.subnet) selection.skipped.push({ index, reason: 'wrong-subnet', message: `message is for subnet ${subnetOfIngress(content)}` })
    else if (inBlock.has(requestId) || options.executed(requestId)) selection.skipped.push({ index, reason: 'replay', message: `request ${requestId} already executed` })
    else {
      inBlock.add(requestId)
      selection.execute.push(decoded.value)
    }
  }
  return selection
}

/** A verified message judged again at another time: only its expiry can change the verdict. */
function knownAt (ingress: Ingress, nowMs: number): Result<Ingress, IngressError> {
  const expiry = checkExpiry(ingress.content.expiryMs, nowMs)
  return expiry.ok ? ok(ingress) : expiry
}
