// The HTTP API client behind `pylon deploy|call|query` (and the devnet test and benchmark): signs
// envelopes with the client identity, talks to one daemon, and checks every certified answer
// against the subnet's genesis itself. It trusts nothing a node says that it can verify instead.

import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { connect, type NetConnectOpts, type Socket } from 'node:net'
import WebSocket from 'ws'
import { CID, rawCidOf } from '../../protocol/codec.ts'
import { decodeCertifiedResponse, verifyCertifiedResponse, type CertificateMemo } from '../../protocol/certification.ts'
import { subnetOfActorId, type ActorId, type Principal, type SubnetId } from '../../protocol/ids.ts'
import { ingressIdOf, signIngress, subnetOfIngress, type Ingress, type IngressContent, type IngressId, type RequestId } from '../../protocol/ingress.ts'
import {
  apiCodeChunkBytesMax, clientCertificatesMemoMax, clientCertifyWaitMs, clientIngressTtlMs, clientRequestTimeoutMs, clientResubmitDelayMs, ingressNonceBytesMax, ingressPayloadBytesMax,
  ingressStreamAnswerBytesMax, ingressStreamClientQueueMax, ingressStreamConnectTimeoutMs, ingressStreamInFlightMax
} from '../../protocol/limits.ts'
import type { Signer } from '../../protocol/signature.ts'
import { decodeReceipt } from '../../protocol/receipt.ts'
import { decodeGenesis, type Subnet } from '../../protocol/subnet.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import { PylonError } from '../core/errors.ts'
import { createIdentity, identityPath, loadIdentity } from '../identity/identity-file.ts'
import { CliError } from './output.ts'

/** undici's codes for a connection the other side closed or reset mid-request (as opposed to one never made). */
const droppedConnectionCodes = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'EPIPE'])

/** GET /v1/subnets/:id (API.md). */
export interface SubnetInfo {
  id: SubnetId
  name: string
  members: string[]
  n: number
  f: number
  height: string
  stateRoot: string
  certifiedHeight?: string
  genesis: string
}

export interface ReceiptJson {
  ok: boolean
  method: string
  result: string | null
  resultUtf8: string | null
  error: string | null
  fuelUsed: string
  logs: string[]
}

/** POST /v1/ingress?wait=1 or GET /v1/ingress/:id (API.md). */
export interface IngressResult {
  ok: boolean
  status: 'pending' | 'certified' | 'skipped'
  ingressId: string
  requestId: string
  subnet: SubnetId
  height?: string
  index?: number
  actor?: ActorId
  receipt?: ReceiptJson
  certified?: string
  reason?: string
}

/** POST /v1/query (API.md). */
export interface QueryResult {
  ok: boolean
  actor: ActorId
  method: string
  result: string | null
  resultUtf8: string | null
  error: string | null
  fuelUsed: string
  height: string
}

/** What a client knows after checking a certified response: every field is covered by the certificate. */
export interface VerifiedOutcome {
  ok: boolean
  actor: ActorId
  method: string
  result: Uint8Array | null
  error: string | null
  fuelUsed: bigint
  /** The request the receipt answers: the one the client sent (verifyIngressResult checks it). */
  requestId: RequestId | null
  height: bigint
  /** Member signatures in the certificate (≥ the subnet's quorum). */
  signers: number
}

export interface ClientIdentity {
  signer: Signer
  path: string
  created: boolean
}

/**
 * The client key: --identity, else $PYLON_IDENTITY, else ~/.pylon/identity. A missing key at the
 * default path is created (the caller says so on stderr); an explicitly named one must exist.
 */
export async function clientIdentity (flag: string | undefined): Promise<ClientIdentity> {
  const location = identityPath({ flag })
  try {
    const identity = await loadIdentity(location.path)
    return { ...identity, created: false }
  } catch (error) {
    if (!(error instanceof PylonError)) throw error
    if (error.code !== 'identity-missing' || location.source !== 'default') throw new CliError(error.message, error.code)
    try {
      return { ...await createIdentity(location.path), created: true }
    } catch (raced) {
      // Another command created it a moment ago: use that one.
      if (raced instanceof PylonError && raced.code === 'identity-exists') return { ...await loadIdentity(location.path), created: false }
      throw raced
    }
  }
}

type Unsigned<T> = T extends IngressContent ? Omit<T, 'sender' | 'nonce' | 'expiryMs'> : never

