// The replica's write-ahead-log records: own votes (with the block of an own notarize) and the
// certificates it saw. Encoding and the untrusted-bytes decoder only; where and how records are
// stored (framing, checksums, fsync) is the driver's business.

import { decode, encode } from '../codec.ts'
import { consensusMessageBytesMax } from '../limits.ts'
import { err, ok, type Result } from '../result.ts'
import { blockValue, messageValue, parseBlock, parseCertificate, parseVote, type Block, type Certificate, type Vote } from './messages.ts'

/**
 * `vote`: a vote this replica signed; must be durable before the vote is sent, so that a restart
 * never signs a different vote for the same view. `certificate`: a certificate it saw; losing
 * one costs only a re-fetch, so it need not be synced on its own.
 */
export type WalRecord =
  | { kind: 'vote', vote: Vote, block?: Block }
  | { kind: 'certificate', certificate: Certificate }

/** The view a record belongs to: records below the last finalized view may be pruned. */
export function walRecordView (record: WalRecord): bigint {
  return record.kind === 'vote' ? record.vote.view : record.certificate.view
}

export function encodeWalRecord (record: WalRecord): Uint8Array {
  if (record.kind === 'certificate') return encode({ kind: 'certificate', certificate: messageValue(record.certificate) })
  const value: Record<string, unknown> = { kind: 'vote', vote: messageValue(record.vote) }
  if (record.block !== undefined) value['block'] = blockValue(record.block)
  return encode(value)
}

/** Decodes one record; a torn or corrupt record is an error, never a throw. */
export function decodeWalRecord (bytes: Uint8Array): Result<WalRecord> {
  const decoded = decode(bytes, { bytesMax: consensusMessageBytesMax })
  if (!decoded.ok) return decoded
  const value = decoded.value as Record<string, unknown>
  if (typeof value !== 'object' || value === null) return err('WAL record must be a map')
  if (value['kind'] === 'certificate') {
    const certificate = parseCertificate(value['certificate'])
    return certificate.ok ? ok({ kind: 'certificate', certificate: certificate.value }) : err(`WAL certificate: ${certificate.error}`)
  }
  if (value['kind'] !== 'vote') return err('WAL record kind must be vote or certificate')
  const vote = parseVote(value['vote'])
  if (!vote.ok) return err(`WAL vote: ${vote.error}`)
  if (value['block'] === undefined) return ok({ kind: 'vote', vote: vote.value })
  const block = parseBlock(value['block'])
  return block.ok ? ok({ kind: 'vote', vote: vote.value, block: block.value }) : err(`WAL block: ${block.error}`)
}
