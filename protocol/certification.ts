// Certified state: replicas sign (subnet, height, state root, receipts root); 2f+1 member
// signatures make a certificate, and a certificate plus a receipt's inclusion proof is a response
// a client verifies knowing only the subnet's genesis. Pure; never throws on untrusted input.

import { decode, encode, sha256Hex } from './codec.ts'
import { height as toHeight, parseSubnetId, type Height, type SubnetId } from './ids.ts'
import { certifiedResponseBytesMax, subnetMembersMax, subnetRecordBytesMax } from './limits.ts'
import { err, ok, type Result } from './result.ts'
import { ed25519SignatureBytes, verifyBy, type Signer } from './signature.ts'
import { decodeReceiptProof, encodeReceiptProof, verifyReceiptProof, type ReceiptProof } from './state/receipts-root.ts'
import type { Subnet } from './subnet.ts'

/** Domain tag of a replica's signature over a certified state. */
export const certifyDomain = 'pylon/certify/v1'

const rootBytes = 32
const u64Max = (1n << 64n) - 1n

/** What replicas certify after executing a height: both roots are 32-byte hashes (protocol/state). */
export interface CertifiedState {
  subnet: SubnetId
  height: Height
  stateRoot: Uint8Array
  receiptsRoot: Uint8Array
}

/**
 * At least a quorum of member signatures over one CertifiedState. Signers are indexes into the
 * genesis member list (as in consensus certificates), strictly ascending; signatures[i] is by
 * signers[i].
 */
export interface StateCertificate {
  state: CertifiedState
  signers: number[]
  signatures: Uint8Array[]
}

/** What a client gets back for an update: its receipt, where it sits under the receipts root, and the certificate. */
export interface CertifiedResponse {
  /** The receipt's exact encoded bytes (encodeReceipt; it names the RequestId of the message it answers). */
  receipt: Uint8Array
  proof: ReceiptProof
  certificate: StateCertificate
}

/** A replica's signature over a state it computed. */
export function signCertification (state: CertifiedState, signer: Signer): Uint8Array {
  return signer.sign(certifyDomain, wireOf(state))
}

/** Exactly the four signed fields, whatever else a caller's object carries. */
function wireOf (state: CertifiedState): CertifiedState {
  return { subnet: state.subnet, height: state.height, stateRoot: state.stateRoot, receiptsRoot: state.receiptsRoot }
}

/** One replica's signature over a state: what replicas exchange before a certificate exists. */
export interface CertificationShare {
  state: CertifiedState
  /** The signer's index in the genesis member list. */
  signer: number
  signature: Uint8Array
}

/** Is the share a member's valid signature over a state of this subnet? Check before counting it. */
export function verifyCertificationShare (subnet: Subnet, share: CertificationShare): boolean {
  const member = subnet.memberIds[share.signer]
  return member !== undefined && share.state.subnet === subnet.id && verifyBy(member, certifyDomain, wireOf(share.state), share.signature)
}

/**
 * Builds a certificate for `state` from shares (signer index → signature), keeping only valid
 * member shares. Error when fewer than a quorum are valid, naming how many there are.
 */
export function certificateOf (subnet: Subnet, { state, shares }: { state: CertifiedState, shares: ReadonlyMap<number, Uint8Array> }): Result<StateCertificate> {
  const valid = new Map([...shares].filter(([signer, signature]) => verifyCertificationShare(subnet, { state, signer, signature })))
  return assembleCertificate(subnet, { state, shares: valid })
}

/**
 * A certificate from shares over `state` that were each verified already (a replica checks every
 * share as it arrives, and signs its own): counts them, verifies nothing again.
 */
export function assembleCertificate (subnet: Subnet, { state, shares }: { state: CertifiedState, shares: ReadonlyMap<number, Uint8Array> }): Result<StateCertificate> {
  const signers = [...shares.keys()].sort((a, b) => a - b)
  if (signers.length < subnet.quorum) return err(`only ${signers.length} valid member signatures for height ${state.height}, a certificate needs ${subnet.quorum}`)
  return ok({ state: wireOf(state), signers, signatures: signers.map(i => shares.get(i)!) })
}

/**
 * Checks a certificate against a subnet: same subnet, well-formed roots and height, signers
 * strictly ascending member indexes, at least a quorum of them, and every signature valid.
 */
export function verifyCertificate (cert: StateCertificate, subnet: Subnet): Result<StateCertificate> {
  const shape = checkState(cert.state)
  if (!shape.ok) return shape
  if (cert.state.subnet !== subnet.id) return err(`certificate is for subnet ${cert.state.subnet}, not ${subnet.id}`)
  const { signers, signatures } = cert
  const signed = wireOf(cert.state)
  if (!Array.isArray(signers) || !Array.isArray(signatures) || signers.length !== signatures.length) return err('certificate signers and signatures must be lists of equal length')
  if (signers.length < subnet.quorum) return err(`certificate has ${signers.length} signatures, needs ${subnet.quorum} of ${subnet.memberIds.length} members`)
  for (let i = 0; i < signers.length; i++) {
    const signer = signers[i]!
    if (!Number.isSafeInteger(signer) || signer < 0 || signer >= subnet.memberIds.length) return err(`certificate signer ${String(signer)} is not a member (n = ${subnet.memberIds.length})`)
    if (i > 0 && signer <= signers[i - 1]!) return err('certificate signers must be strictly ascending (no duplicates)')
    const signature = signatures[i]
    if (!(signature instanceof Uint8Array) || signature.length !== ed25519SignatureBytes) return err(`certificate signature ${i} must be ${ed25519SignatureBytes} bytes`)
    if (!verifyBy(subnet.memberIds[signer]!, certifyDomain, signed, signature)) return err(`bad certificate signature of member ${signer} (${subnet.memberIds[signer]!})`)
  }
  return ok(cert)
}

