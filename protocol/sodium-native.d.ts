// The subset of sodium-native (libsodium bindings) that protocol/signature.ts uses; the package
// ships no types of its own.

declare module 'sodium-native' {
  /** libsodium's crypto_sign_verify_detached: throws only for wrong lengths (64-byte signature, 32-byte key). */
  export function crypto_sign_verify_detached (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
  /** Canonical, on the curve, not of small order and in the prime-order subgroup. */
  export function crypto_core_ed25519_is_valid_point (point: Uint8Array): boolean
}
