// Subnet creation on demand. As proposer: place nodes from the advert book, ask each picked node to
// sign the genesis over /pylon/subnet-propose/1.0.0, assemble the signed genesis and commit it to
// every member. As member: check a proposal (membership, time, own capacity) before signing, and
// join on commit. It creates nothing unless every member signed, and never trusts a proposer.

import type { CapacityAdvert } from '../../protocol/capacity.ts'
import { cidOf } from '../../protocol/codec.ts'
import type { NodeId, SubnetId } from '../../protocol/ids.ts'
import {
  subnetsServedMax, subnetCommitTimeoutMs, subnetDeltaMaxMs, subnetDeltaMinMs, subnetMultiaddrCharsMax, subnetMultiaddrsMax, subnetNameCharsMax, subnetProposalBytesMax,
  subnetProposalClockSkewMs, subnetProposalStreamsMax, subnetProposalTimeoutMs, subnetReservationsMax, subnetReservationTtlMs
} from '../../protocol/limits.ts'
import { place, requirementsOf, shortfalls, type NodeRefusal, type PlacedNode, type SpreadKey } from '../../protocol/placement.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import type { Signer } from '../../protocol/signature.ts'
import { assembleGenesis, decodeGenesis, encodeGenesis, genesisOf, parseGenesis, signGenesis, type Genesis, type Subnet } from '../../protocol/subnet.ts'
import { BoundedMap } from '../core/bounded-map.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import type { Net, Stream } from '../net/net.ts'
import { exchange, isRecord, serve } from './_frames.ts'
import type { FormationMetrics } from './formation-metrics.ts'
import type { DirectoryEntry, SubnetDirectory } from './subnet-directory.ts'

export const subnetProposeProtocol = '/pylon/subnet-propose/1.0.0'

/** What this node serves: the subnet manager, seen through the two calls formation needs. */
export interface SubnetHost {
  /** Starts serving a validated subnet this node is a member of; resolves once it runs. Idempotent. */
  join (subnet: Subnet): Promise<void>
  /** Ids of the subnets this node serves now. */
  served (): SubnetId[]
}

export interface SubnetFormationComponents {
  net: Pick<Net, 'nodeId' | 'dial' | 'handle'>
  signer: Signer
  /** Live adverts (the AdvertBook): placement input, and this node's own advert for its self-check. */
  adverts: () => CapacityAdvert[]
  directory: SubnetDirectory
  announce: (entry: DirectoryEntry) => Promise<void>
  host: SubnetHost
  clock: Clock
  logger: Logger
  metrics: FormationMetrics
}

export interface SubnetFormationInit {
  /** Subnets this node agrees to serve at once. @default subnetsServedMax */
  subnetsMax?: number
  /** Simplex Δ of subnets this node proposes when the request names none. @default 500 — loopback and LAN racks. */
  deltaMs?: number
}

export interface CreateRequest {
  size: number
  labels?: Record<string, string>
  spread?: SpreadKey
  name?: string
  deltaMs?: number
}

export interface Created {
  subnet: Subnet
  picked: PlacedNode[]
  explanation: string[]
}

/** Why nothing was created: the stage that failed, one line, and each node's reasons. */
export interface CreateRefusal {
  stage: 'request' | 'placement' | 'proposal' | 'commit'
  message: string
  nodes: NodeRefusal[]
  /** Set when the subnet was assembled but some member failed to commit it (the rest may run it). */
  subnetId?: SubnetId
}

export class SubnetFormation implements Startable {
  readonly #c: SubnetFormationComponents
  readonly #subnetsMax: number
  readonly #deltaMs: number
  /** Geneses this node signed and awaits the commit of, by CID, with their expiry: a capacity reservation. */
  readonly #reserved = new BoundedMap<string, number>(subnetReservationsMax)
  readonly #joining = new Map<SubnetId, Promise<void>>()
  #registered = false
  #unlisten: (() => void) | undefined

  constructor (components: SubnetFormationComponents, init: SubnetFormationInit = {}) {
    this.#c = components
    this.#subnetsMax = init.subnetsMax ?? subnetsServedMax
    this.#deltaMs = init.deltaMs ?? 500
  }

