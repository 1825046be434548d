// The /pylon/state-sync/1.0.0 stream protocol between members of one subnet: list the checkpoints
// a member holds (manifest + the state certificate of its height), fetch one chunk by (height,
// index), fetch the tip proof of a height (its block up to a block its stored finalization names).
// One request per stream, every frame bounded, every read timed out; membership is checked per
// stream. It never trusts an answer: the client side only decodes, state-sync.ts verifies.

import { lpStream } from '@libp2p/utils'
import { decode, encode } from '../../protocol/codec.ts'
import { bytesEqual } from '../../protocol/consensus/messages.ts'
import { parseSubnetId, type Height, type NodeId, type SubnetId } from '../../protocol/ids.ts'
import {
  checkpointChunkBytesMax, checkpointChunksMax, checkpointManifestBytesMax, checkpointsRetained, stateSyncCheckpointBytesMax, stateSyncRequestBytesMax,
  stateSyncRequestTimeoutMs, stateSyncStreamsMax, stateSyncTipBlocksMax, stateSyncTipBytesMax, subnetRecordBytesMax
} from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { decodeManifest, encodeManifest, type CheckpointManifest } from '../../protocol/state/checkpoint.ts'
import type { Subnet } from '../../protocol/subnet.ts'
import type { Logger } from '../core/logger.ts'
import type { Net, Stream } from '../net/net.ts'
import type { Store } from '../store/store.ts'
import { decodeStoredBlock, decodeStoredCertificate } from '../consensus/application.ts'

export const stateSyncProtocol = '/pylon/state-sync/1.0.0'

/** What a member serves for one subnet: its genesis (membership) and its store (checkpoints, blocks). */
export interface StateSyncSource { subnet: Subnet, store: Store }

/** One checkpoint as a member lists it: the manifest and, when its height got one, the state certificate (encoded). */
export interface CheckpointOffer { manifest: CheckpointManifest, certification: Uint8Array | null }

/** The blocks from a checkpoint height up to one its stored finalization names, and that finalization (all encoded as stored). */
export interface TipProof { blocks: Uint8Array[], certificate: Uint8Array }

export type StateSyncRequest =
  | { kind: 'list', subnet: SubnetId }
  | { kind: 'chunk', subnet: SubnetId, height: Height, index: number }
  | { kind: 'tip', subnet: SubnetId, height: Height }

/** Why a served stream was refused (counted by the server's metrics). */
export type StateSyncRefusal = 'malformed' | 'not-served' | 'non-member'

export interface StateSyncServerInit {
  /** The subnet this node serves, or undefined. */
  lookup: (subnet: SubnetId) => StateSyncSource | undefined
  logger: Logger
  onServed?: (kind: StateSyncRequest['kind'], bytes: number) => void
  onRefused?: (reason: StateSyncRefusal) => void
}

/** Registers the server on `net` (once per Net: the manager does it in its constructor). */
export function handleStateSync (net: Net, init: StateSyncServerInit): void {
  net.handle(stateSyncProtocol, async (stream, peer) => { await serve(net, stream, peer, init) }, { inboundStreamsMax: stateSyncStreamsMax, outboundStreamsMax: stateSyncStreamsMax })
}

async function serve (net: Net, stream: Stream, peer: NodeId, init: StateSyncServerInit): Promise<void> {
  const signal = AbortSignal.timeout(stateSyncRequestTimeoutMs)
  const lp = lpStream(stream, { maxDataLength: Math.max(stateSyncTipBytesMax, checkpointChunkBytesMax, stateSyncCheckpointBytesMax), maxBufferSize: stateSyncTipBytesMax + 64 * 1024 })
  const refuse = (reason: StateSyncRefusal, message: string): void => {
    init.onRefused?.(reason)
    stream.abort(new Error(message))
  }
  let frame: Uint8Array
  try {
    frame = (await lp.read({ signal })).subarray()
  } catch (error) {
    stream.abort(error as Error)
    return
  }
  if (frame.length > stateSyncRequestBytesMax) return refuse('malformed', `state-sync request too large: ${frame.length} > ${stateSyncRequestBytesMax} bytes`)
  const request = decodeRequest(frame)
  if (!request.ok) return refuse('malformed', request.error)
  const source = init.lookup(request.value.subnet)
  if (source === undefined) return refuse('not-served', `subnet ${request.value.subnet} is not served here`)
  if (!source.subnet.memberIds.includes(peer) || peer === net.nodeId) return refuse('non-member', `${peer} is not a member of subnet ${request.value.subnet}`)
  try {
    const answer = await answerFrames(source.store, request.value)
    for (const bytes of answer) await lp.write(bytes, { signal })
    await stream.close({ signal })
    init.onServed?.(request.value.kind, answer.reduce((sum, b) => sum + b.length, 0))
  } catch (error) {
    init.logger.debug('state-sync answer failed', { peer, kind: request.value.kind, error: (error as Error).message })
    stream.abort(error as Error)
  }
}

