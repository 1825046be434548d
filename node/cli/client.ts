// The HTTP API client behind `pylon deploy|call|query` (and the devnet test and benchmark): signs
// envelopes with the client identity, talks to one daemon, and checks every certified answer
// against the subnet's genesis itself. It trusts nothing a node says that it can verify instead.

import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { CID, decode, rawCidOf } from '../../protocol/codec.ts'
import { decodeCertifiedResponse, verifyCertifiedResponse } from '../../protocol/certification.ts'
import { subnetOfActorId, type ActorId, type Principal, type SubnetId } from '../../protocol/ids.ts'
import { signIngress, subnetOfIngress, type Ingress, type IngressContent, type RequestId } from '../../protocol/ingress.ts'
import { apiCodeChunkBytesMax, clientCertifyWaitMs, clientIngressTtlMs, clientRequestTimeoutMs, ingressNonceBytesMax, ingressPayloadBytesMax } from '../../protocol/limits.ts'
import type { Signer } from '../../protocol/signature.ts'
import { decodeGenesis, type Subnet } from '../../protocol/subnet.ts'
import { PylonError } from '../core/errors.ts'
import { createIdentity, identityPath, loadIdentity } from '../identity/identity-file.ts'
import { CliError } from './output.ts'

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
   * Submits an envelope and waits (bounded by `waitMs`) for its certified result: the node's own
   * wait, then polling GET /v1/ingress/:id. A node too busy to answer in time (an install
   * transpiling a large component holds its event loop for seconds) is polled again, not given up
   * on. Returns the last answer, `pending` when time ran out.
   */
  async submit (ingress: Ingress, options: { waitMs?: number, signal?: AbortSignal } = {}): Promise<IngressResult> {
    const deadline = Date.now() + (options.waitMs ?? clientCertifyWaitMs)
    const pending: IngressResult = { ok: true, status: 'pending', ingressId: ingress.id, requestId: ingress.requestId, subnet: subnetOfIngress(ingress.content) }
    let result = await this.#orPendingOnTimeout(pending, async () => await this.request<IngressResult>('POST', '/v1/ingress?wait=1', {
      body: ingress.bytes, type: 'application/cbor', timeoutMs: Math.max(1, Math.min(deadline - Date.now(), clientCertifyWaitMs + clientRequestTimeoutMs)), signal: options.signal
    }))
    while (result.status === 'pending' && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 250))
      // Naming the subnet lets a node that is not a member ask one of its members.
      const path = `/v1/ingress/${encodeURIComponent(ingress.id)}?subnet=${encodeURIComponent(pending.subnet)}`
      result = await this.#orPendingOnTimeout(result, async () => await this.request<IngressResult | undefined>('GET', path, { signal: options.signal, notFoundIsPending: true }) ?? result)
    }
    return result
  }

  /** The answer, or `pending` when the node was too slow or failed in a way a retry may cure (HTTP 5xx). */
  async #orPendingOnTimeout (pending: IngressResult, ask: () => Promise<IngressResult>): Promise<IngressResult> {
    try {
      return await ask()
    } catch (error) {
      if (error instanceof CliError && (error.code === 'timeout' || /^http-5\d\d$/.test(error.code))) return { ...pending, reason: error.message }
      throw error
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
export function verifyIngressResult (result: IngressResult, subnet: Subnet, sent: Pick<Ingress, 'requestId'>): VerifiedOutcome {
  if (result.certified === undefined) throw new CliError(`the answer for ${result.ingressId} carries no certified response`, 'untrusted')
  const response = decodeCertifiedResponse(Buffer.from(result.certified, 'base64'))
  if (!response.ok) throw new CliError(`certified response: ${response.error}`, 'untrusted')
  const verified = verifyCertifiedResponse(response.value, subnet)
  if (!verified.ok) throw new CliError(`certified response does not verify against subnet ${subnet.id}: ${verified.error}`, 'untrusted')
  const receipt = decodeReceipt(verified.value.receipt)
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

function decodeReceipt (bytes: Uint8Array): Omit<VerifiedOutcome, 'height' | 'signers'> & { index: number } {
  const decoded = decode(bytes)
  const r = (decoded.ok ? decoded.value : undefined) as Record<string, unknown> | undefined
  if (r === undefined || typeof r.actor !== 'string' || typeof r.ok !== 'boolean' || typeof r.index !== 'number' || typeof r.method !== 'string') {
    throw new CliError('certified receipt is not a receipt', 'untrusted')
  }
  return {
    index: r.index,
    actor: r.actor as ActorId,
    method: r.method,
    ok: r.ok,
    result: r.result instanceof Uint8Array ? r.result : null,
    error: typeof r.error === 'string' ? r.error : null,
    fuelUsed: typeof r.fuelUsed === 'bigint' ? r.fuelUsed : BigInt(r.fuelUsed as number),
    requestId: typeof r.requestId === 'string' ? r.requestId as RequestId : null
  }
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
