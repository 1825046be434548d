// The contract between the consensus driver and the application it orders blocks for (the subnet
// service): what the driver asks (propose, verify, finalize, tip) and how finalized blocks and
// certificates are encoded in the Store. It never runs consensus and never touches the network.

import { decode, encode, sha256Bytes } from '../../protocol/codec.ts'
import { consensusMessageBytesMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { blockHash, blockValue, decodeMessage, encodeMessage, parseBlock, type Block, type Certificate } from '../../protocol/consensus/messages.ts'
import type { FinalizedTip } from '../../protocol/consensus/replica.ts'
import { encodeGenesis, type SignedGenesis } from '../../protocol/subnet.ts'
import type { Height } from '../../protocol/ids.ts'
import type { Store } from '../store/store.ts'

export type { Block, Certificate, FinalizedTip }

/** Where the application's store stands: the last finalized block and the certificate that finalized it. */
export interface ApplicationTip {
  /** Genesis (height 0, view 0, hash = the subnet's genesis hash) for a fresh store. */
  tip: FinalizedTip
  /** The finalization certificate of `tip` (absent at genesis). */
  certificate?: Certificate
}

/**
 * What the ConsensusDriver calls. The driver calls these from one task at a time per method kind,
 * never concurrently with itself for `finalize`, and never holds the replica while awaiting
 * `propose`/`verify` (their answers are fed back as events; late answers are ignored).
 */
export interface ConsensusApplication {
  /**
   * The payload for a block at `height` extending block `parent` (e.g. an ingress batch). At most
   * consensusPayloadBytesMax bytes (a larger one is refused by the replica: the view times out).
   * Aborted through `signal` when the driver stops. An empty payload is a valid answer.
   */
  propose (parent: Uint8Array, height: bigint, options: { signal?: AbortSignal }): Promise<Uint8Array>
  /**
   * Deterministic: may this block's payload be executed? Every honest replica must reach the same
   * verdict from the block alone (plus finalized state), since a refusal makes this replica
   * nullify the view. Must not throw for bad payloads: answer false.
   */
  verify (block: Block, options: { signal?: AbortSignal }): Promise<boolean>
  /**
   * Executes and commits a finalized block, called exactly once per height in height order
   * (heights already committed before a restart are not repeated: `tip()` says where to resume).
   * Resolves once durable: the store must hold `block` and `certificate` under `height`, encoded
   * with encodeStoredBlock / encodeStoredCertificate (the driver serves catch-up from them).
   * Must not wait for anything consensus produces later (the driver awaits it before going on).
   * A rejection is fatal for the driver (it halts: the store and consensus would disagree).
   */
  finalize (height: bigint, block: Block, certificate: Certificate): Promise<void>
  /** The last finalized tip the store holds (recovery point after a restart). */
  tip (): Promise<ApplicationTip>
}

// ── How finalized blocks and certificates are stored (HeightCommit.block / .certificate) ─────────

/** The block's canonical dag-cbor encoding: its sha2-256 is the block hash. */
export function encodeStoredBlock (block: Block): Uint8Array {
  return encode(blockValue(block))
}

export function decodeStoredBlock (bytes: Uint8Array): Result<{ block: Block, hash: Uint8Array }> {
  const value = decode(bytes, { bytesMax: consensusMessageBytesMax })
  if (!value.ok) return err(`stored block: ${value.error}`)
  const block = parseBlock(value.value)
  if (!block.ok) return err(`stored block: ${block.error}`)
  return ok({ block: block.value, hash: blockHash(block.value) })
}

export function encodeStoredCertificate (certificate: Certificate): Uint8Array {
  return encodeMessage(certificate)
}

export function decodeStoredCertificate (bytes: Uint8Array): Result<Certificate> {
  const message = decodeMessage(bytes)
  if (!message.ok) return err(`stored certificate: ${message.error}`)
  const m = message.value
  if (m.kind !== 'finalization') return err(`stored certificate must be a finalization, got ${m.kind}`)
  return ok(m)
}

/** The hash of height 0: sha2-256 of the signed genesis bytes (the parent of the block at height 1). */
export function genesisHashOf (genesis: SignedGenesis): Uint8Array {
  return sha256Bytes(encodeGenesis(genesis))
}

/**
 * The tip a Store holds, read from what finalize() committed: genesis for an empty store. A helper
 * for ConsensusApplication.tip(). Throws StoreError-like Error if the stored bytes are corrupt
 * (own disk: that is not peer input, so the node must not run on).
 */
export async function tipFromStore (store: Store, genesisHash: Uint8Array): Promise<ApplicationTip> {
  if (store.height === 0n) return { tip: { height: 0n, view: 0n, hash: genesisHash } }
  const record = await store.getHeight(store.height as Height)
  if (record?.block == null || record.certificate == null) {
    throw new Error(`store height ${store.height} has no block or certificate: it was not committed by the consensus driver (state sync without a chain is not supported yet)`)
  }
  const block = decodeStoredBlock(record.block)
  if (!block.ok) throw new Error(`store height ${store.height}: ${block.error}`)
  const certificate = decodeStoredCertificate(record.certificate)
  if (!certificate.ok) throw new Error(`store height ${store.height}: ${certificate.error}`)
  return { tip: { height: block.value.block.height, view: block.value.block.view, hash: block.value.hash }, certificate: certificate.value }
}