/** The answer frames: list → a count, then one frame per checkpoint; chunk → its bytes (empty: not held); tip → a proof (empty: none). */
async function answerFrames (store: Store, request: StateSyncRequest): Promise<Uint8Array[]> {
  if (request.kind === 'chunk') {
    return [await store.checkpointChunk(request.height, request.index) ?? new Uint8Array(0)]
  }
  if (request.kind === 'tip') {
    const proof = await tipProofOf(store, request.height)
    return [proof === undefined ? new Uint8Array(0) : encode({ blocks: proof.blocks, certificate: proof.certificate })]
  }
  const frames: Uint8Array[] = []
  for (const manifest of (await store.checkpoints()).slice(0, checkpointsRetained)) {
    const record = await store.getHeight(manifest.height)
    frames.push(encode({ manifest: encodeManifest(manifest), certification: record?.certification ?? null }))
  }
  return [encode({ count: frames.length }), ...frames]
}

/**
 * The block at `height` and its descendants up to the first whose stored finalization names it
 * (usually the block itself; after a catch-up the finalization of a later block covers a run).
 * Undefined when the store lacks them or the run is longer than one proof may be.
 */
export async function tipProofOf (store: Store, height: Height): Promise<TipProof | undefined> {
  const blocks: Uint8Array[] = []
  let bytes = 0
  for (let h = BigInt(height); h <= BigInt(store.height) && blocks.length < stateSyncTipBlocksMax; h++) {
    const record = await store.getHeight(h as Height)
    if (record?.block == null || record.certificate == null) return undefined
    bytes += record.block.length + record.certificate.length
    if (bytes > stateSyncTipBytesMax - 1024) return undefined
    blocks.push(record.block)
    const block = decodeStoredBlock(record.block)
    const certificate = decodeStoredCertificate(record.certificate)
    if (!block.ok || !certificate.ok) return undefined
    if (bytesEqual(certificate.value.block, block.value.hash)) return { blocks, certificate: record.certificate }
  }
  return undefined
}

export function encodeRequest (request: StateSyncRequest): Uint8Array {
  return encode(request)
}

/** Decodes an untrusted request: exact keys, a valid SubnetId, bounded integers. */
export function decodeRequest (bytes: Uint8Array): Result<StateSyncRequest> {
  const decoded = decode(bytes, { bytesMax: stateSyncRequestBytesMax })
  if (!decoded.ok) return err(`state-sync request: ${decoded.error}`)
  const v = decoded.value as Record<string, unknown>
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return err('state-sync request must be a map')
  const subnet = parseSubnetId(v.subnet)
  if (!subnet.ok) return err(`state-sync request: ${subnet.error}`)
  const keys = Object.keys(v).sort().join(',')
  const heightOf = (h: unknown): Height | undefined => (typeof h === 'bigint' || Number.isSafeInteger(h)) && BigInt(h as number) >= 1n && BigInt(h as number) < 2n ** 64n ? BigInt(h as number) as Height : undefined
  if (v.kind === 'list' && keys === 'kind,subnet') return ok({ kind: 'list', subnet: subnet.value })
  if (v.kind === 'tip' && keys === 'height,kind,subnet') {
    const height = heightOf(v.height)
    if (height === undefined) return err('state-sync request: height must be a u64 >= 1')
    return ok({ kind: 'tip', subnet: subnet.value, height })
  }
  if (v.kind === 'chunk' && keys === 'height,index,kind,subnet') {
    const height = heightOf(v.height)
    if (height === undefined) return err('state-sync request: height must be a u64 >= 1')
    if (!Number.isSafeInteger(v.index) || (v.index as number) < 0 || (v.index as number) >= checkpointChunksMax) return err(`state-sync request: index must be 0..${checkpointChunksMax - 1}`)
    return ok({ kind: 'chunk', subnet: subnet.value, height, index: v.index as number })
  }
  return err('state-sync request: expected { kind: list|chunk|tip, subnet, height?, index? } with exactly those keys')
}

// ── Client side: one request per stream, bounded frames, a timeout on the whole exchange ───────────

