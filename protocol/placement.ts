// Placement: which nodes should form a new subnet, from the capacity adverts a node holds, and why.
// Pure and deterministic: the same adverts and request give the same answer on any node; time is
// an input. It never refuses silently: every node left out carries its reasons.

import type { CapacityAdvert, CapacityLabels } from './capacity.ts'
import { encode } from './codec.ts'
import type { NodeId } from './ids.ts'
import {
  subnetsServedMax, placementDiskFreeBytesMinDefault, placementLabelsMax, placementMemoryBytesMinDefault, subnetMembersMax
} from './limits.ts'
import { err, ok, type Result } from './result.ts'

export type SpreadKey = 'rack' | 'operator'
export const labelKeys: readonly (keyof CapacityLabels)[] = ['operator', 'rack', 'region']

export interface PlacementRequest {
  /** Members: 3f + 1 (1, 4, 7, …). */
  size: number
  /** Labels every member must advertise with exactly these values (keys: rack, region, operator). */
  labels?: Readonly<Record<string, string>>
  /** No two members share this label's value. */
  spread?: SpreadKey
  /** The placing node's clock, ms since the Unix epoch: adverts expired by then are not placed. */
  nowMs: number | bigint
  /** @default placementMemoryBytesMinDefault */
  memoryBytesMin?: bigint
  /** @default placementDiskFreeBytesMinDefault */
  diskFreeBytesMin?: bigint
  /** @default 0 — the runtime does not report slots yet, so any count qualifies. */
  actorSlotsMin?: number
  /** @default subnetsServedMax — a node serving this many subnets is full. */
  subnetsMax?: number
  /**
   * Subnets each node serves as far as the placing node knows (its directory), which is fresher
   * than an advert just after a creation. The larger of this and the advert's count is used.
   */
  servedCounts?: ReadonlyMap<NodeId, number>
}

export interface PlacedNode {
  nodeId: NodeId
  labels: CapacityLabels
  /** Subnets it serves already (advert or directory): the first ranking key, fewest first. */
  subnets: number
  score: bigint
  /** score / (1 + load): the compute the node has to spare, the first ranking key. */
  freeScore: bigint
  memoryBytes: bigint
  diskFreeBytes: bigint
  actorSlotsFree: number
  multiaddrs: string[]
  /** One sentence: its rank and why it qualified. */
  reason: string
}

export interface Placement {
  picked: PlacedNode[]
  /** Lines a person reads: the request, then each picked node and why. */
  explanation: string[]
}

export interface NodeRefusal {
  nodeId: NodeId
  reasons: string[]
}

export interface PlacementRefusal {
  /** One line: what could not be met. */
  message: string
  /** Every node left out and why (sorted by node id); empty when the request itself was bad. */
  nodes: NodeRefusal[]
}

/** The requirements a node must meet, resolved from a request's options and defaults. */
export interface Requirements {
  memoryBytesMin: bigint
  diskFreeBytesMin: bigint
  actorSlotsMin: number
  subnetsMax: number
  labels: Readonly<Record<string, string>>
}

export function requirementsOf (request: Omit<PlacementRequest, 'size' | 'nowMs' | 'spread'>): Requirements {
  return {
    memoryBytesMin: request.memoryBytesMin ?? placementMemoryBytesMinDefault,
    diskFreeBytesMin: request.diskFreeBytesMin ?? placementDiskFreeBytesMinDefault,
    actorSlotsMin: request.actorSlotsMin ?? 0,
    subnetsMax: request.subnetsMax ?? subnetsServedMax,
    labels: request.labels ?? {}
  }
}