/** Signs a content with a fresh random nonce and an expiry `clientIngressTtlMs` from now. */
export function signEnvelope (content: Unsigned<IngressContent>, signer: Signer, nowMs = Date.now()): Ingress {
  const full = { ...content, sender: signer.id as Principal, nonce: new Uint8Array(randomBytes(Math.min(16, ingressNonceBytesMax))), expiryMs: BigInt(nowMs + clientIngressTtlMs) } as IngressContent
  return signIngress(full, signer)
}

export class ApiClient {
  readonly url: string

  constructor (url: string) {
    this.url = url.replace(/\/$/, '')
  }

  /** GET /v1/subnets/:id, checked: the genesis must decode, verify, and hash to the id asked for. */
  async subnet (id: SubnetId, options: { signal?: AbortSignal } = {}): Promise<{ subnet: Subnet, info: SubnetInfo }> {
    const info = await this.request<SubnetInfo>('GET', `/v1/subnets/${encodeURIComponent(id)}`, options)
    const decoded = decodeGenesis(Buffer.from(String(info.genesis), 'base64'))
    if (!decoded.ok) throw new CliError(`${this.url} sent an invalid genesis for subnet ${id}: ${decoded.error}`, 'untrusted')
    // The id is the CID of the signed genesis: a node cannot hand us other members under this name.
    if (decoded.value.id !== id) throw new CliError(`${this.url} sent the genesis of ${decoded.value.id} when asked for ${id}`, 'untrusted')
    return { subnet: decoded.value, info }
  }

  async subnets (options: { signal?: AbortSignal } = {}): Promise<SubnetInfo[]> {
    return await this.request<SubnetInfo[]>('GET', '/v1/subnets', options)
  }

  /**
   * PUT /v1/code/:cid in chunks of apiCodeChunkBytesMax: the CID is computed here, the node stores
   * the code only if it hashes to it, and the CID it names back must be ours. `onProgress` gets the
   * bytes acknowledged after each chunk.
   */
  async uploadCode (subnet: SubnetId, code: Uint8Array, options: { signal?: AbortSignal, onProgress?: (sent: number, total: number, step: { chunks: number, held: boolean }) => void } = {}): Promise<CID> {
    const cid = rawCidOf(code)
    const upload = randomBytes(9).toString('base64url')
    const base = `/v1/code/${cid.toString()}?subnet=${encodeURIComponent(subnet)}&total=${code.length}&upload=${upload}`
    let answer: { cid?: string, complete?: boolean, held?: boolean } = {}
    for (let offset = 0; offset < code.length && answer.complete !== true; offset += apiCodeChunkBytesMax) {
      const chunk = code.subarray(offset, Math.min(code.length, offset + apiCodeChunkBytesMax))
      answer = await this.request<{ cid?: string, complete?: boolean, held?: boolean }>('PUT', `${base}&offset=${offset}`, { signal: options.signal, body: chunk, type: 'application/octet-stream' })
      // A node that already holds the code answers the first chunk as complete.
      const held = answer.held === true
      options.onProgress?.(held ? code.length : offset + chunk.length, code.length, { chunks: offset / apiCodeChunkBytesMax + 1, held })
    }
    if (answer.complete !== true || answer.cid !== cid.toString()) throw new CliError(`${this.url} stored the code as ${answer.cid ?? 'nothing'}, expected ${cid.toString()}`, 'untrusted')
    return cid
  }

