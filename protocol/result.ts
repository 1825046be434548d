// The shape of every decoder's answer for untrusted input: a value, or a clear error. Never throws
// for bad input; throwing is reserved for broken invariants (see assert.ts).

export type Result<T, E = string> = { ok: true, value: T } | { ok: false, error: E }

export function ok<T> (value: T): Result<T, never> {
  return { ok: true, value }
}

export function err<E = string> (error: E): Result<never, E> {
  return { ok: false, error }
}
