// The subnet part of the HTTP API (contract: /tmp/pylon-notes/API.md, README): code upload, ingress
// submission with an optional wait for the certified result, queries, subnet and actor lookups, and
// the equivocation evidence a member stored (each record verified before it is shown).
// It reads its own bodies under per-route bounds, answers every bad request with a JSON error
// naming the value and the limit, and never decides anything a subnet decides.

import { encodeCertifiedResponse } from '../../protocol/certification.ts'
import { actorIndexOf, parseActorId, parseSubnetId, subnetOfActorId, type SubnetId } from '../../protocol/ids.ts'
import { decodeIngress, subnetOfIngress, type IngressId } from '../../protocol/ingress.ts'
import { membershipOf, type Membership } from '../../protocol/consensus/certificate.ts'
import { decodeEvidence, verifyEvidence } from '../../protocol/consensus/evidence.ts'
import { hex, type Vote } from '../../protocol/consensus/messages.ts'
import { apiActorsPageMax, apiEvidencePageMax, apiCodeBytesMax, apiCodeChunkBytesMax, apiIngressWaitMs, ingressBytesMax } from '../../protocol/limits.ts'
import type { Receipt } from '../../protocol/receipt.ts'
import { encodeGenesis, type Subnet } from '../../protocol/subnet.ts'
import type { Clock } from '../core/clock.ts'
import type { ApiAnswer, ApiRequest, ApiRoute } from './api-server.ts'
import { CodeUploads, parseCodeCid } from './code-uploads.ts'
import type { ActorInfo, IngressResult, SubnetService } from '../subnet/subnet-service.ts'
import type { StoredEvidence } from '../store/store.ts'
import type { RelayAnswer, RelayRequest } from '../subnet/subnet-manager.ts'
import type { Result } from '../../protocol/result.ts'

/** What the routes need from the subnet manager. */
export interface SubnetDirectory {
  list (): SubnetService[]
  get (id: SubnetId): SubnetService | undefined
  known (id: SubnetId): Subnet | undefined
  /** Hands a request for a subnet this node does not serve to one of its members. */
  relay (subnet: Subnet, request: RelayRequest, signal?: AbortSignal, sticky?: string): Promise<Result<RelayAnswer>>
}

const statusOfRefusal: Record<string, number> = {
  'too-large': 413, malformed: 400, 'bad-signature': 400, expired: 400, 'expiry-too-far': 400, query: 400,
  'wrong-subnet': 421, duplicate: 409, replay: 409, 'rate-limited': 429, full: 503, 'not-member': 421, unreachable: 502, 'unknown-actor': 404
}

class HttpError extends Error {
  readonly status: number
  readonly body: Record<string, unknown>
  constructor (status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message)
    this.status = status
    this.body = { ok: false, error: message, ...extra }
  }
}

/** The subnet routes, mounted on the ApiServer by daemon.ts. */
export function subnetRoutes (directory: SubnetDirectory, clock: Clock): ApiRoute[] {
  const h = new SubnetHandlers(directory, clock)
  const wrap = (fn: (r: ApiRequest) => Promise<ApiAnswer>) => async (r: ApiRequest): Promise<ApiAnswer> => {
    try {
      return await fn(r)
    } catch (error) {
      if (error instanceof HttpError) return { status: error.status, json: error.body }
      throw error
    }
  }
  return [
    { method: 'POST', path: '/v1/code', bodyBytesMax: apiCodeBytesMax, handle: wrap(async r => await h.code(r)) },
    { method: 'PUT', path: '/v1/code/:cid', bodyBytesMax: apiCodeChunkBytesMax, handle: wrap(async r => await h.codeChunk(r)) },
    { method: 'POST', path: '/v1/ingress', bodyBytesMax: ingressBytesMax, handle: wrap(async r => await h.ingress(r)) },
    { method: 'GET', path: '/v1/ingress/:id', handle: wrap(async r => await h.ingressStatus(r.params.id!, r.query, r.signal)) },
    { method: 'POST', path: '/v1/query', bodyBytesMax: ingressBytesMax, handle: wrap(async r => await h.query(r)) },
    { method: 'GET', path: '/v1/subnets', handle: wrap(async () => ({ status: 200, json: directory.list().map(subnetJson) })) },
    { method: 'GET', path: '/v1/subnets/:id', handle: wrap(async r => await h.subnet(r.params.id!, r.signal)) },
    { method: 'GET', path: '/v1/subnets/:id/actors', handle: wrap(async r => await h.actors(r.params.id!, r.query, r.signal)) },
    { method: 'GET', path: '/v1/subnets/:id/evidence', handle: wrap(async r => await h.evidence(r.params.id!, r.query, r.signal)) },
    { method: 'GET', path: '/v1/actors/:actorId', handle: wrap(async r => await h.actor(r.params.actorId!, r.signal)) }
  ]
}

