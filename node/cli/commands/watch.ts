// `pylon watch ACTOR`: streams the actor's committed changes from one node over a WebSocket
// (GET /v1/actors/:actorId/watch), one line per executed message. The events are that node's word
// at commit time, not certified; this command checks their shape and never trusts them further.

import type { Command } from 'commander'
import WebSocket from 'ws'
import { parseActorId, type ActorId } from '../../../protocol/ids.ts'
import { watchConnectTimeoutMs, watchEventKeysMax } from '../../../protocol/limits.ts'
import { clientOptions, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { CliError } from '../output.ts'
import type { WatchEvent } from '../../watch/watch-hub.ts'

interface WatchFlags extends ClientOptions {
  count?: string
}

/** Largest event frame accepted: watchEventKeysMax hex keys of ≤ 1 KiB each plus small fields. */
const eventBytesMax = watchEventKeysMax * 2 * 1024 + 16 * 1024
/** Most events --count may ask for. */
const countMax = 1_000_000_000

export function register (program: Command): void {
  clientOptions(program.command('watch')
    .description("stream an actor's committed changes: one line per executed message (not certified)")
    .argument('<actor>', 'ActorId (<subnet>.<index>)')
    .option('--count <n>', 'exit 0 after this many events'))
    .action(async (actor: string, flags: WatchFlags) => {
      const parsed = parseActorId(actor)
      // (Not call.ts's parseActor: importing call.ts would load the runtime for a streaming client.)
      if (!parsed.ok) throw new CliError(`${parsed.error} (an ActorId looks like <subnet>.<index>)`, 'usage')
      const id = parsed.value
      const count = parseCount(flags.count)
      const code = await watchActor(id, await resolveApiUrl(flags), {
        count,
        onEvent: event => { process.stdout.write((flags.json === true ? JSON.stringify(event) : humanLine(event)) + '\n') },
        onNotice: text => { process.stderr.write(`pylon: ${text}\n`) }
      })
      process.exitCode = code
    })
}

export function parseCount (text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > countMax) throw new CliError(`--count must be a whole number from 1 to ${countMax}, got ${JSON.stringify(text)}`)
  return n
}

/**
 * Streams events until `count` of them, Ctrl-C (exit 0), or the node ending the stream. Resolves
 * the exit code; throws CliError with one line when the node refuses or the stream breaks.
 */
export async function watchActor (actor: ActorId, apiUrl: string, options: { count?: number, onEvent: (e: WatchEvent) => void, onNotice: (text: string) => void, signal?: AbortSignal }): Promise<number> {
  const url = `${apiUrl.replace(/^http/, 'ws')}/v1/actors/${encodeURIComponent(actor)}/watch`
  const ws = new WebSocket(url, { handshakeTimeout: watchConnectTimeoutMs, maxPayload: eventBytesMax, perMessageDeflate: false })
  let seen = 0
  return await new Promise<number>((resolve, reject) => {
    let settled = false
    const finish = (outcome: number | CliError): void => {
      if (settled) return
      settled = true
      process.off('SIGINT', onInterrupt)
      options.signal?.removeEventListener('abort', onInterrupt)
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate()
      // Our goodbye (close 1000) waits for the node's answer; a node that never answers must not
      // hold the command open for ws's 30 s close timeout.
      else if (ws.readyState === WebSocket.CLOSING) setTimeout(() => { ws.terminate() }, 2_000).unref()
      if (typeof outcome === 'number') resolve(outcome)
      else reject(outcome)
    }
    // Ctrl-C is how a watch normally ends: say goodbye to the node and exit 0.
    const onInterrupt = (): void => {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client done')
      finish(0)
    }
    process.once('SIGINT', onInterrupt)
    options.signal?.addEventListener('abort', onInterrupt, { once: true })
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      let length = 0
      res.on('data', (chunk: Buffer) => { if ((length += chunk.length) <= 64 * 1024) chunks.push(chunk) })
      res.on('end', () => { finish(refusal(apiUrl, actor, res.statusCode ?? 0, Buffer.concat(chunks).toString())) })
      res.on('error', () => { finish(new CliError(`${apiUrl} refused to watch ${actor}: HTTP ${res.statusCode}`, `http-${res.statusCode}`)) })
    })
    ws.on('message', (data, isBinary) => {
      if (settled) return
      const event = isBinary ? undefined : parseEvent(String(data))
      if (event === undefined || event.actor !== actor) {
        finish(new CliError(`${apiUrl} sent something that is not a watch event of ${actor}: ${String(data).slice(0, 120)}`, 'untrusted'))
        return
      }
      options.onEvent(event)
      if (options.count !== undefined && ++seen >= options.count) {
        ws.close(1000, 'client done')
        finish(0)
      }
    })
    ws.on('close', (code, reasonBytes) => {
      if (settled) return
      const reason = reasonBytes.toString()
      if (code === 1000) {
        // The node ends a stream normally only when the actor is gone.
        options.onNotice(`${actor}: stream ended by the node (${reason === '' ? 'normal close' : reason})`)
        finish(0)
        return
      }
      finish(new CliError(`watch of ${actor} ended by ${apiUrl}: ${reason === '' ? `close code ${code}` : `${reason} (code ${code})`}`, 'watch-closed'))
    })
    ws.on('error', error => {
      const message = (error as Error & { code?: string }).code === 'ECONNREFUSED' ? `no daemon at ${apiUrl}: is \`pylon daemon\` running?` : `watch of ${actor} at ${apiUrl} failed: ${error.message}`
      finish(new CliError(message, 'no-daemon'))
    })
  })
}