  /**
   * Submits an envelope and waits (bounded by `waitMs`) for its certified result. Asking again is
   * sending the same envelope again: a node answers a resubmission with the request's result (from
   * its store if it restarted meanwhile), and admits it if it lost it unexecuted, so the request
   * runs once whichever happened. A node too busy to answer in time (an install transpiling a large
   * component holds its event loop for seconds), failing with a 5xx, or whose connection dropped
   * (a restart) is asked again until the wait ends; one that refuses the connection is too, once it
   * answered this submit before. Returns the last answer, `pending` when time ran out.
   */
  async submit (ingress: Ingress, options: { waitMs?: number, signal?: AbortSignal } = {}): Promise<IngressResult> {
    const deadline = Date.now() + (options.waitMs ?? clientCertifyWaitMs)
    const pending: IngressResult = { ok: true, status: 'pending', ingressId: ingress.id, requestId: ingress.requestId, subnet: subnetOfIngress(ingress.content) }
    let reached = false
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await new Promise(resolve => setTimeout(resolve, clientResubmitDelayMs))
      let result: IngressResult
      try {
        result = await this.request<IngressResult>('POST', '/v1/ingress?wait=1', {
          body: ingress.bytes, type: 'application/cbor', timeoutMs: Math.max(1, Math.min(deadline - Date.now(), clientCertifyWaitMs + clientRequestTimeoutMs)), signal: options.signal
        })
        reached = true
      } catch (error) {
        if (!(error instanceof CliError)) throw error
        const absent = error.code === 'no-daemon'
        if (absent ? !reached : error.code !== 'timeout' && error.code !== 'connection-lost' && !/^http-5\d\d$/.test(error.code)) throw error
        if (!absent) reached = true
        result = { ...pending, reason: error.message }
      }
      if (result.status !== 'pending' || Date.now() >= deadline) return result
    }
  }

  /** POST /v1/query with a signed query envelope. */
  async query (ingress: Ingress, options: { signal?: AbortSignal } = {}): Promise<QueryResult> {
    return await this.request<QueryResult>('POST', '/v1/query', { body: ingress.bytes, type: 'application/cbor', signal: options.signal })
  }

  async request<T> (method: 'GET' | 'POST' | 'PUT', path: string, options: { body?: Uint8Array, type?: string, timeoutMs?: number, signal?: AbortSignal, notFoundIsPending?: boolean } = {}): Promise<T> {
    const signals = [AbortSignal.timeout(options.timeoutMs ?? clientRequestTimeoutMs), ...(options.signal === undefined ? [] : [options.signal])]
    let response: Response
    try {
      response = await fetch(this.url + path, {
        method,
        body: options.body,
        headers: options.type === undefined ? {} : { 'content-type': options.type },
        signal: AbortSignal.any(signals)
      })
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new CliError(`daemon at ${this.url} did not answer ${method} ${path.replace(/\?.*/, '')} in time`, 'timeout')
      // A connection the daemon closed mid-request (it stopped or restarted) is not a missing daemon.
      if (droppedConnectionCodes.has(String(((error as Error).cause as { code?: unknown } | undefined)?.code))) {
        throw new CliError(`the connection to the daemon at ${this.url} dropped during ${method} ${path.replace(/\?.*/, '')}`, 'connection-lost')
      }
      throw new CliError(`no daemon at ${this.url}: is \`pylon daemon\` running?`, 'no-daemon')
    }
    const text = await response.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new CliError(`daemon at ${this.url} answered ${response.status} for ${method} ${path.replace(/\?.*/, '')} with non-JSON: ${text.trim().slice(0, 120)}`, 'api')
    }
    if (response.status === 404 && options.notFoundIsPending === true) return undefined as T
    if (response.status >= 400) throw apiError(this.url, response.status, body)
    return body as T
  }
}

/** One answer of GET /v1/ingress/stream: the POST /v1/ingress?wait=1 answer (JSON) with its HTTP status as `code`. */
export interface StreamResult extends IngressResult {
  code: number
  /** Set when the stream was opened with `subnet` and the answer is certified: what the certificate covers, checked. */
  verified?: VerifiedOutcome
}

export interface IngressStreamOptions {
  /** Check every certified answer against this subnet (verifyIngressResult) before handing it out; needs `submit(Ingress)`. */
  subnet?: Subnet
  /** Envelopes sent and not yet answered; more wait here. @default ingressStreamInFlightMax (the node's bound) */
  inFlightMax?: number
  /** @default ingressStreamConnectTimeoutMs */
  connectTimeoutMs?: number
  /**
   * After the stream drops (connection lost, node stopping or restarting), how long to keep opening
   * it again, every clientResubmitDelayMs; 0 never reopens. @default clientCertifyWaitMs
   */
  reconnectMs?: number
  signal?: AbortSignal
}

interface StreamPending {
  ingress: Ingress | undefined
  bytes: Uint8Array
  id: IngressId
  deadline: number
  resolve: (result: StreamResult) => void
  reject: (error: CliError) => void
}

/** One open WebSocket of a stream, and the TCP socket under it (plain ws:// only, for corking). */
interface Connection {
  ws: WebSocket
  socket: Socket | undefined
}

/**
 * Close codes that say the node refused what this client sent (text frames, too many in flight):
 * opening the stream again would only repeat it, so the stream fails instead of reconnecting.
 */
const refusalCloseCodes = new Set([1003, 1008])

