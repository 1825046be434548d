// Binary search in an ascending array of strings (keys as latin1 strings sort in byte order).
// Shared by the runtime's in-memory state view and the store's read cache.

/** The index of the first element >= `key` in the ascending array `keys` (its length if none). */
export function lowerBound (keys: readonly string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid]! < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
