// Invariant checks. A failed assert is a bug in Pylon, never a reaction to bad input: it throws and
// the process exits so the supervisor restarts it. Untrusted input gets a Result instead.

export class AssertionError extends Error {
  override name = 'AssertionError'
}

export function assert (condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message)
}