/** The node's HTTP refusal of the upgrade, as one line. */
function refusal (apiUrl: string, actor: ActorId, status: number, text: string): CliError {
  let body: { error?: unknown, reason?: unknown, members?: unknown } = {}
  try {
    body = JSON.parse(text) as typeof body
  } catch {}
  const reason = typeof body.reason === 'string' ? body.reason : `http-${status}`
  const error = typeof body.error === 'string' ? body.error : `HTTP ${status}`
  if (reason === 'not-member' && Array.isArray(body.members)) {
    return new CliError(`${apiUrl} does not serve the subnet of ${actor}; watch it on a member: ${body.members.join(', ')}`, reason)
  }
  if (reason === 'unknown-actor') return new CliError(`unknown actor ${actor} (never installed on its subnet, or deleted)`, reason)
  return new CliError(`${apiUrl} refused to watch ${actor}: ${error} (HTTP ${status})`, reason)
}

function parseEvent (text: string): WatchEvent | undefined {
  let v: Record<string, unknown>
  try {
    v = JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const keys = v.changedKeys
  if (typeof v.actor !== 'string' || typeof v.height !== 'string' || !/^\d+$/.test(v.height) || !Number.isSafeInteger(v.index) ||
    typeof v.method !== 'string' || typeof v.caller !== 'string' || typeof v.ok !== 'boolean' || !Number.isSafeInteger(v.changedKeyCount) ||
    !Array.isArray(keys) || !keys.every(k => typeof k === 'string' && /^(?:[0-9a-f]{2})*$/.test(k))) return undefined
  return {
    actor: v.actor as ActorId, height: v.height, index: v.index as number, method: v.method, caller: v.caller, ok: v.ok,
    changedKeys: keys as string[], changedKeyCount: v.changedKeyCount as number, certified: false
  }
}

/** `height 12  #0  inc  ok  by 12D3Koo…  keys count` (keys shown as text when printable, else hex). */
export function humanLine (e: WatchEvent): string {
  const keys = e.changedKeys.map(printableKey)
  const more = e.changedKeyCount > e.changedKeys.length ? ` (+${e.changedKeyCount - e.changedKeys.length} more)` : ''
  const caller = e.caller === '' ? '(system)' : e.caller.length > 24 ? `${e.caller.slice(0, 10)}…${e.caller.slice(-8)}` : e.caller
  return `height ${e.height}  #${e.index}  ${e.method === '' ? '(init)' : e.method}  ${e.ok ? 'ok' : 'FAILED'}  by ${caller}  keys ${keys.length === 0 ? '-' : keys.join(' ')}${more}`
}

function printableKey (hex: string): string {
  const text = Buffer.from(hex, 'hex').toString('latin1')
  return /^[\x21-\x7e]+$/.test(text) ? text : `0x${hex}`
}

