// Operational errors: a stable code for scripts and metrics, and whether retrying can help.

export class PylonError extends Error {
  override name = 'PylonError'
  readonly code: string
  readonly retryable: boolean

  constructor (code: string, message: string, options: { retryable?: boolean, cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.retryable = options.retryable ?? false
  }
}
