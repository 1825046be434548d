// Namespaced JSON-lines logger, injected into every component. One line per event, to stderr by
// default so that stdout stays free for the CLI's output. Never called in hot loops.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  debug (msg: string, fields?: Record<string, unknown>): void
  info (msg: string, fields?: Record<string, unknown>): void
  warn (msg: string, fields?: Record<string, unknown>): void
  error (msg: string, fields?: Record<string, unknown>): void
  /** A logger for a sub-namespace: `pylon:net` → `pylon:net:gossip`. */
  child (name: string): Logger
}

export interface LoggerInit {
  level?: LogLevel
  /** @default process.stderr — stdout belongs to CLI output. */
  write?: (line: string) => void
  now?: () => number
}

export function createLogger (namespace: string, init: LoggerInit = {}): Logger {
  const threshold = rank[init.level ?? 'info']
  const write = init.write ?? ((line: string) => { process.stderr.write(line) })
  const now = init.now ?? Date.now
  const log = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>): void => {
    if (rank[level] < threshold) return
    write(JSON.stringify({ t: new Date(now()).toISOString(), level, ns: namespace, msg, ...fields }, jsonSafe) + '\n')
  }
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (name) => createLogger(`${namespace}:${name}`, init)
  }
}

/** A logger that drops everything: for tests and benchmarks. */
export const silentLogger: Logger = {
  debug () {}, info () {}, warn () {}, error () {},
  child: () => silentLogger
}

function jsonSafe (_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (value instanceof Error) return { name: value.name, message: value.message }
  return value
}
