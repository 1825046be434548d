// Simplex wire types: blocks, votes, certificates and catch-up requests, their canonical encoding,
// signing domains and the decoder for untrusted bytes. Never verifies signatures (certificate.ts
// and replica.ts do) and never throws on bad input: decoders return a Result.

import { decode, encode, sha256Bytes } from '../codec.ts'
import {
  consensusFetchItemsMax, consensusMembersMax, consensusMessageBytesMax, consensusPayloadBytesMax, nodeIdCharsMax, cidCharsMax
} from '../limits.ts'
import { err, ok, type Result } from '../result.ts'
import { ed25519SignatureBytes } from '../signature.ts'

/** Domain tags: a signature made for one vote kind can never be replayed as another. */
export const domains = {
  notarize: 'pylon/notarize/v1',
  nullify: 'pylon/nullify/v1',
  finalize: 'pylon/finalize/v1'
} as const

export const hashBytes = 32

/** A block. `parent` is the hash of the parent block (the subnet's genesis hash at height 1). */
export interface Block {
  subnet: string
  view: bigint
  height: bigint
  parent: Uint8Array
  /** Opaque to consensus: the application's batch (e.g. ingress). */
  payload: Uint8Array
  /** NodeId of the view's leader. */
  proposer: string
}

export type VoteKind = 'notarize' | 'nullify' | 'finalize'

/** A signed vote. `block` is absent for nullify. `signer` indexes the subnet's member list. */
export interface Vote {
  kind: VoteKind
  view: bigint
  block?: Uint8Array
  signer: number
  signature: Uint8Array
}

export type CertificateKind = 'notarization' | 'nullification' | 'finalization'

/** 2f+1 votes of one kind for one (view, block): signers ascending, one signature each. */
export interface Certificate {
  kind: CertificateKind
  view: bigint
  block?: Uint8Array
  signers: number[]
  signatures: Uint8Array[]
}

/** The leader's block together with its own notarize vote for it. */
export interface Proposal { kind: 'proposal', block: Block, vote: Vote }
/** Catch-up: ask for blocks by hash and for the certificate that settled each listed view. */
export interface Request { kind: 'request', blocks: Uint8Array[], views: bigint[] }
/** Answer to a request: blocks only; certificates travel as their own messages. */
export interface Blocks { kind: 'blocks', blocks: Block[] }

export type Message = Vote | Certificate | Proposal | Request | Blocks

export const voteKindOfCertificate: Record<CertificateKind, VoteKind> = {
  notarization: 'notarize', nullification: 'nullify', finalization: 'finalize'
}

/** The value a vote signature covers: subnet-scoped so a vote cannot be replayed elsewhere. */
export function voteSigningValue (subnet: string, kind: VoteKind, view: bigint, block: Uint8Array | undefined): unknown {
  return kind === 'nullify' ? [subnet, view] : [subnet, view, block]
}

export function blockValue (block: Block): Record<string, unknown> {
  return { subnet: block.subnet, view: block.view, height: block.height, parent: block.parent, payload: block.payload, proposer: block.proposer }
}

/** The block hash: sha2-256 of the block's canonical dag-cbor encoding. */
export function blockHash (block: Block): Uint8Array {
  return sha256Bytes(encode(blockValue(block)))
}