/** Why `advert` cannot host a new subnet under `requirements` (empty: it can). Also a member's self-check. */
export function shortfalls (advert: CapacityAdvert, requirements: Requirements, nowMs: number | bigint): string[] {
  const reasons: string[] = []
  if (advert.expiresAtMs <= BigInt(nowMs)) reasons.push(`advert expired at ${advert.expiresAtMs}`)
  for (const [key, value] of Object.entries(requirements.labels).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const has = advert.labels[key as keyof CapacityLabels]
    if (has !== value) reasons.push(`missing label ${key}=${value} (has ${key}=${has === '' || has === undefined ? '<none>' : has})`)
  }
  if (advert.memoryBytes < requirements.memoryBytesMin) reasons.push(`too little memory: ${advert.memoryBytes} < ${requirements.memoryBytesMin} bytes`)
  if (advert.diskFreeBytes < requirements.diskFreeBytesMin) reasons.push(`too little free disk: ${advert.diskFreeBytes} < ${requirements.diskFreeBytesMin} bytes`)
  if (advert.actorSlotsFree < requirements.actorSlotsMin) reasons.push(`too few free actor slots: ${advert.actorSlotsFree} < ${requirements.actorSlotsMin}`)
  if (advert.subnets.length >= requirements.subnetsMax) reasons.push(`already serves ${advert.subnets.length} subnets (at most ${requirements.subnetsMax})`)
  return reasons
}

/** Checks the request itself: size 3f+1 within bounds, known label keys, a known spread key. */
export function checkPlacementRequest (request: PlacementRequest): Result<void> {
  const { size } = request
  if (!Number.isSafeInteger(size) || size < 1) return err(`size must be a positive integer of the form 3f+1 (1, 4, 7, …), got ${String(size)}`)
  if ((size - 1) % 3 !== 0) {
    const below = size - ((size - 1) % 3)
    return err(`size must be 3f+1 (1, 4, 7, 10, …) so that f = (size-1)/3 faults are tolerated, got ${size}: use ${below} or ${below + 3}`)
  }
  if (size > subnetMembersMax) return err(`size too large: ${size} > ${subnetMembersMax} members`)
  const labels = Object.entries(request.labels ?? {})
  if (labels.length > placementLabelsMax) return err(`too many labels: ${labels.length} > ${placementLabelsMax}`)
  for (const [key, value] of labels) {
    if (!labelKeys.includes(key as keyof CapacityLabels)) return err(`unknown label ${JSON.stringify(key)}: adverts carry ${labelKeys.join(', ')}`)
    if (typeof value !== 'string' || value.length === 0) return err(`label ${key} needs a non-empty value (--label ${key}=VALUE)`)
  }
  if (request.spread !== undefined && request.spread !== 'rack' && request.spread !== 'operator') return err(`spread must be rack or operator, got ${JSON.stringify(request.spread)}`)
  return ok(undefined)
}

/**
 * Picks `size` nodes: live adverts that meet every requirement, then (with `spread`) at most one per
 * rack or operator, ranked by fewest subnets served (so new subnets spread over the network), then
 * spare compute, then memory, then free disk, ties broken by node id.
 */
export function place (adverts: readonly CapacityAdvert[], request: PlacementRequest): Result<Placement, PlacementRefusal> {
  const checked = checkPlacementRequest(request)
  if (!checked.ok) return err({ message: checked.error, nodes: [] })
  const requirements = requirementsOf(request)
  const refused = new Map<NodeId, string[]>()
  const eligible: CapacityAdvert[] = []
  const served = new Map<NodeId, number>()
  for (const advert of newestPerNode(adverts)) {
    const count = Math.max(advert.subnets.length, request.servedCounts?.get(advert.nodeId) ?? 0)
    served.set(advert.nodeId, count)
    const reasons = shortfalls(advert, requirements, request.nowMs)
    if (count > advert.subnets.length && count >= requirements.subnetsMax) reasons.push(`serves ${count} subnets as far as this node knows (at most ${requirements.subnetsMax})`)
    if (request.spread !== undefined && advert.labels[request.spread] === '') reasons.push(`no ${request.spread} label, so --spread ${request.spread} cannot place it`)
    if (reasons.length > 0) refused.set(advert.nodeId, reasons)
    else eligible.push(advert)
  }
  eligible.sort((a, b) => (served.get(a.nodeId)! - served.get(b.nodeId)!) || byRank(a, b))
  const needed = request.size
  if (eligible.length < needed) {
    return err({ message: `cannot place ${needed} nodes: ${eligible.length} of ${newestPerNode(adverts).length} known nodes qualify${describe(request)}`, nodes: refusals(refused) })
  }
  const picked: CapacityAdvert[] = []
  const owner = new Map<string, NodeId>()
  for (const advert of eligible) {
    if (picked.length === needed) break
    if (request.spread !== undefined) {
      const value = advert.labels[request.spread]
      const holder = owner.get(value)
      if (holder !== undefined) {
        refused.set(advert.nodeId, [`same ${request.spread} (${value}) as ${holder}, which ranks higher`])
        continue
      }
      owner.set(value, advert.nodeId)
    }
    picked.push(advert)
  }
  if (picked.length < needed) {
    const spread = request.spread!
    const distinct = [...owner.keys()].sort()
    return err({
      message: `cannot spread ${needed} nodes across distinct ${spread}s: the ${eligible.length} qualifying nodes span ${distinct.length} ${spread}${distinct.length === 1 ? '' : 's'} (${distinct.join(', ')}), ${needed} needed`,
      nodes: refusals(refused)
    })
  }
  const placed = picked.map((advert, i) => placedNode(advert, served.get(advert.nodeId)!, { rank: i + 1, of: eligible.length }))
  return ok({ picked: placed, explanation: [`placed ${needed} of ${eligible.length} qualifying nodes${describe(request)}`, ...placed.map(p => `${p.nodeId}: ${p.reason}`)] })
}