/**
 * Many envelopes over one WebSocket (GET /v1/ingress/stream) instead of an HTTP request each:
 * `submit` pipelines (up to `inFlightMax` unanswered, the rest queued in order) and resolves with
 * the envelope's answer, matched by IngressId (answers come in completion order). Refusals reject
 * with the CliError ApiClient would throw for the same HTTP answer; a `pending` answer is sent
 * again while its wait lasts (the node answers a resubmission with the result). A stream that
 * drops (the connection, or the node restarting) is opened again for up to `reconnectMs`, and the
 * unanswered envelopes are sent again, in order: a node answers a resubmission with its result and
 * runs none twice. Use it for many updates from one process (a backend, a benchmark); `pylon call`
 * sends one and keeps HTTP.
 */
export class IngressStream {
  readonly url: string
  readonly #options: IngressStreamOptions
  readonly #subnet: Subnet | undefined
  /** Certificates already checked for earlier answers: the answers of one height share one. */
  readonly #certificates = new BoundedMap<string, true>(clientCertificatesMemoMax)
  readonly #inFlightMax: number
  readonly #reconnectMs: number
  /** Sent on the current connection, unanswered, by IngressId (the same bytes sent twice wait in order). */
  readonly #sent = new Map<IngressId, StreamPending[]>()
  #inFlight = 0
  #queue: StreamPending[] = []
  #queueHead = 0
  /** The open connection; undefined while the stream reconnects. */
  #connection: Connection | undefined
  #closed: CliError | undefined
  /** close() was called: the next close of the WebSocket is ours, not a drop. */
  #closing = false
  readonly #whenClosed: Promise<void>
  #resolveClosed: () => void = () => {}
  #corked = false
  #reconnects = 0

  private constructor (url: string, connection: Connection, options: IngressStreamOptions) {
    this.url = url
    this.#options = options
    this.#subnet = options.subnet
    this.#inFlightMax = Math.max(1, Math.min(options.inFlightMax ?? ingressStreamInFlightMax, ingressStreamInFlightMax))
    this.#reconnectMs = Math.max(0, options.reconnectMs ?? clientCertifyWaitMs)
    this.#whenClosed = new Promise(resolve => { this.#resolveClosed = resolve })
    this.#attach(connection)
  }