/**
 * How a member answers requests a non-member relayed (node/subnet/subnet-manager.ts): the same
 * handlers as its own API, for the routes a client uses on a subnet, never relayed further.
 */
export function relayHandler (directory: SubnetDirectory, clock: Clock): (request: RelayRequest, signal: AbortSignal) => Promise<RelayAnswer> {
  const h = new SubnetHandlers(directory, clock, { relayed: true })
  const routes: Array<{ method: string, pattern: RegExp, handle: (r: ApiRequest, m: RegExpMatchArray) => Promise<ApiAnswer> }> = [
    { method: 'POST', pattern: /^\/v1\/ingress$/, handle: async r => await h.ingress(r) },
    { method: 'GET', pattern: /^\/v1\/ingress\/([^/]+)$/, handle: async (r, m) => await h.ingressStatus(decodeURIComponent(m[1]!), r.query) },
    { method: 'POST', pattern: /^\/v1\/query$/, handle: async r => await h.query(r) },
    { method: 'PUT', pattern: /^\/v1\/code\/([^/]+)$/, handle: async (r, m) => await h.codeChunk({ ...r, params: { cid: decodeURIComponent(m[1]!) } }) },
    { method: 'GET', pattern: /^\/v1\/subnets\/([^/]+)$/, handle: async (r, m) => await h.subnet(decodeURIComponent(m[1]!), r.signal) },
    { method: 'GET', pattern: /^\/v1\/subnets\/([^/]+)\/actors$/, handle: async (r, m) => await h.actors(decodeURIComponent(m[1]!), r.query, r.signal) },
    { method: 'GET', pattern: /^\/v1\/subnets\/([^/]+)\/evidence$/, handle: async (r, m) => await h.evidence(decodeURIComponent(m[1]!), r.query, r.signal) },
    { method: 'GET', pattern: /^\/v1\/actors\/([^/]+)$/, handle: async (r, m) => await h.actor(decodeURIComponent(m[1]!), r.signal) }
  ]
  return async (request, signal) => {
    for (const route of routes) {
      const match = request.method === route.method ? request.path.match(route.pattern) : null
      if (match === null) continue
      const r: ApiRequest = { method: request.method, path: request.path, params: {}, query: new URLSearchParams(request.query), headers: {}, body: request.body, signal }
      try {
        const answer = await route.handle(r, match)
        return { status: answer.status, json: answer.json ?? null }
      } catch (error) {
        if (error instanceof HttpError) return { status: error.status, json: error.body }
        return { status: 500, json: { ok: false, error: `relayed request failed: ${(error as Error).message}` } }
      }
    }
    return { status: 404, json: { ok: false, error: `no relayed route for ${request.method} ${request.path}` } }
  }
}

class SubnetHandlers {
  readonly #dir: SubnetDirectory
  readonly #clock: Clock
  readonly #uploads: CodeUploads
  /** Answering for a non-member that relayed the request: never relay it again. */
  readonly #relayed: boolean

  constructor (directory: SubnetDirectory, clock: Clock, options: { relayed?: boolean } = {}) {
    this.#dir = directory
    this.#clock = clock
    this.#uploads = new CodeUploads(clock)
    this.#relayed = options.relayed === true
  }

  /**
   * A request for a subnet this node knows but does not serve, answered by one of its members.
   * Certified answers are checked by the client against the subnet's genesis; nothing here is trusted.
   */
  async #viaMember (subnet: SubnetId, request: Omit<RelayRequest, 'body'> & { body?: Uint8Array }, signal: AbortSignal, sticky?: string): Promise<ApiAnswer> {
    const known = this.#dir.known(subnet)
    if (known === undefined) throw new HttpError(404, `unknown subnet ${subnet}: this node neither serves nor knows it`, { reason: 'unknown-subnet', subnet })
    if (this.#relayed) throw new HttpError(421, `this node is not a member of subnet ${subnet}; ask one of its members`, { reason: 'not-member', subnet, members: known.memberIds })
    const answer = await this.#dir.relay(known, { ...request, body: request.body ?? new Uint8Array(0) }, signal, sticky)
    if (!answer.ok) throw new HttpError(502, answer.error, { reason: 'unreachable', subnet, members: known.memberIds })
    return { status: answer.value.status, json: answer.value.json }
  }