export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function bytesEqual (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The canonical wire value of a message (the inverse of parseMessage). */
export function messageValue (message: Message): unknown {
  switch (message.kind) {
    case 'notarize': case 'finalize': case 'nullify': return voteValue(message)
    case 'notarization': case 'nullification': case 'finalization': return certificateValue(message)
    case 'proposal': return { kind: 'proposal', block: blockValue(message.block), vote: voteValue(message.vote) }
    case 'request': return { kind: 'request', blocks: message.blocks, views: message.views }
    case 'blocks': return { kind: 'blocks', blocks: message.blocks.map(blockValue) }
  }
}

function voteValue (vote: Vote): unknown {
  const value: Record<string, unknown> = { kind: vote.kind, view: vote.view, signer: vote.signer, signature: vote.signature }
  if (vote.block !== undefined) value['block'] = vote.block
  return value
}

function certificateValue (cert: Certificate): unknown {
  const value: Record<string, unknown> = { kind: cert.kind, view: cert.view, signers: cert.signers, signatures: cert.signatures }
  if (cert.block !== undefined) value['block'] = cert.block
  return value
}

export function encodeMessage (message: Message): Uint8Array {
  return encode(messageValue(message))
}

/** Decodes untrusted bytes into a message whose shape is checked (signatures are not). */
export function decodeMessage (bytes: Uint8Array): Result<Message> {
  const value = decode(bytes, { bytesMax: consensusMessageBytesMax })
  if (!value.ok) return value
  return parseMessage(value.value)
}

// ── Shape checks for untrusted values ───────────────────────────────────────────────────────────

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

/** Refuses keys the schema does not name, so two encodings of one message cannot differ. */
function onlyKeys (value: Record<string, unknown>, keys: readonly string[], what: string): Result<true> {
  for (const key of Object.keys(value)) if (!keys.includes(key)) return err(`${what} has unknown field ${JSON.stringify(key.slice(0, 32))}`)
  return ok(true)
}

/** dag-cbor decodes small integers as numbers and large ones as bigints: accept both. */
function parseU64 (value: unknown, what: string): Result<bigint> {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return ok(BigInt(value))
  if (typeof value === 'bigint' && value >= 0n && value < 2n ** 64n) return ok(value)
  return err(`${what} must be an unsigned 64-bit integer`)
}

function parseBytes (value: unknown, what: string, length?: number, lengthMax?: number): Result<Uint8Array> {
  if (!(value instanceof Uint8Array)) return err(`${what} must be bytes`)
  if (length !== undefined && value.length !== length) return err(`${what} must be ${length} bytes, got ${value.length}`)
  if (lengthMax !== undefined && value.length > lengthMax) return err(`${what} too large: ${value.length} > ${lengthMax} bytes`)
  return ok(value)
}

function parseSigner (value: unknown): Result<number> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= consensusMembersMax) {
    return err(`signer must be a member index 0..${consensusMembersMax - 1}`)
  }
  return ok(value)
}

function parseString (value: unknown, what: string, charsMax: number): Result<string> {
  if (typeof value !== 'string' || value.length === 0 || value.length > charsMax) return err(`${what} must be a string of 1..${charsMax} characters`)
  return ok(value)
}

export function parseBlock (value: unknown): Result<Block> {
  if (!isRecord(value)) return err('block must be a map')
  const keys = onlyKeys(value, ['subnet', 'view', 'height', 'parent', 'payload', 'proposer'], 'block')
  if (!keys.ok) return keys
  const subnet = parseString(value['subnet'], 'block subnet', cidCharsMax)
  if (!subnet.ok) return subnet
  const view = parseU64(value['view'], 'block view')
  if (!view.ok) return view
  const height = parseU64(value['height'], 'block height')
  if (!height.ok) return height
  const parent = parseBytes(value['parent'], 'block parent', hashBytes)
  if (!parent.ok) return parent
  const payload = parseBytes(value['payload'], 'block payload', undefined, consensusPayloadBytesMax)
  if (!payload.ok) return payload
  const proposer = parseString(value['proposer'], 'block proposer', nodeIdCharsMax)
  if (!proposer.ok) return proposer
  if (height.value === 0n) return err('block height must be >= 1 (0 is genesis)')
  return ok({ subnet: subnet.value, view: view.value, height: height.value, parent: parent.value, payload: payload.value, proposer: proposer.value })
}

export function parseVote (value: unknown): Result<Vote> {
  if (!isRecord(value)) return err('vote must be a map')
  const kind = value['kind']
  if (kind !== 'notarize' && kind !== 'nullify' && kind !== 'finalize') return err('vote kind must be notarize, nullify or finalize')
  const keys = onlyKeys(value, kind === 'nullify' ? ['kind', 'view', 'signer', 'signature'] : ['kind', 'view', 'block', 'signer', 'signature'], 'vote')
  if (!keys.ok) return keys
  const view = parseU64(value['view'], 'vote view')
  if (!view.ok) return view
  const signer = parseSigner(value['signer'])
  if (!signer.ok) return signer
  const signature = parseBytes(value['signature'], 'vote signature', ed25519SignatureBytes)
  if (!signature.ok) return signature
  if (kind === 'nullify') return ok({ kind, view: view.value, signer: signer.value, signature: signature.value })
  const block = parseBytes(value['block'], 'vote block hash', hashBytes)
  if (!block.ok) return block
  return ok({ kind, view: view.value, block: block.value, signer: signer.value, signature: signature.value })
}