  /** Opens the stream; a node that refuses it (busy, stopping, too many streams) throws its one-line error. */
  static async open (url: string, options: IngressStreamOptions = {}): Promise<IngressStream> {
    const base = url.replace(/\/$/, '')
    return new IngressStream(base, await IngressStream.#connect(base, options), options)
  }

  static async #connect (base: string, options: IngressStreamOptions): Promise<Connection> {
    let socket: Socket | undefined
    const plain = base.startsWith('http:')
    const ws = new WebSocket(base.replace(/^http/, 'ws') + '/v1/ingress/stream', {
      handshakeTimeout: options.connectTimeoutMs ?? ingressStreamConnectTimeoutMs, maxPayload: ingressStreamAnswerBytesMax, perMessageDeflate: false,
      // ws's own connect, keeping the socket: http.request hands it the same options.
      ...(plain ? { createConnection: ((opts: NetConnectOpts) => (socket = connect(opts))) as typeof connect } : {})
    })
    // Errors after the outcome below (terminating a refused handshake emits one) have no one to tell.
    ws.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        done(new CliError(`opening an ingress stream to ${base} was cancelled`, 'aborted'))
        ws.terminate()
      }
      const done = (error?: CliError): void => {
        options.signal?.removeEventListener('abort', onAbort)
        ws.off('open', onOpen).off('error', onError)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onOpen = (): void => { done() }
      const onError = (error: Error): void => {
        done(/timeout/i.test(error.message) ? new CliError(`daemon at ${base} did not open an ingress stream in time`, 'timeout') : new CliError(`no daemon at ${base}: is \`pylon daemon\` running? (${error.message})`, 'no-daemon'))
      }
      ws.on('open', onOpen).on('error', onError)
      if (options.signal?.aborted === true) onAbort()
      else options.signal?.addEventListener('abort', onAbort, { once: true })
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = []
        let length = 0
        res.on('data', (chunk: Buffer) => { if ((length += chunk.length) <= 64 * 1024) chunks.push(chunk) })
        res.on('end', () => {
          let body: unknown
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          } catch {
            body = undefined
          }
          done(apiError(base, res.statusCode ?? 0, body))
          ws.terminate()
        })
      })
    })
    return { ws, socket }
  }

  #attach (connection: Connection): void {
    const { ws } = connection
    this.#connection = connection
    ws.on('message', (data, isBinary) => { if (this.#connection === connection) this.#onAnswer(data as Buffer, isBinary) })
    ws.once('close', (code, reason) => {
      if (this.#connection === connection) this.#dropped(code, reason.toString())
    })
    ws.on('error', () => {}) // 'close' follows and says what happened
  }

  /** Envelopes sent and not answered yet, and those waiting for a slot (or for the stream to reopen). */
  get pending (): { inFlight: number, queued: number } {
    return { inFlight: this.#inFlight, queued: this.#queue.length - this.#queueHead }
  }

  /** Times the stream was opened again after it dropped. */
  get reconnects (): number {
    return this.#reconnects
  }

  /**
   * Sends one envelope and resolves with its answer (certified, skipped, or pending once `waitMs`
   * is spent). With `subnet` set, a certified answer is verified first (throws 'untrusted').
   */
  async submit (envelope: Ingress | Uint8Array, options: { waitMs?: number } = {}): Promise<StreamResult> {
    const ingress = envelope instanceof Uint8Array ? undefined : envelope
    if (ingress === undefined && this.#subnet !== undefined) throw new CliError('a verified stream needs the signed Ingress (its RequestId), not bare bytes', 'usage')
    const bytes = ingress?.bytes ?? envelope as Uint8Array
    return await new Promise<StreamResult>((resolve, reject) => {
      if (this.#closed !== undefined) {
        reject(this.#closed)
        return
      }
      const entry: StreamPending = { ingress, bytes, id: ingress?.id ?? ingressIdOf(bytes), deadline: Date.now() + (options.waitMs ?? clientCertifyWaitMs), resolve, reject }
      if (this.#connection !== undefined && this.#inFlight < this.#inFlightMax) {
        this.#send(entry)
        return
      }
      if (this.#queue.length - this.#queueHead >= ingressStreamClientQueueMax) {
        reject(new CliError(`ingress stream to ${this.url} has ${ingressStreamClientQueueMax} envelopes waiting for a slot: wait for answers before submitting more`, 'busy'))
        return
      }
      this.#queue.push(entry)
    })
  }

  /** Closes the stream (1000); whatever is still unanswered rejects with 'stream-closed'. */
  async close (): Promise<void> {
    this.#closing = true
    const ws = this.#connection?.ws
    if (ws === undefined) {
      // Between connections: nothing to close but the stream itself.
      this.#fail(new CliError(`ingress stream to ${this.url} closed by the client`, 'stream-closed'))
      return
    }
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'client done')
    const timer = setTimeout(() => { ws.terminate() }, 2_000)
    await this.#whenClosed
    clearTimeout(timer)
  }

  /** The WebSocket closed: ours (close()), a refusal (fail), or a drop (open it again while envelopes may still be answered). */
  #dropped (code: number, reason: string): void {
    this.#connection = undefined
    const error = new CliError(`ingress stream to ${this.url} closed (${code}${reason.length > 0 ? `: ${reason}` : ''})`, 'stream-closed')
    if (this.#closing || refusalCloseCodes.has(code) || this.#reconnectMs === 0) {
      this.#fail(error)
      return
    }
    // What the node never answered goes out again first, in the order it was sent.
    const unanswered = [...this.#sent.values()].flat()
    this.#sent.clear()
    this.#inFlight = 0
    this.#queue = [...unanswered, ...this.#queue.slice(this.#queueHead)]
    this.#queueHead = 0
    void this.#reconnect(error)
  }

  async #reconnect (dropped: CliError): Promise<void> {
    const until = Date.now() + this.#reconnectMs
    let last: CliError = dropped
    while (!this.#closing) {
      this.#expire(last)
      if (Date.now() >= until) break
      await new Promise(resolve => setTimeout(resolve, clientResubmitDelayMs))
      if (this.#closing) break
      try {
        const connection = await IngressStream.#connect(this.url, this.#options)
        if (this.#closing) {
          connection.ws.terminate()
          break
        }
        this.#reconnects++
        this.#attach(connection)
        this.#drain()
        return
      } catch (error) {
        last = error instanceof CliError ? error : new CliError(String(error), 'connection-lost')
        if (last.code === 'aborted') break
      }
    }
    this.#fail(this.#closing ? new CliError(`ingress stream to ${this.url} closed by the client`, 'stream-closed') : new CliError(`ingress stream to ${this.url} dropped and could not be opened again within ${this.#reconnectMs} ms: ${last.message}`, 'connection-lost'))
  }

  /** While the stream is down: rejects the queued envelopes whose own wait is over. */
  #expire (why: CliError): void {
    const now = Date.now()
    const live: StreamPending[] = []
    for (let i = this.#queueHead; i < this.#queue.length; i++) {
      const entry = this.#queue[i]!
      if (entry.deadline <= now) entry.reject(new CliError(`ingress stream to ${this.url} is down and the wait for ${entry.id} is over: ${why.message}`, 'connection-lost'))
      else live.push(entry)
    }
    this.#queue = live
    this.#queueHead = 0
  }

  #send (entry: StreamPending): void {
    const { ws, socket } = this.#connection!
    this.#inFlight++
    const waiting = this.#sent.get(entry.id)
    if (waiting === undefined) this.#sent.set(entry.id, [entry])
    else waiting.push(entry)
    if (socket !== undefined && !this.#corked) {
      this.#corked = true
      socket.cork()
      process.nextTick(() => {
        this.#corked = false
        socket.uncork()
      })
    }
    ws.send(entry.bytes)
  }

  #onAnswer (data: Buffer, isBinary: boolean): void {
    let frame: Record<string, unknown> | undefined
    try {
      frame = isBinary ? undefined : JSON.parse(data.toString('utf8')) as Record<string, unknown>
    } catch {}
    if (frame === undefined || frame === null || typeof frame !== 'object' || typeof frame.code !== 'number' || typeof frame.ingressId !== 'string') {
      // A node that answers garbage is not reconnected to.
      this.#closing = true
      this.#connection?.ws.close(1008, 'answers are JSON text frames naming code and ingressId')
      return
    }
    const waiting = this.#sent.get(frame.ingressId as IngressId)
    const entry = waiting?.shift()
    // An answer for nothing we sent: the node misbehaves; there is no one to give it to.
    if (entry === undefined) return
    if (waiting!.length === 0) this.#sent.delete(entry.id)
    this.#inFlight--
    this.#settle(entry, frame as unknown as StreamResult)
    this.#drain()
  }

  #settle (entry: StreamPending, answer: StreamResult): void {
    if (answer.code >= 400) {
      entry.reject(apiError(this.url, answer.code, answer))
      return
    }
    // Still pending after the node's own wait: ask again while ours lasts (a resubmission is answered with the result).
    if (answer.status === 'pending' && Date.now() < entry.deadline && this.#closed === undefined) {
      this.#queue.push(entry)
      return
    }
    if (answer.status === 'certified' && this.#subnet !== undefined) {
      try {
        answer.verified = verifyIngressResult(answer, this.#subnet, entry.ingress!, this.#certificates)
      } catch (error) {
        entry.reject(error as CliError)
        return
      }
    }
    entry.resolve(answer)
  }

  #drain (): void {
    while (this.#connection !== undefined && this.#inFlight < this.#inFlightMax && this.#queueHead < this.#queue.length && this.#closed === undefined) {
      this.#send(this.#queue[this.#queueHead++]!)
    }
    // Compacted once the consumed head dominates, so the queue's memory follows what waits.
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead)
      this.#queueHead = 0
    }
  }

  #fail (error: CliError): void {
    this.#closed ??= error
    for (const list of this.#sent.values()) for (const entry of list) entry.reject(error)
    this.#sent.clear()
    this.#inFlight = 0
    for (let i = this.#queueHead; i < this.#queue.length; i++) this.#queue[i]!.reject(error)
    this.#queue.length = 0
    this.#queueHead = 0
    this.#resolveClosed()
  }
}