function placedNode (advert: CapacityAdvert, subnets: number, { rank, of }: { rank: number, of: number }): PlacedNode {
  const labels = labelKeys.map(k => `${k}=${advert.labels[k] === '' ? '<none>' : advert.labels[k]}`).join(' ')
  return {
    nodeId: advert.nodeId,
    labels: advert.labels,
    subnets,
    score: advert.score,
    freeScore: freeScore(advert),
    memoryBytes: advert.memoryBytes,
    diskFreeBytes: advert.diskFreeBytes,
    actorSlotsFree: advert.actorSlotsFree,
    multiaddrs: advert.multiaddrs,
    reason: `rank ${rank} of ${of}: serves ${subnets} subnet${subnets === 1 ? '' : 's'}, spare compute ${freeScore(advert)} (score ${advert.score}, load ${advert.loadPermille}‰), memory ${advert.memoryBytes} B, free disk ${advert.diskFreeBytes} B; ${labels}`
  }
}

/**
 * Spare compute: the measured score shared with the load, score / (1 + load per core). Unlike an
 * idle share it never reaches zero on an overloaded node, so speed still orders busy machines.
 */
export function freeScore (advert: CapacityAdvert): bigint {
  return advert.score * 1000n / BigInt(1000 + advert.loadPermille)
}

function byRank (a: CapacityAdvert, b: CapacityAdvert): number {
  return compareDesc(freeScore(a), freeScore(b)) || compareDesc(a.memoryBytes, b.memoryBytes) ||
    compareDesc(a.diskFreeBytes, b.diskFreeBytes) || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
}

function compareDesc (a: bigint, b: bigint): number {
  return a > b ? -1 : a < b ? 1 : 0
}

/** One advert per node (the highest seq), in node id order, so input order never matters. */
function newestPerNode (adverts: readonly CapacityAdvert[]): CapacityAdvert[] {
  const newest = new Map<NodeId, CapacityAdvert>()
  for (const advert of adverts) {
    const current = newest.get(advert.nodeId)
    // Equal seqs only come from a node that signed two adverts alike (or a caller's duplicate): the
    // lower canonical encoding wins so the answer never depends on input order.
    if (current === undefined || advert.seq > current.seq || (advert.seq === current.seq && compareBytes(encode(advert), encode(current)) < 0)) {
      newest.set(advert.nodeId, advert)
    }
  }
  return [...newest.values()].sort((a, b) => a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

function refusals (refused: Map<NodeId, string[]>): NodeRefusal[] {
  return [...refused.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([nodeId, reasons]) => ({ nodeId, reasons }))
}

function describe (request: PlacementRequest): string {
  const parts = Object.entries(request.labels ?? {}).sort().map(([k, v]) => `${k}=${v}`)
  if (request.spread !== undefined) parts.push(`one per ${request.spread}`)
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}
