// The JSON view of a book entry for the API and CLI: every advert field (u64s as decimal strings),
// expiresAt as ISO time, and the signature in hex so a script can re-check it.

import type { BookEntry } from './advert-book.ts'

export function advertJson (entry: BookEntry): Record<string, unknown> {
  const a = entry.signed.advert
  return {
    ...a,
    seq: a.seq.toString(),
    issuedAtMs: a.issuedAtMs.toString(),
    expiresAtMs: a.expiresAtMs.toString(),
    issuedAt: new Date(Number(a.issuedAtMs)).toISOString(),
    expiresAt: new Date(Number(a.expiresAtMs)).toISOString(),
    memoryBytes: a.memoryBytes.toString(),
    diskFreeBytes: a.diskFreeBytes.toString(),
    score: a.score.toString(),
    signature: Buffer.from(entry.signed.signature).toString('hex')
  }
}