/** One line for an API error body `{ ok:false, error, reason }`, with a stable code. */
function apiError (url: string, status: number, body: unknown): CliError {
  const { error, reason, members } = (body ?? {}) as { error?: unknown, reason?: unknown, members?: unknown }
  const message = typeof error === 'string' ? error : `HTTP ${status}`
  const code = typeof reason === 'string' ? reason : `http-${status}`
  if (code === 'not-member') {
    return new CliError(`${url} does not serve that subnet (${message}); send it to a member${Array.isArray(members) ? ` (${members.length} members)` : ''}`, code)
  }
  return new CliError(`${url}: ${message}`, code)
}

/**
 * Checks an update's or install's answer to the envelope `sent`: the certificate is by a quorum of
 * the subnet's genesis members, the receipt is under its receipts root at the stated position, the
 * receipt answers `sent`'s request (not another client's, certified just as well), and it says
 * what the JSON says. Throws CliError('untrusted') naming the first mismatch.
 */
/**
 * Checks a certified answer against the subnet's members and the request we sent. With `memo`
 * (certificates verified before, see CertificateMemo), an answer whose certificate was checked for
 * an earlier answer costs only its receipt proof.
 */
export function verifyIngressResult (result: IngressResult, subnet: Subnet, sent: Pick<Ingress, 'requestId'>, memo?: CertificateMemo): VerifiedOutcome {
  if (result.certified === undefined) throw new CliError(`the answer for ${result.ingressId} carries no certified response`, 'untrusted')
  const response = decodeCertifiedResponse(Buffer.from(result.certified, 'base64'))
  if (!response.ok) throw new CliError(`certified response: ${response.error}`, 'untrusted')
  const verified = verifyCertifiedResponse(response.value, subnet, memo)
  if (!verified.ok) throw new CliError(`certified response does not verify against subnet ${subnet.id}: ${verified.error}`, 'untrusted')
  const receipt = certifiedReceipt(verified.value.receipt)
  // Compared with the id we computed from what we signed, never with the node's JSON: a node could
  // otherwise answer with another request's certified receipt for the same actor and method.
  if (receipt.requestId !== sent.requestId) {
    throw new CliError(`certified receipt answers request ${receipt.requestId ?? 'none'}, not ours (${sent.requestId})`, 'untrusted')
  }
  const expect = (what: string, holds: boolean): void => {
    if (!holds) throw new CliError(`certified receipt disagrees with the node's answer on ${what}`, 'untrusted')
  }
  expect('height', result.height === undefined || BigInt(result.height) === verified.value.height)
  expect('index', result.index === undefined || result.index === receipt.index)
  expect('actor', result.actor === undefined || result.actor === receipt.actor)
  expect('ok', result.receipt === undefined || result.receipt.ok === receipt.ok)
  expect('result', result.receipt === undefined || (result.receipt.result ?? null) === (receipt.result === null ? null : Buffer.from(receipt.result).toString('base64')))
  expect('subnet', subnetOfActorId(receipt.actor) === subnet.id)
  return { ...receipt, height: verified.value.height, signers: response.value.certificate.signers.length }
}

