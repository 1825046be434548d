// How client commands find and ask a running daemon: --api URL, else PYLON_API, else the api.json
// a daemon wrote in --data-dir (default ~/.pylon). One clear line when nobody answers.

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { resolveDataDir } from '../config/config.ts'
import { CliError } from './output.ts'

export interface ClientOptions {
  api?: string
  dataDir?: string
  json?: boolean
}

/** Adds --api, --data-dir and --json to a client command. */
export function clientOptions (command: Command): Command {
  return command
    .option('--api <url>', 'daemon API URL (default: $PYLON_API, else the one in --data-dir/api.json)')
    .option('--data-dir <dir>', 'data directory of a running daemon (default: $PYLON_DATA_DIR or ~/.pylon)')
    .option('--json', 'print JSON')
}

export async function resolveApiUrl (options: ClientOptions): Promise<string> {
  const explicit = options.api ?? (options.dataDir === undefined ? process.env.PYLON_API : undefined)
  if (explicit !== undefined) {
    try {
      return new URL(explicit).toString().replace(/\/$/, '')
    } catch {
      throw new CliError(`--api must be a URL like http://127.0.0.1:7373, got ${JSON.stringify(explicit)}`)
    }
  }
  const dataDir = resolveDataDir(options.dataDir)
  const path = join(dataDir, 'api.json')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new CliError(`no daemon running on ${dataDir} (no ${path}): start one with \`pylon daemon --data-dir ${dataDir}\``, 'no-daemon')
  }
  try {
    const { url } = JSON.parse(text) as { url: unknown }
    if (typeof url !== 'string') throw new Error('no url')
    return url
  } catch {
    throw new CliError(`${path} is corrupt: stop the daemon and start it again`, 'no-daemon')
  }
}

/** GETs a JSON document from the daemon; connection failures and HTTP errors become one line. */
export async function getJson<T> (baseUrl: string, path: string): Promise<T> {
  let response: Response
  try {
    response = await fetch(baseUrl + path, { signal: AbortSignal.timeout(10_000) })
  } catch {
    throw new CliError(`no daemon at ${baseUrl}: is \`pylon daemon\` running?`, 'no-daemon')
  }
  const text = await response.text()
  if (!response.ok) throw new CliError(`daemon at ${baseUrl} answered ${response.status} for ${path}: ${text.trim().slice(0, 200)}`, 'api')
  try {
    return JSON.parse(text) as T
  } catch {
    throw new CliError(`daemon at ${baseUrl} sent invalid JSON for ${path}`, 'api')
  }
}
