// Counts the Ed25519 verifications this worker makes, by wrapping libsodium's verify on the
// sodium-native module object (protocol/signature.ts looks it up there at every call). Only for
// tests that must show a check ran exactly once; restore it (t.teardown) and run such tests serially.

import sodium from 'sodium-native'

export interface VerifyCounter {
  /** Verifications since the counter was installed. */
  readonly count: number
  restore (): void
}

export function countVerifications (): VerifyCounter {
  const target = sodium as { crypto_sign_verify_detached: typeof sodium.crypto_sign_verify_detached }
  const original = target.crypto_sign_verify_detached
  let count = 0
  target.crypto_sign_verify_detached = (...args) => {
    count++
    return original(...args)
  }
  return {
    get count () { return count },
    restore: () => { target.crypto_sign_verify_detached = original }
  }
}