/**
 * Certificates a client already verified against one subnet, keyed by certificateMemoKey: every
 * answer of one height carries the same certificate, and checking its quorum of signatures again
 * for each (~0.47 ms) cost a client reading a stream of answers more than the node spent on them.
 * A pure memo (a hit and a miss give the same verdict); the caller owns and bounds it.
 */
export interface CertificateMemo {
  has (key: string): boolean
  set (key: string, value: true): unknown
}

/** The memo key of a certificate checked against `subnet`: the subnet and the hash of the certificate's canonical bytes. */
export function certificateMemoKey (cert: StateCertificate, subnet: Subnet): string {
  return `${subnet.id}/${sha256Hex(encode(cert))}`
}

/**
 * What a client checks: the certificate is the subnet's, and the receipt is under its receipts
 * root (with `memo`, a certificate verified before is not checked again). Returns the receipt bytes and height; the caller then decodes the receipt and checks it
 * names the RequestId of the envelope it sent (node/cli/client.ts verifyIngressResult).
 */
export function verifyCertifiedResponse (response: CertifiedResponse, subnet: Subnet, memo?: CertificateMemo): Result<{ receipt: Uint8Array, height: Height }> {
  const key = memo === undefined ? undefined : certificateMemoKey(response.certificate, subnet)
  const cert = key !== undefined && memo!.has(key) ? ok(response.certificate) : verifyCertificate(response.certificate, subnet)
  if (!cert.ok) return cert
  if (key !== undefined) memo!.set(key, true)
  if (!(response.receipt instanceof Uint8Array)) return err('receipt must be bytes')
  const proof = verifyReceiptProof(cert.value.state.receiptsRoot, response.receipt, response.proof)
  if (!proof.ok) return proof
  return ok({ receipt: response.receipt, height: cert.value.state.height })
}

export function encodeCertificate (cert: StateCertificate): Uint8Array {
  return encode(cert)
}

/** Decodes an untrusted certificate: size, shape and bounds (signatures are checked by verifyCertificate). */
export function decodeCertificate (bytes: Uint8Array): Result<StateCertificate> {
  const decoded = decode(bytes, { bytesMax: subnetRecordBytesMax })
  if (!decoded.ok) return err(`certificate: ${decoded.error}`)
  return parseCertificate(decoded.value)
}

/** Canonical bytes of a certified response: `{ receipt, proof: <encoded proof>, certificate }`. */
export function encodeCertifiedResponse (response: CertifiedResponse): Uint8Array {
  return encode({ receipt: response.receipt, proof: encodeReceiptProof(response.proof), certificate: response.certificate })
}

export function decodeCertifiedResponse (bytes: Uint8Array): Result<CertifiedResponse> {
  const decoded = decode(bytes, { bytesMax: certifiedResponseBytesMax })
  if (!decoded.ok) return err(`certified response: ${decoded.error}`)
  const value = decoded.value
  if (!isRecord(value) || !hasOnlyKeys(value, ['receipt', 'proof', 'certificate'])) return err('certified response must be a map of exactly { receipt, proof, certificate }')
  if (!(value.receipt instanceof Uint8Array)) return err('receipt must be bytes')
  if (!(value.proof instanceof Uint8Array)) return err('proof must be bytes')
  const proof = decodeReceiptProof(value.proof)
  if (!proof.ok) return proof
  const certificate = parseCertificate(value.certificate)
  if (!certificate.ok) return certificate
  return ok({ receipt: value.receipt, proof: proof.value, certificate: certificate.value })
}

function parseCertificate (value: unknown): Result<StateCertificate> {
  if (!isRecord(value) || !hasOnlyKeys(value, ['state', 'signers', 'signatures'])) return err('certificate must be a map of exactly { state, signers, signatures }')
  const { state, signers, signatures } = value
  if (!isRecord(state) || !hasOnlyKeys(state, ['subnet', 'height', 'stateRoot', 'receiptsRoot'])) return err('certified state must be a map of exactly { subnet, height, stateRoot, receiptsRoot }')
  const subnet = parseSubnetId(state.subnet)
  if (!subnet.ok) return subnet
  const h = state.height
  if (!(typeof h === 'bigint' || Number.isSafeInteger(h))) return err('height must be an integer')
  const parsed: CertifiedState = { subnet: subnet.value, height: BigInt(h as number | bigint) as Height, stateRoot: state.stateRoot as Uint8Array, receiptsRoot: state.receiptsRoot as Uint8Array }
  const shape = checkState(parsed)
  if (!shape.ok) return shape
  if (!Array.isArray(signers) || !Array.isArray(signatures)) return err('signers and signatures must be lists')
  if (signers.length > subnetMembersMax || signatures.length > subnetMembersMax) return err(`certificate lists more than ${subnetMembersMax} signatures`)
  return ok({ state: { ...parsed, height: toHeight(parsed.height) }, signers: signers as number[], signatures: signatures as Uint8Array[] })
}

function checkState (state: CertifiedState): Result<true> {
  if (typeof state.height !== 'bigint' || state.height < 1n || state.height > u64Max) return err('certified height must be a u64 >= 1')
  if (!(state.stateRoot instanceof Uint8Array) || state.stateRoot.length !== rootBytes) return err(`state root must be ${rootBytes} bytes`)
  if (!(state.receiptsRoot instanceof Uint8Array) || state.receiptsRoot.length !== rootBytes) return err(`receipts root must be ${rootBytes} bytes`)
  return ok(true)
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

function hasOnlyKeys (value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value)
  return own.length === keys.length && keys.every(key => Object.hasOwn(value, key))
}