export function parseCertificate (value: unknown): Result<Certificate> {
  if (!isRecord(value)) return err('certificate must be a map')
  const kind = value['kind']
  if (kind !== 'notarization' && kind !== 'nullification' && kind !== 'finalization') return err('certificate kind must be notarization, nullification or finalization')
  const keys = onlyKeys(value, kind === 'nullification' ? ['kind', 'view', 'signers', 'signatures'] : ['kind', 'view', 'block', 'signers', 'signatures'], 'certificate')
  if (!keys.ok) return keys
  const view = parseU64(value['view'], 'certificate view')
  if (!view.ok) return view
  const signers = value['signers']
  const signatures = value['signatures']
  if (!Array.isArray(signers) || !Array.isArray(signatures)) return err('certificate signers and signatures must be lists')
  if (signers.length > consensusMembersMax) return err(`certificate has too many signers: ${signers.length} > ${consensusMembersMax}`)
  if (signers.length !== signatures.length) return err(`certificate lists ${signers.length} signers but ${signatures.length} signatures`)
  const cert: Certificate = { kind, view: view.value, signers: [], signatures: [] }
  for (let i = 0; i < signers.length; i++) {
    const signer = parseSigner(signers[i])
    if (!signer.ok) return signer
    if (i > 0 && signer.value <= cert.signers[i - 1]!) return err('certificate signers must be strictly ascending')
    const signature = parseBytes(signatures[i], 'certificate signature', ed25519SignatureBytes)
    if (!signature.ok) return signature
    cert.signers.push(signer.value)
    cert.signatures.push(signature.value)
  }
  if (kind === 'nullification') return ok(cert)
  const block = parseBytes(value['block'], 'certificate block hash', hashBytes)
  if (!block.ok) return block
  cert.block = block.value
  return ok(cert)
}

function parseList<T> (value: unknown, what: string, parse: (item: unknown) => Result<T>): Result<T[]> {
  if (!Array.isArray(value)) return err(`${what} must be a list`)
  if (value.length > consensusFetchItemsMax) return err(`${what} too long: ${value.length} > ${consensusFetchItemsMax} items`)
  const items: T[] = []
  for (const item of value) {
    const parsed = parse(item)
    if (!parsed.ok) return parsed
    items.push(parsed.value)
  }
  return ok(items)
}

/** Checks the shape of an already-decoded value and builds the typed message. */
export function parseMessage (value: unknown): Result<Message> {
  if (!isRecord(value)) return err('consensus message must be a map')
  switch (value['kind']) {
    case 'notarize': case 'nullify': case 'finalize': return parseVote(value)
    case 'notarization': case 'nullification': case 'finalization': return parseCertificate(value)
    case 'proposal': {
      const keys = onlyKeys(value, ['kind', 'block', 'vote'], 'proposal')
      if (!keys.ok) return keys
      const block = parseBlock(value['block'])
      if (!block.ok) return block
      const vote = parseVote(value['vote'])
      if (!vote.ok) return vote
      if (vote.value.kind !== 'notarize') return err('a proposal carries a notarize vote')
      return ok({ kind: 'proposal', block: block.value, vote: vote.value })
    }
    case 'request': {
      const keys = onlyKeys(value, ['kind', 'blocks', 'views'], 'request')
      if (!keys.ok) return keys
      const blocks = parseList(value['blocks'], 'requested blocks', item => parseBytes(item, 'requested block hash', hashBytes))
      if (!blocks.ok) return blocks
      const views = parseList(value['views'], 'requested views', item => parseU64(item, 'requested view'))
      if (!views.ok) return views
      return ok({ kind: 'request', blocks: blocks.value, views: views.value })
    }
    case 'blocks': {
      const keys = onlyKeys(value, ['kind', 'blocks'], 'blocks')
      if (!keys.ok) return keys
      const blocks = parseList(value['blocks'], 'blocks', parseBlock)
      if (!blocks.ok) return blocks
      return ok({ kind: 'blocks', blocks: blocks.value })
    }
    default: return err('unknown consensus message kind')
  }
}