/** The certified receipt's fields (protocol/receipt.ts decodeReceipt, without its logs); bytes that are not a receipt are untrusted. */
function certifiedReceipt (bytes: Uint8Array): Omit<VerifiedOutcome, 'height' | 'signers'> & { index: number } {
  const decoded = decodeReceipt(bytes)
  if (!decoded.ok) throw new CliError(`certified receipt is not a receipt: ${decoded.error}`, 'untrusted')
  const { logs: _logs, ...receipt } = decoded.value
  return receipt
}

/** A command-line payload as UTF-8 bytes, refused (naming both sizes) when an envelope cannot carry it. */
export function payloadOf (text: string, what = 'payload'): Uint8Array {
  const bytes = new TextEncoder().encode(text)
  if (bytes.length > ingressPayloadBytesMax) throw new CliError(`${what} too large: ${bytes.length} > ${ingressPayloadBytesMax} bytes`, 'too-large')
  return bytes
}

/** Says on stderr that a client identity was just created, so the user knows which key signs. */
export function noteCreatedIdentity (identity: ClientIdentity): void {
  if (identity.created) process.stderr.write(`pylon: created a client identity at ${identity.path} (principal ${identity.signer.id})\n`)
}

/** The payload of a call: the PAYLOAD argument as UTF-8, or the bytes of --payload-file (not both). */
export async function payloadFrom (text: string, file: string | undefined): Promise<Uint8Array> {
  if (file === undefined) return payloadOf(text)
  if (text !== '') throw new CliError('give the payload as an argument or with --payload-file, not both')
  let size: number
  try {
    size = (await stat(file)).size
  } catch {
    throw new CliError(`cannot read --payload-file ${file}: no such file`)
  }
  if (size > ingressPayloadBytesMax) throw new CliError(`payload too large: ${size} > ${ingressPayloadBytesMax} bytes (${file})`, 'too-large')
  return new Uint8Array(await readFile(file))
}