  async start (): Promise<void> {
    if (!this.#registered) {
      this.#registered = true
      this.#c.net.handle(subnetProposeProtocol, async (stream, peer) => { await this.#serve(stream, peer) },
        { inboundStreamsMax: subnetProposalStreamsMax, outboundStreamsMax: subnetProposalStreamsMax })
    }
    // A genesis listing this node carries its own signature, so this node agreed to it: if the
    // proposer's commit never reached us, the gossip or a directory pull still brings it.
    this.#unlisten = this.#c.directory.onAdded(entry => {
      if (entry.subnet.memberIds.includes(this.#c.net.nodeId) && !this.#c.host.served().includes(entry.subnet.id)) {
        this.#join(entry.subnet).catch(() => {})
      }
    })
  }

  async stop (): Promise<void> {
    this.#unlisten?.()
    this.#unlisten = undefined
  }

  /** Places, proposes, assembles and commits a new subnet. Nothing is created unless every member signs. */
  async create (request: CreateRequest, options: { signal?: AbortSignal } = {}): Promise<Result<Created, CreateRefusal>> {
    const nowMs = this.#c.clock.now()
    // Memberships the directory knows are fresher than adverts just after a creation (adverts republish in seconds).
    const servedCounts = new Map<NodeId, number>()
    for (const entry of this.#c.directory.list()) for (const id of entry.subnet.memberIds) servedCounts.set(id, (servedCounts.get(id) ?? 0) + 1)
    const placed = place(this.#c.adverts(), { size: request.size, labels: request.labels, spread: request.spread, nowMs, servedCounts })
    if (!placed.ok) return this.#refuse({ stage: placed.error.nodes.length === 0 && !placed.error.message.startsWith('cannot') ? 'request' : 'placement', ...placed.error })
    const { picked, explanation } = placed.value
    let genesis: Genesis
    try {
      genesis = genesisOf({
        name: request.name ?? `subnet-${nowMs}`,
        members: picked.map(p => ({ nodeId: p.nodeId, multiaddrs: p.multiaddrs.filter(a => a.startsWith('/') && a.length <= subnetMultiaddrCharsMax).slice(0, subnetMultiaddrsMax) })),
        createdMs: BigInt(nowMs),
        params: { deltaMs: request.deltaMs ?? this.#deltaMs }
      })
    } catch (error) {
      return this.#refuse({ stage: 'request', message: (error as Error).message, nodes: [] })
    }
    this.#c.logger.info('proposing subnet', { name: genesis.name, members: genesis.members.map(m => m.nodeId) })
    const answers = await Promise.all(genesis.members.map(async m => ({ nodeId: m.nodeId, answer: await this.#askToSign(m.nodeId, genesis, options) })))
    const refusals = answers.flatMap(a => a.answer.ok ? [] : [{ nodeId: a.nodeId, reasons: [a.answer.error] }])
    if (refusals.length > 0) {
      // Those who signed reserved a slot for us: free it now rather than after the reservation TTL.
      await Promise.all(answers.filter(a => a.answer.ok).map(async a => { await this.#askToAbort(a.nodeId, genesis, options) }))
      return this.#refuse({ stage: 'proposal', message: `${refusals.length} of ${genesis.n} picked nodes refused to sign: ${refusals.map(r => `${r.nodeId}: ${r.reasons[0]!}`).join('; ')}`, nodes: refusals })
    }
    const assembled = assembleGenesis(genesis, new Map(answers.map(a => [a.nodeId, (a.answer as { ok: true, value: Uint8Array }).value])))
    if (!assembled.ok) return this.#refuse({ stage: 'proposal', message: `genesis did not assemble: ${assembled.error}`, nodes: [] })
    const subnet = assembled.value
    const bytes = encodeGenesis(subnet)
    const commits = await Promise.all(subnet.memberIds.map(async nodeId => ({ nodeId, answer: await this.#askToCommit(nodeId, bytes, options) })))
    const entry = this.#c.directory.add(subnet, 'local')
    await this.#c.announce(entry)
    const failed = commits.flatMap(c => c.answer.ok ? [] : [{ nodeId: c.nodeId, reasons: [c.answer.error] }])
    if (failed.length > 0) {
      return this.#refuse({ stage: 'commit', subnetId: subnet.id, message: `subnet ${subnet.id} was signed by all members, but ${failed.length} of ${subnet.genesis.n} did not start it: ${failed.map(f => `${f.nodeId}: ${f.reasons[0]!}`).join('; ')}`, nodes: failed })
    }
    this.#c.metrics.creations.inc({ outcome: 'created' })
    this.#c.logger.info('subnet created', { subnet: subnet.id, name: subnet.genesis.name, members: subnet.memberIds })
    return ok({ subnet, picked, explanation })
  }

  /**
   * A member's decision on an unsigned genesis: it must list this node, be created near our clock,
   * and fit our capacity (subnets served plus those reserved by earlier signatures, and our own advert).
   */
  consider (value: unknown): Result<{ genesis: Genesis, signature: Uint8Array }> {
    const parsed = parseGenesis(value)
    if (!parsed.ok) return err(`malformed proposal: ${parsed.error}`)
    const genesis = parsed.value
    const self = this.#c.net.nodeId
    if (!genesis.members.some(m => m.nodeId === self)) return err(`${self} is not a member of the proposed subnet ${JSON.stringify(genesis.name)}`)
    const nowMs = this.#c.clock.now()
    const skew = Number(genesis.createdMs) - nowMs
    if (Math.abs(skew) > subnetProposalClockSkewMs) return err(`proposal created ${skew} ms from our clock, beyond ±${subnetProposalClockSkewMs} ms`)
    const key = cidOf(genesis).toString()
    for (const [k, expiresAtMs] of [...this.#reserved.entries()]) if (expiresAtMs <= nowMs) this.#reserved.delete(k)
    const served = this.#c.host.served().length
    const reserved = [...this.#reserved.keys()].filter(k => k !== key).length
    if (served + reserved >= this.#subnetsMax) {
      return err(`over capacity: ${self} serves ${served} subnets${reserved > 0 ? ` and has ${reserved} pending` : ''}, at most ${this.#subnetsMax}`)
    }
    const own = this.#c.adverts().find(a => a.nodeId === self)
    const short = own === undefined ? [] : shortfalls(own, requirementsOf({}), nowMs).filter(r => !r.startsWith('advert expired'))
    if (short.length > 0) return err(`over capacity: ${short.join('; ')}`)
    if (this.#reserved.size >= subnetReservationsMax && !this.#reserved.has(key)) return err(`too many pending proposals: ${this.#reserved.size} >= ${subnetReservationsMax}`)
    this.#reserved.set(key, nowMs + subnetReservationTtlMs)
    return ok({ genesis, signature: signGenesis(genesis, this.#c.signer) })
  }

  /** A member's handling of a signed genesis: all signatures valid (ours among them), then join. */
  async commit (bytes: unknown): Promise<Result<SubnetId>> {
    if (!(bytes instanceof Uint8Array)) return err('commit must carry the signed genesis bytes')
    const decoded = decodeGenesis(bytes)
    if (!decoded.ok) {
      this.#c.metrics.directoryRejected.inc({ source: 'commit' })
      return err(`refused genesis: ${decoded.error}`)
    }
    const subnet = decoded.value
    if (!subnet.memberIds.includes(this.#c.net.nodeId)) return err(`${this.#c.net.nodeId} is not a member of subnet ${subnet.id}`)
    this.#c.directory.add(subnet, 'commit')
    try {
      await this.#join(subnet)
    } catch (error) {
      return err(`could not start subnet ${subnet.id}: ${(error as Error).message}`)
    }
    return ok(subnet.id)
  }

  /** One join per subnet at a time: a commit and the gossip of the same genesis share it. */
  async #join (subnet: Subnet): Promise<void> {
    this.#reserved.delete(cidOf(subnet.genesis).toString())
    const running = this.#joining.get(subnet.id)
    if (running !== undefined) return await running
    const joining = this.#c.host.join(subnet).then(
      () => { this.#c.logger.info('joined subnet', { subnet: subnet.id, name: subnet.genesis.name }) },
      (error: unknown) => {
        this.#c.logger.error('joining subnet failed', { subnet: subnet.id, error })
        throw error
      }).finally(() => { this.#joining.delete(subnet.id) })
    this.#joining.set(subnet.id, joining)
    await joining
  }

  async #askToSign (nodeId: NodeId, genesis: Genesis, options: { signal?: AbortSignal }): Promise<Result<Uint8Array>> {
    if (nodeId === this.#c.net.nodeId) {
      const local = this.consider(genesis)
      return local.ok ? ok(local.value.signature) : local
    }
    const answer = await exchange(this.#c.net, nodeId, subnetProposeProtocol, { op: 'propose', genesis }, { bytesMax: subnetProposalBytesMax, timeoutMs: subnetProposalTimeoutMs, signal: options.signal })
    if (!answer.ok) return answer
    const value = answer.value
    if (isRecord(value) && value.ok === true && value.signature instanceof Uint8Array) return ok(value.signature)
    if (isRecord(value) && value.ok === false && typeof value.error === 'string') return err(value.error.slice(0, 500))
    return err('answered a proposal with neither a signature nor a reason')
  }

  /** Best effort: a member that never hears it keeps the slot until the reservation expires. */
  async #askToAbort (nodeId: NodeId, genesis: Genesis, options: { signal?: AbortSignal }): Promise<void> {
    if (nodeId === this.#c.net.nodeId) {
      this.abort(genesis)
      return
    }
    await exchange(this.#c.net, nodeId, subnetProposeProtocol, { op: 'abort', genesis }, { bytesMax: subnetProposalBytesMax, timeoutMs: subnetProposalTimeoutMs, signal: options.signal })
  }

  /** Releases the slot a signature reserved for `value` (an unsigned genesis) if we hold one. */
  abort (value: unknown): Result<boolean> {
    const parsed = parseGenesis(value)
    if (!parsed.ok) return err(`malformed abort: ${parsed.error}`)
    return ok(this.#reserved.delete(cidOf(parsed.value).toString()))
  }

  /** Slots reserved by signatures awaiting their commit (expired ones included until the next proposal). */
  get pending (): number {
    return this.#reserved.size
  }

  async #askToCommit (nodeId: NodeId, bytes: Uint8Array, options: { signal?: AbortSignal }): Promise<Result<void>> {
    if (nodeId === this.#c.net.nodeId) {
      const local = await this.commit(bytes)
      return local.ok ? ok(undefined) : local
    }
    const answer = await exchange(this.#c.net, nodeId, subnetProposeProtocol, { op: 'commit', genesis: bytes }, { bytesMax: subnetProposalBytesMax, timeoutMs: subnetCommitTimeoutMs, signal: options.signal })
    if (!answer.ok) return answer
    const value = answer.value
    if (isRecord(value) && value.ok === true) return ok(undefined)
    return err(isRecord(value) && typeof value.error === 'string' ? value.error.slice(0, 500) : 'answered a commit with neither ok nor a reason')
  }

  async #serve (stream: Stream, peer: NodeId): Promise<void> {
    await serve(stream, { bytesMax: subnetProposalBytesMax, timeoutMs: subnetCommitTimeoutMs }, async request => {
      const value = request.ok ? request.value : undefined
      if (!isRecord(value) || Object.keys(value).length !== 2 || (value.op !== 'propose' && value.op !== 'commit' && value.op !== 'abort')) {
        this.#c.metrics.proposals.inc({ outcome: 'malformed' })
        return { ok: false, error: request.ok ? 'expected { op: "propose" | "commit" | "abort", genesis }' : request.error }
      }
      if (value.op === 'abort') {
        const aborted = this.abort(value.genesis)
        return aborted.ok ? { ok: true, released: aborted.value } : { ok: false, error: aborted.error }
      }
      if (value.op === 'commit') {
        const committed = await this.commit(value.genesis)
        return committed.ok ? { ok: true, subnet: committed.value } : { ok: false, error: committed.error }
      }
      const decision = this.consider(value.genesis)
      this.#c.metrics.proposals.inc({ outcome: decision.ok ? 'signed' : 'refused' })
      if (!decision.ok) {
        this.#c.logger.info('refused a subnet proposal', { from: peer, reason: decision.error })
        return { ok: false, error: decision.error }
      }
      this.#c.logger.info('signed a subnet proposal', { from: peer, name: decision.value.genesis.name })
      return { ok: true, signature: decision.value.signature }
    })
  }

  #refuse (refusal: CreateRefusal): Result<never, CreateRefusal> {
    this.#c.metrics.creations.inc({ outcome: refusal.stage })
    this.#c.logger.info('subnet not created', { stage: refusal.stage, reason: refusal.message })
    return err(refusal)
  }
}

/** Checks a create request from an untrusted body (the HTTP API): types, bounds, a known spread. */
export function parseCreateRequest (value: unknown): Result<CreateRequest> {
  if (!isRecord(value)) return err('body must be a JSON object { size, labels?, spread?, name?, deltaMs? }')
  const unknown = Object.keys(value).filter(k => !['size', 'labels', 'spread', 'name', 'deltaMs'].includes(k))
  if (unknown.length > 0) return err(`unknown field ${JSON.stringify(unknown[0])}: expected size, labels, spread, name, deltaMs`)
  const { size, labels, spread, name, deltaMs } = value
  if (typeof size !== 'number' || !Number.isSafeInteger(size)) return err(`size must be an integer, got ${JSON.stringify(size)}`)
  if (labels !== undefined && (!isRecord(labels) || !Object.values(labels).every(v => typeof v === 'string'))) return err('labels must be an object of string values, e.g. { "region": "eu" }')
  if (spread !== undefined && spread !== 'rack' && spread !== 'operator') return err(`spread must be "rack" or "operator", got ${JSON.stringify(spread)}`)
  if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > subnetNameCharsMax)) return err(`name must be 1..${subnetNameCharsMax} characters`)
  if (deltaMs !== undefined && (typeof deltaMs !== 'number' || !Number.isSafeInteger(deltaMs) || deltaMs < subnetDeltaMinMs || deltaMs > subnetDeltaMaxMs)) {
    return err(`deltaMs must be an integer in ${subnetDeltaMinMs}..${subnetDeltaMaxMs} ms, got ${JSON.stringify(deltaMs)}`)
  }
  return ok({ size, labels: labels as Record<string, string> | undefined, spread, name, deltaMs })
}
