// How every CLI command prints: a readable form for people, one JSON document with --json, and
// errors as one line on stderr (or `{ ok: false, error, code }` on stdout with --json).

import { PylonError } from '../core/errors.ts'

/** JSON that carries bigints as decimal strings and bytes as hex. */
export function toJson (value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  }, 2)
}

/** Prints `value` as JSON when `json`, else the text `human()` returns. */
export function emit (json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write((json === true ? toJson(value) : human()) + '\n')
}

/** A plain text table with aligned columns. */
export function table (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

/** An error the user can act on: printed as one line, exit code 1. */
export class CliError extends PylonError {
  override name = 'CliError'
  constructor (message: string, code = 'usage') {
    super(code, message)
  }
}

export function failAndExit (error: unknown, json: boolean): never {
  const message = error instanceof Error ? error.message : String(error)
  const code = error instanceof PylonError ? error.code : 'internal'
  if (json) process.stdout.write(toJson({ ok: false, error: message, code }) + '\n')
  else process.stderr.write(`pylon: ${message}\n`)
  if (!(error instanceof PylonError) && process.env.PYLON_DEBUG) process.stderr.write(`${(error as Error).stack}\n`)
  process.exit(1)
}

/** Result bytes as people read them: UTF-8 text when the bytes are valid UTF-8, else hex. */
export function printable (bytes: Uint8Array): { text: string, encoding: 'utf8' | 'hex' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf8' }
  } catch {
    return { text: Buffer.from(bytes).toString('hex'), encoding: 'hex' }
  }
}