  async subnet (raw: string, signal?: AbortSignal): Promise<ApiAnswer> {
    const id = parseSubnetId(raw)
    if (!id.ok) throw new HttpError(400, `not a subnet id: ${id.error}`)
    const service = this.#dir.get(id.value)
    if (service !== undefined) return { status: 200, json: { ...subnetJson(service), evidence: await service.store.evidenceCount() } }
    const known = this.#dir.known(id.value)
    if (known === undefined || this.#relayed) throw new HttpError(404, `this node does not serve subnet ${id.value}`, { reason: 'unknown-subnet' })
    // A member tells the height; if none answers, the genesis alone still lets a client verify.
    try {
      return await this.#viaMember(id.value, { method: 'GET', path: `/v1/subnets/${id.value}`, query: '' }, signal ?? AbortSignal.timeout(apiIngressWaitMs))
    } catch {
      return { status: 200, json: { ...genesisJson(known), serving: false } }
    }
  }

  /** GET /v1/subnets/:id/actors?after=INDEX&limit=N: one bounded page of installed actors, in index order. */
  async actors (raw: string, query: URLSearchParams, signal?: AbortSignal): Promise<ApiAnswer> {
    const id = parseSubnetId(raw)
    if (!id.ok) throw new HttpError(400, `not a subnet id: ${id.error}`)
    const service = this.#dir.get(id.value)
    if (service === undefined) return await this.#viaMember(id.value, { method: 'GET', path: `/v1/subnets/${id.value}/actors`, query: query.toString() }, signal ?? AbortSignal.timeout(apiIngressWaitMs))
    const limit = integerParam(query, 'limit', apiActorsPageMax, 1n, BigInt(apiActorsPageMax))
    // after + 1 is the first index read, so it must stay a u64.
    const after = integerParam(query, 'after', 0, 0n, 2n ** 64n - 2n)
    const page = await service.actors({ after, limit: Number(limit) + 1 })
    const actors = page.slice(0, Number(limit))
    const next = page.length > actors.length ? actorIndexOf(actors.at(-1)!.actor).toString() : null
    return { status: 200, json: { subnet: id.value, height: service.info().height.toString(), actors: actors.map(actorJson), next } }
  }

  /**
   * GET /v1/subnets/:id/evidence?limit=N: the equivocation records this member's store keeps, newest
   * view first, at most N (1..apiEvidencePageMax). Each is decoded and verified here against the
   * subnet's members (verified: false with the reason when it does not hold, never left out).
   */
  async evidence (raw: string, query: URLSearchParams, signal?: AbortSignal): Promise<ApiAnswer> {
    const id = parseSubnetId(raw)
    if (!id.ok) throw new HttpError(400, `not a subnet id: ${id.error}`)
    const service = this.#dir.get(id.value)
    if (service === undefined) return await this.#viaMember(id.value, { method: 'GET', path: `/v1/subnets/${id.value}/evidence`, query: query.toString() }, signal ?? AbortSignal.timeout(apiIngressWaitMs))
    const limit = integerParam(query, 'limit', apiEvidencePageMax, 1n, BigInt(apiEvidencePageMax))
    const stored = await service.store.evidence({ limit: Number(limit) })
    const membership = membershipOf(service.subnet.id, service.subnet.memberIds)
    return { status: 200, json: stored.map(e => evidenceJson(membership, e)) }
  }

  async actor (raw: string, signal?: AbortSignal): Promise<ApiAnswer> {
    const actor = parseActorId(raw)
    if (!actor.ok) throw new HttpError(400, `not an actor id: ${actor.error}`)
    const service = this.#dir.get(subnetOfActorId(actor.value))
    if (service === undefined) return await this.#viaMember(subnetOfActorId(actor.value), { method: 'GET', path: `/v1/actors/${actor.value}`, query: '' }, signal ?? AbortSignal.timeout(apiIngressWaitMs))
    const info = await service.actor(actor.value)
    if (info === undefined) throw new HttpError(404, `actor not installed: ${actor.value}`, { reason: 'unknown-actor' })
    return { status: 200, json: actorJson(info) }
  }

  async code (r: ApiRequest): Promise<ApiAnswer> {
    const id = parseSubnetId(r.query.get('subnet') ?? '')
    if (!id.ok) throw new HttpError(400, `POST /v1/code needs ?subnet=<SubnetId>: ${id.error}`)
    const service = this.#serviceFor(id.value)
    const body = nonEmpty(r.body, 'code')
    const stored = await service.putCode(body)
    if (!stored.ok) throw new HttpError(400, stored.error)
    return { status: 200, json: { ok: true, cid: stored.value, bytes: body.length, subnet: id.value } }
  }

  /**
   * PUT /v1/code/:cid?subnet=ID&offset=N&total=T[&upload=ID]: one chunk of a code upload keyed by its
   * CID (and the client's upload id). The last chunk stores the code only if the assembled bytes hash
   * to that CID (else 422, nothing kept).
   */
  async codeChunk (r: ApiRequest): Promise<ApiAnswer> {
    const id = parseSubnetId(r.query.get('subnet') ?? '')
    if (!id.ok) throw new HttpError(400, `PUT /v1/code/:cid needs ?subnet=<SubnetId>: ${id.error}`)
    const cid = parseCodeCid(r.params.cid!)
    if (!cid.ok) throw new HttpError(400, cid.error, { reason: 'malformed' })
    const total = integerParam(r.query, 'total', 0, 1n, BigInt(apiCodeBytesMax))
    const offset = integerParam(r.query, 'offset', 0, 0n, BigInt(apiCodeBytesMax))
    const upload = r.query.get('upload') ?? ''
    if (!/^[A-Za-z0-9_-]{0,64}$/.test(upload)) throw new HttpError(400, `upload must be 0..64 characters of [A-Za-z0-9_-], got ${JSON.stringify(upload.slice(0, 80))}`, { reason: 'malformed' })
    const service = this.#dir.get(id.value)
    if (service === undefined) {
      // Every chunk of one upload goes to the same member, which assembles and stores the code
      // (the others fetch it from there when the install is proposed).
      return await this.#viaMember(id.value, { method: 'PUT', path: `/v1/code/${cid.cid}`, query: r.query.toString(), body: r.body }, r.signal, `${cid.cid}/${upload}`)
    }
    // Code this node already holds under that CID needs no bytes: the first chunk is answered as done.
    const held = offset === 0n ? await service.getCode(cid.cid) : undefined
    if (held !== undefined) return { status: 200, json: { ok: true, complete: true, cid: cid.cid, bytes: held.length, subnet: id.value, held: true } }
    // The client's upload id keeps two clients sending the same code at once from restarting each other.
    const answer = this.#uploads.put(`${id.value}/${cid.cid}/${upload}`, cid.cid, Number(offset), Number(total), r.body)
    if (answer.kind === 'refused') throw new HttpError(answer.refusal.status, answer.refusal.error, { reason: answer.refusal.reason, cid: cid.cid })
    if (answer.kind === 'partial') return { status: 202, json: { ok: true, complete: false, cid: cid.cid, received: answer.received, total: answer.total, subnet: id.value } }
    const stored = await service.putCode(answer.code)
    if (!stored.ok) throw new HttpError(400, stored.error)
    return { status: 200, json: { ok: true, complete: true, cid: stored.value, bytes: answer.code.length, subnet: id.value } }
  }

  async ingress (r: ApiRequest): Promise<ApiAnswer> {
    const body = nonEmpty(r.body, 'ingress envelope')
    const decoded = decodeIngress(body, this.#clock.now())
    if (!decoded.ok) throw new HttpError(statusOfRefusal[decoded.error.reason] ?? 400, decoded.error.message, { reason: decoded.error.reason })
    const { content, id, requestId } = decoded.value
    if (content.kind === 'query') throw new HttpError(400, 'queries do not go through consensus: POST them to /v1/query', { reason: 'query' })
    const subnet = subnetOfIngress(content)
    const service = this.#dir.get(subnet)
    const pending = { ok: true, status: 'pending', ingressId: id, requestId, subnet }
    const wait = r.query.get('wait') === '1'
    // Not a member: a member submits it (and waits for its result when asked to).
    if (service === undefined) return await this.#viaMember(subnet, { method: 'POST', path: '/v1/ingress', query: wait ? 'wait=1' : '', body }, r.signal)
    // Verified above: the service admits the decoded message without checking its signature again.
    const added = service.submitVerified(decoded.value)
    // Resubmitting a pooled or finished request while waiting is answered with its result.
    const again = !added.ok && (added.error.reason === 'duplicate' || added.error.reason === 'replay')
    if (!added.ok && !(again && wait)) throw new HttpError(statusOfRefusal[added.error.reason] ?? 400, added.error.message, { reason: added.error.reason })
    if (!wait) return { status: 202, json: pending }
    if (again && await service.result(id) === undefined) {
      // A request this node does not hold in memory (a copy with another signature, or its result
      // forgotten in a restart): if a committed block executed it, the answer comes from the store.
      const stored = await service.storedResult(decoded.value)
      if (stored === undefined) throw new HttpError(409, added.error.message, { reason: added.error.reason })
      return stored === 'pending' ? { status: 202, json: pending } : { status: 200, json: resultJson(stored) }
    }
    const result = await service.wait(id, apiIngressWaitMs, r.signal)
    return result === undefined ? { status: 202, json: pending } : { status: 200, json: resultJson(result) }
  }

  /** GET /v1/ingress/:id[?subnet=ID]: with the subnet named, a non-member asks one of its members. */
  async ingressStatus (raw: string, query: URLSearchParams, signal?: AbortSignal): Promise<ApiAnswer> {
    if (raw.length > 200) throw new HttpError(400, `not an ingress id: ${raw.length} characters`)
    const named = query.get('subnet')
    if (named !== null) {
      const subnet = parseSubnetId(named)
      if (!subnet.ok) throw new HttpError(400, `not a subnet id: ${subnet.error}`)
      if (this.#dir.get(subnet.value) === undefined) return await this.#viaMember(subnet.value, { method: 'GET', path: `/v1/ingress/${encodeURIComponent(raw)}`, query: '' }, signal ?? AbortSignal.timeout(apiIngressWaitMs))
    }
    for (const service of this.#dir.list()) {
      const result = await service.result(raw as IngressId)
      if (result === 'pending') return { status: 202, json: { ok: true, status: 'pending', ingressId: raw, subnet: service.subnet.id } }
      if (result !== undefined) return { status: 200, json: resultJson(result) }
    }
    throw new HttpError(404, `unknown ingress id ${raw}: not pooled or recently finalized here`, { reason: 'unknown-ingress' })
  }

  async query (r: ApiRequest): Promise<ApiAnswer> {
    const body = nonEmpty(r.body, 'query envelope')
    const decoded = decodeIngress(body, this.#clock.now())
    if (!decoded.ok) throw new HttpError(statusOfRefusal[decoded.error.reason] ?? 400, decoded.error.message, { reason: decoded.error.reason })
    if (decoded.value.content.kind !== 'query') throw new HttpError(400, `a query envelope must have kind "query", got "${decoded.value.content.kind}" (POST updates to /v1/ingress)`, { reason: 'malformed' })
    const service = this.#dir.get(subnetOfIngress(decoded.value.content))
    if (service === undefined) return await this.#viaMember(subnetOfIngress(decoded.value.content), { method: 'POST', path: '/v1/query', query: '', body }, r.signal)
    const answer = await service.query(decoded.value)
    if (!answer.ok) throw new HttpError(statusOfRefusal[answer.error.reason] ?? 400, answer.error.message, { reason: answer.error.reason })
    const receipt = answer.value.receipt
    return { status: 200, json: { ok: receipt.ok, actor: receipt.actor, method: receipt.method, ...resultFields(receipt.result), error: receipt.error, fuelUsed: receipt.fuelUsed.toString(), height: answer.value.height.toString() } }
  }

  #serviceFor (subnet: SubnetId): SubnetService {
    const service = this.#dir.get(subnet)
    if (service !== undefined) return service
    const known = this.#dir.known(subnet)
    if (known === undefined) throw new HttpError(404, `unknown subnet ${subnet}: this node neither serves nor knows it`, { reason: 'unknown-subnet', subnet })
    throw new HttpError(421, `this node is not a member of subnet ${subnet}; ask one of its members`, { reason: 'not-member', subnet, members: known.memberIds })
  }
}

/** One stored record as the API shows it: what it claims, and whether it verifies against `membership`. */
function evidenceJson (membership: Membership, stored: StoredEvidence): Record<string, unknown> {
  const { view, signer } = stored.key
  const base = { subnet: membership.subnet, view: view.toString(), signer, member: membership.members[signer] ?? null, record: Buffer.from(stored.record).toString('base64') }
  const decoded = decodeEvidence(stored.record)
  if (!decoded.ok) return { ...base, first: null, second: null, verified: false, error: decoded.error }
  const { evidence, subnet } = decoded.value
  const verified = subnet !== membership.subnet
    ? { ok: false as const, error: `the record is for subnet ${subnet}` }
    : evidence.view !== view || evidence.signer !== signer
      ? { ok: false as const, error: `the record is stored under view ${view} signer ${signer} but names view ${evidence.view} signer ${evidence.signer}` }
      : verifyEvidence(membership, evidence)
  const vote = (v: Vote): Record<string, unknown> => ({ kind: v.kind, block: v.block === undefined ? null : hex(v.block), signature: hex(v.signature) })
  return {
    ...base, first: vote(evidence.first), second: vote(evidence.second), verified: verified.ok, ...(verified.ok ? {} : { error: verified.error })
  }
}

function actorJson (info: ActorInfo): Record<string, unknown> {
  return {
    actor: info.actor, subnet: info.subnet, name: info.name, codeCid: info.code, controllers: info.controllers,
    installer: info.installer, installedAt: info.installedAt.toString(), upgradedAt: info.upgradedAt?.toString() ?? null
  }
}

/** A decimal query parameter in [min, max], `fallback` when absent; anything else is a 400 naming it. */
function integerParam (query: URLSearchParams, name: string, fallback: number, min: bigint, max: bigint): bigint {
  const raw = query.get(name)
  if (raw === null) return BigInt(fallback)
  if (!/^\d{1,20}$/.test(raw) || BigInt(raw) < min || BigInt(raw) > max) throw new HttpError(400, `${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw.slice(0, 32))}`, { reason: 'malformed' })
  return BigInt(raw)
}

function nonEmpty (body: Uint8Array, what: string): Uint8Array {
  if (body.length === 0) throw new HttpError(400, `empty body: send the ${what} bytes`, { reason: 'malformed' })
  return body
}

function subnetJson (service: SubnetService): Record<string, unknown> {
  const info = service.info()
  return {
    ...genesisJson(service.subnet),
    height: info.height.toString(), stateRoot: Buffer.from(info.stateRoot).toString('hex'), certifiedHeight: info.certifiedHeight.toString()
  }
}

/** What the genesis alone says of a subnet. */
function genesisJson (subnet: Subnet): Record<string, unknown> {
  const { genesis } = subnet
  return {
    id: subnet.id, name: genesis.name, members: subnet.memberIds, n: genesis.n, f: genesis.f, quorum: subnet.quorum,
    genesis: Buffer.from(encodeGenesis(subnet)).toString('base64')
  }
}

function resultFields (result: Uint8Array | null): { result: string | null, resultUtf8: string | null } {
  if (result === null) return { result: null, resultUtf8: null }
  let text: string | null
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(result)
  } catch {
    text = null
  }
  return { result: Buffer.from(result).toString('base64'), resultUtf8: text }
}

function receiptJson (r: Receipt): Record<string, unknown> {
  return { ok: r.ok, method: r.method, ...resultFields(r.result), error: r.error, fuelUsed: r.fuelUsed.toString(), logs: r.logs }
}

export function resultJson (result: IngressResult): Record<string, unknown> {
  return {
    ok: true,
    status: result.status,
    ingressId: result.ingressId,
    requestId: result.requestId,
    subnet: result.subnet,
    height: result.height.toString(),
    ...(result.index === undefined ? {} : { index: result.index }),
    ...(result.actor === undefined ? {} : { actor: result.actor }),
    ...(result.receipt === undefined ? {} : { receipt: receiptJson(result.receipt) }),
    ...(result.certified === undefined ? {} : { certified: Buffer.from(encodeCertifiedResponse(result.certified)).toString('base64') }),
    ...(result.reason === undefined ? {} : { reason: result.reason })
  }
}