async function exchange<T> (net: Net, peer: NodeId, request: StateSyncRequest, signal: AbortSignal | undefined, read: (next: (bytesMax: number) => Promise<Uint8Array>) => Promise<T>): Promise<T> {
  const timeout = AbortSignal.any([AbortSignal.timeout(stateSyncRequestTimeoutMs), ...(signal === undefined ? [] : [signal])])
  const stream = await net.dial(peer, stateSyncProtocol, { signal: timeout })
  try {
    const lp = lpStream(stream, { maxDataLength: Math.max(stateSyncTipBytesMax, checkpointChunkBytesMax, stateSyncCheckpointBytesMax), maxBufferSize: stateSyncTipBytesMax + 64 * 1024 })
    await lp.write(encodeRequest(request), { signal: timeout })
    const result = await read(async bytesMax => {
      const frame = (await lp.read({ signal: timeout })).subarray()
      if (frame.length > bytesMax) throw new Error(`state-sync answer too large: ${frame.length} > ${bytesMax} bytes`)
      return frame
    })
    await stream.close({ signal: timeout }).catch(() => {})
    return result
  } catch (error) {
    stream.abort(error as Error)
    throw error
  }
}

/** The checkpoints `peer` holds for `subnet`: decoded, not verified (the certification is raw bytes). */
export async function requestCheckpoints (net: Net, peer: NodeId, subnet: SubnetId, signal?: AbortSignal): Promise<Result<CheckpointOffer[]>> {
  return await exchange(net, peer, { kind: 'list', subnet }, signal, async next => {
    const head = decode(await next(64), { bytesMax: 64 })
    const count = head.ok ? (head.value as { count?: unknown }).count : undefined
    if (!Number.isSafeInteger(count) || (count as number) < 0 || (count as number) > checkpointsRetained) return err(`checkpoint list: count must be 0..${checkpointsRetained}`)
    const offers: CheckpointOffer[] = []
    for (let i = 0; i < (count as number); i++) {
      const entry = decode(await next(stateSyncCheckpointBytesMax), { bytesMax: stateSyncCheckpointBytesMax })
      const v = entry.ok ? entry.value as { manifest?: unknown, certification?: unknown } : undefined
      if (v === undefined || typeof v !== 'object' || !(v.manifest instanceof Uint8Array) || v.manifest.length > checkpointManifestBytesMax) return err(`checkpoint ${i}: expected { manifest: bytes, certification: bytes | null }`)
      if (v.certification !== null && (!(v.certification instanceof Uint8Array) || v.certification.length > subnetRecordBytesMax)) return err(`checkpoint ${i}: certification must be bytes or null`)
      const manifest = decodeManifest(v.manifest)
      if (!manifest.ok) return err(`checkpoint ${i}: ${manifest.error}`)
      offers.push({ manifest: manifest.value, certification: v.certification })
    }
    return ok(offers)
  })
}

/** Chunk `index` of the checkpoint at `height` (empty when the peer does not hold it). */
export async function requestChunk (net: Net, peer: NodeId, subnet: SubnetId, at: { height: Height, index: number }, signal?: AbortSignal): Promise<Uint8Array> {
  return await exchange(net, peer, { kind: 'chunk', subnet, height: at.height, index: at.index }, signal, async next => await next(checkpointChunkBytesMax))
}

/** The tip proof of `height`, decoded but not verified; undefined when the peer has none. */
export async function requestTip (net: Net, peer: NodeId, subnet: SubnetId, height: Height, signal?: AbortSignal): Promise<Result<TipProof | undefined>> {
  return await exchange(net, peer, { kind: 'tip', subnet, height }, signal, async next => {
    const frame = await next(stateSyncTipBytesMax)
    if (frame.length === 0) return ok(undefined)
    const decoded = decode(frame, { bytesMax: stateSyncTipBytesMax })
    const v = decoded.ok ? decoded.value as { blocks?: unknown, certificate?: unknown } : undefined
    if (v === undefined || typeof v !== 'object' || !Array.isArray(v.blocks) || v.blocks.length === 0 || v.blocks.length > stateSyncTipBlocksMax ||
      !v.blocks.every(b => b instanceof Uint8Array) || !(v.certificate instanceof Uint8Array)) {
      return err(`tip proof: expected { blocks: 1..${stateSyncTipBlocksMax} byte strings, certificate: bytes }`)
    }
    return ok({ blocks: v.blocks as Uint8Array[], certificate: v.certificate })
  })
}
