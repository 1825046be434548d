// Staging for chunked code uploads (PUT /v1/code/:cid): appends in-order chunks under bounds on the
// number of uploads and the bytes they reserve, expires idle ones, and hands over the assembled code
// only when it hashes to the CID it was uploaded under. It never stores code itself.

import { CID, rawCidOf } from '../../protocol/codec.ts'
import { apiCodeBytesMax, apiCodeStagedBytesMax, apiCodeUploadIdleMs, apiCodeUploadsMax } from '../../protocol/limits.ts'
import type { Clock } from '../core/clock.ts'

/** A refusal: the HTTP status and a one-line message naming the value and the limit. */
export interface UploadRefusal { status: number, error: string, reason: string }

export type ChunkAnswer =
  | { kind: 'partial', received: number, total: number }
  | { kind: 'complete', code: Uint8Array }
  | { kind: 'refused', refusal: UploadRefusal }

interface Staged { parts: Uint8Array[], received: number, total: number, touchedMs: number }

const sha256Code = 0x12
const rawCodec = 0x55

/** Parses the CID an upload is keyed by: it must name raw bytes by sha256, as rawCidOf does. */
export function parseCodeCid (raw: string): { ok: true, cid: string } | { ok: false, error: string } {
  let cid: CID
  try {
    cid = CID.parse(raw)
  } catch (error) {
    return { ok: false, error: `not a CID: ${JSON.stringify(raw.slice(0, 80))} (${(error as Error).message})` }
  }
  if (cid.version !== 1 || cid.code !== rawCodec || cid.multihash.code !== sha256Code) {
    return { ok: false, error: `code is named by a CIDv1 of raw bytes (codec 0x55) hashed with sha256, got v${cid.version} codec 0x${cid.code.toString(16)} hash 0x${cid.multihash.code.toString(16)}` }
  }
  return { ok: true, cid: cid.toString() }
}

export class CodeUploads {
  readonly #clock: Clock
  readonly #staged = new Map<string, Staged>()
  #reserved = 0

  constructor (clock: Clock) {
    this.#clock = clock
  }

  /** Uploads in progress and the bytes they reserve (for tests and metrics). */
  stats (): { uploads: number, reservedBytes: number } {
    return { uploads: this.#staged.size, reservedBytes: this.#reserved }
  }

  /**
   * Appends `chunk` at `offset` of the upload `key` (subnet + CID) whose code is `total` bytes.
   * Offset 0 (re)starts an upload; any other offset must be exactly where the last chunk ended.
   */
  put (key: string, cid: string, offset: number, total: number, chunk: Uint8Array): ChunkAnswer {
    this.#expire()
    if (total < 1 || total > apiCodeBytesMax) return refused(400, `total must be 1..${apiCodeBytesMax} bytes, got ${total}`, 'too-large')
    if (chunk.length === 0) return refused(400, 'empty chunk: send the code bytes from offset', 'malformed')
    if (offset + chunk.length > total) return refused(400, `chunk runs past the total: offset ${offset} + ${chunk.length} bytes > total ${total}`, 'malformed')
    let staged = this.#staged.get(key)
    if (offset === 0) {
      if (staged !== undefined) this.#drop(key, staged)
      if (this.#staged.size >= apiCodeUploadsMax) return refused(503, `too many code uploads in progress: ${this.#staged.size} >= ${apiCodeUploadsMax}; retry later`, 'full')
      if (this.#reserved + total > apiCodeStagedBytesMax) return refused(503, `code staging full: ${this.#reserved} + ${total} > ${apiCodeStagedBytesMax} bytes reserved; retry later`, 'full')
      staged = { parts: [], received: 0, total, touchedMs: this.#clock.now() }
      this.#staged.set(key, staged)
      this.#reserved += total
    } else if (staged === undefined) {
      return refused(400, `no upload of ${cid} in progress here (expired after ${apiCodeUploadIdleMs} ms idle, or never started): start again at offset 0`, 'no-upload')
    } else if (staged.total !== total) {
      return refused(400, `total changed mid-upload: ${total} ≠ ${staged.total} bytes`, 'malformed')
    } else if (offset !== staged.received) {
      return refused(400, `chunk out of order: offset ${offset}, expected ${staged.received} (${staged.received} of ${staged.total} bytes received)`, 'out-of-order')
    }
    staged.parts.push(chunk)
    staged.received += chunk.length
    staged.touchedMs = this.#clock.now()
    if (staged.received < staged.total) return { kind: 'partial', received: staged.received, total: staged.total }
    this.#drop(key, staged)
    const code = Buffer.concat(staged.parts)
    const got = rawCidOf(code)
    if (got.toString() !== cid) {
      const expected = CID.parse(cid)
      return refused(422, `code does not match its CID: sha256 ${hex(got.multihash.digest)} ≠ ${hex(expected.multihash.digest)} (${cid})`, 'cid-mismatch')
    }
    return { kind: 'complete', code: new Uint8Array(code.buffer, code.byteOffset, code.length) }
  }

  #drop (key: string, staged: Staged): void {
    this.#staged.delete(key)
    this.#reserved -= staged.total
  }

  /** Lazily, on each chunk: no timer to own or stop. */
  #expire (): void {
    const now = this.#clock.now()
    for (const [key, staged] of this.#staged) {
      if (now - staged.touchedMs >= apiCodeUploadIdleMs) this.#drop(key, staged)
    }
  }
}

function refused (status: number, error: string, reason: string): ChunkAnswer {
  return { kind: 'refused', refusal: { status, error, reason } }
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}
