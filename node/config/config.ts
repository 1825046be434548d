// The node's settings: defaults, overridden by DATA_DIR/config.json, overridden by command-line
// flags. Every value is checked here; a bad one is a one-line ConfigError that names the setting.
// It never starts anything and never writes except through writeConfigFile.

import { multiaddr } from '@multiformats/multiaddr'
import { readFile, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { advertLabelCharsMax, advertTtlMsMax } from '../../protocol/limits.ts'
import { PylonError } from '../core/errors.ts'
import type { LogLevel } from '../core/logger.ts'

export const configFile = 'config.json'

export interface NodeConfig {
  network: 'local' | 'public'
  /** libp2p listen multiaddrs. */
  listen: string[]
  /** Peers to dial at start: multiaddrs ending in /p2p/<peer id>. */
  bootstrap: string[]
  /** LAN multicast discovery; only with network local and a non-loopback listen address. */
  mdns: boolean
  /** HOST:PORT of the local HTTP API; port 0 picks a free one (written to DATA_DIR/api.json). */
  api: string
  rack: string
  region: string
  operator: string
  advertIntervalMs: number
  logLevel: LogLevel
}

/** Settings as given by a file or flags: any subset, still unchecked. */
export type ConfigInput = Partial<Record<keyof NodeConfig, unknown>>

export class ConfigError extends PylonError {
  override name = 'ConfigError'
  constructor (message: string) {
    super('config', `bad config: ${message}`)
  }
}

export function defaultDataDir (): string {
  return process.env.PYLON_DATA_DIR ?? join(homedir(), '.pylon')
}

/**
 * Defaults per network. local: loopback only, ephemeral ports, safe on a laptop. public: every
 * interface on the conventional libp2p ports, so a rack is reachable.
 */
export function defaultListen (network: NodeConfig['network']): string[] {
  return network === 'local'
    ? ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
    : ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws']
}

const keys: Array<keyof NodeConfig> = ['network', 'listen', 'bootstrap', 'mdns', 'api', 'rack', 'region', 'operator', 'advertIntervalMs', 'logLevel']

/** Reads DATA_DIR/config.json (absent is fine: {}); throws ConfigError for unreadable JSON or unknown keys. */
export async function readConfigFile (dataDir: string): Promise<ConfigInput> {
  const path = join(dataDir, configFile)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`${path} is not JSON: ${(error as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${path} must hold a JSON object`)
  for (const key of Object.keys(value)) {
    if (!keys.includes(key as keyof NodeConfig)) throw new ConfigError(`unknown setting "${key}" in ${path} (known: ${keys.join(', ')})`)
  }
  return value as ConfigInput
}

export async function writeConfigFile (dataDir: string, config: ConfigInput): Promise<void> {
  await writeFile(join(dataDir, configFile), JSON.stringify(config, null, 2) + '\n', { mode: 0o644, flag: 'wx' })
}

/** Merges defaults < file < flags (undefined flags do not override) and checks every value. */
export function resolveConfig (file: ConfigInput, flags: ConfigInput): NodeConfig {
  const pick = (key: keyof NodeConfig): unknown => flags[key] !== undefined ? flags[key] : file[key]
  const network = pick('network') ?? 'local'
  if (network !== 'local' && network !== 'public') throw new ConfigError(`network must be local or public, got ${JSON.stringify(network)}`)
  const listen = multiaddrList('listen', pick('listen') ?? defaultListen(network), false)
  const bootstrap = multiaddrList('bootstrap', pick('bootstrap') ?? [], true)
  const loopbackOnly = listen.every(a => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/'))
  const mdns = pick('mdns') ?? (network === 'local' && !loopbackOnly)
  if (typeof mdns !== 'boolean') throw new ConfigError(`mdns must be true or false, got ${JSON.stringify(mdns)}`)
  if (mdns && network === 'public') throw new ConfigError('mdns can only be enabled with network local')
  const api = pick('api') ?? '127.0.0.1:7373'
  if (typeof api !== 'string' || parseHostPort(api) === undefined) throw new ConfigError(`api must be HOST:PORT, got ${JSON.stringify(api)}`)
  const advertIntervalMs = pick('advertIntervalMs') ?? 30_000
  const intervalMax = Math.floor(advertTtlMsMax / 4)
  if (typeof advertIntervalMs !== 'number' || !Number.isInteger(advertIntervalMs) || advertIntervalMs < 500 || advertIntervalMs > intervalMax) {
    throw new ConfigError(`advertIntervalMs must be an integer in 500..${intervalMax}, got ${JSON.stringify(advertIntervalMs)}`)
  }
  const logLevel = pick('logLevel') ?? 'info'
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel as string)) throw new ConfigError(`logLevel must be debug, info, warn or error, got ${JSON.stringify(logLevel)}`)
  return {
    network,
    listen,
    bootstrap,
    mdns,
    api,
    rack: label('rack', pick('rack')),
    region: label('region', pick('region')),
    operator: label('operator', pick('operator')),
    advertIntervalMs,
    logLevel: logLevel as LogLevel
  }
}

/** HOST:PORT → parts, or undefined. Port 0 means "any free port". */
export function parseHostPort (value: string): { host: string, port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(value)
  if (match === null) return undefined
  const port = Number(match[2])
  if (port > 65535) return undefined
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port }
}

export function resolveDataDir (dataDir: string | undefined): string {
  return resolve(dataDir ?? defaultDataDir())
}

function multiaddrList (name: string, value: unknown, needsPeerId: boolean): string[] {
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list) || list.length > 32) throw new ConfigError(`${name} must be a list of at most 32 multiaddrs, got ${JSON.stringify(value)}`)
  return list.map(item => {
    if (typeof item !== 'string') throw new ConfigError(`${name} must be multiaddrs, got ${JSON.stringify(item)}`)
    try {
      const ma = multiaddr(item)
      if (needsPeerId && ma.getComponents().find(c => c.name === 'p2p') === undefined) throw new Error('it has no /p2p/<peer id>')
      return ma.toString()
    } catch (error) {
      throw new ConfigError(`${name} must be a multiaddr${needsPeerId ? ' ending in /p2p/<peer id>' : ''}, got ${JSON.stringify(item)}: ${(error as Error).message}`)
    }
  })
}

function label (name: string, value: unknown): string {
  const v = value ?? ''
  if (typeof v !== 'string' || v.length > advertLabelCharsMax || /[\u0000-\u001f]/.test(v)) {
    throw new ConfigError(`${name} must be a string of at most ${advertLabelCharsMax} printable characters, got ${JSON.stringify(value)}`)
  }
  return v
}
