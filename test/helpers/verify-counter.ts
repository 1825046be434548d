// Counts the Ed25519 verifications this worker makes, by wrapping node:crypto's `verify` and
// re-syncing the live ESM bindings every module imported it through. Only for tests that must
// show a check ran exactly once; restore it (t.teardown) and run such tests serially.

import { createRequire } from 'node:module'
import { syncBuiltinESMExports } from 'node:module'

const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')

export interface VerifyCounter {
  /** Verifications since the counter was installed. */
  readonly count: number
  restore (): void
}

export function countVerifications (): VerifyCounter {
  const original = crypto.verify
  let count = 0
  crypto.verify = ((...args: Parameters<typeof original>) => {
    count++
    return (original as (...a: unknown[]) => unknown)(...args)
  }) as typeof original
  syncBuiltinESMExports()
  return {
    get count () { return count },
    restore: () => {
      crypto.verify = original
      syncBuiltinESMExports()
    }
  }
}
