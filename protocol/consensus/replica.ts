// The Simplex replica as a pure, synchronous step function: (state, event) → { state, actions }.
// It owns the voting rules, certificates, view changes, finalization, equivocation evidence and the
// pure half of catch-up. It must never do I/O, read a clock or draw randomness: the driver does.
//
// Contract of step(state, event):
// - Pre: `state` came from createReplica/recover or the previous step, and the caller keeps no
//   other reference to it (the state is linear: step updates it in place and hands it back, so an
//   old reference is stale). Messages in events are parsed (messages.ts) but NOT verified; step
//   verifies every signature before counting it.
// - Post: the returned actions must be performed IN ORDER. A `persist` with sync: true must be
//   durable (written and fsynced, with every earlier record) before any later action is performed:
//   this is how an own vote reaches the WAL before it is sent. A `finalized` action must be
//   committed (block + certificate, synced) before later actions, since a later `prune` drops the
//   WAL records that the finalized tip makes redundant. Timers are one-shot; a `timeout` event for
//   a view the replica has left is ignored, so the driver need not cancel timers. `propose` and
//   `verify` are answered later by `payload` and `verified` events; answers for a view the
//   replica has left, or for another block, are ignored.
// - Bad input (forged or non-member votes, malformed proposals, unsolicited blocks) changes
//   nothing but a counter in `state.counters`; it never throws. A thrown AssertionError is a bug
//   (or more than f Byzantine replicas: two finalized blocks at one height).

import { assert } from '../assert.ts'
import {
  consensusBlocksBytesMax, consensusBlocksMax, consensusDeltaMsMax, consensusDeltaMsMin, consensusEvidenceMax, consensusFetchItemsMax,
  consensusPayloadBytesMax, consensusViewsAheadMax, consensusViewsBehindMax, consensusWantedMax
} from '../limits.ts'
import type { Signer } from '../signature.ts'
import {
  certificateOf, leaderOf, sameDecision, verifyCertificate, verifyMember, verifyVote, type Membership, type Verifier
} from './certificate.ts'
import {
  blockHash, bytesEqual, domains, hex, voteKindOfCertificate, voteSigningValue,
  type Block, type Blocks, type Certificate, type Message, type Proposal, type Request, type Vote, type VoteKind
} from './messages.ts'
import { walRecordView, type WalRecord } from './wal.ts'

export interface ReplicaConfig {
  membership: Membership
  /** This replica's index in membership.members; signer.id must equal that member. */
  self: number
  /** Signs own votes. Ed25519 is deterministic, so signing keeps step() pure. */
  signer: Signer
  /** Hash of the subnet's genesis: the parent of height 1, finalized at view 0. */
  genesis: Uint8Array
  /** Δ, the assumed bound on message delay: forward Δ/2, leader timeout 2Δ, advance timeout 3Δ, retry 4Δ. */
  deltaMs: number
  /** @default verifyMember — a driver may pass a memoized one. */
  verify?: Verifier
  /**
   * Ask the application to check each proposed payload (a `verify` action answered by a `verified`
   * event) before voting for it. A node driver sets this; unit tests of the voting rules need not.
   * @default false
   */
  verifyPayloads?: boolean
  /**
   * Blocks this replica walks back through while catching up before it asks for state sync instead
   * (the subnet's genesis may set it lower, e.g. for tests). At most consensusBlocksMax.
   * @default consensusBlocksMax
   */
  catchUpBlocksMax?: number
}

/** The last finalized block as the store knows it (genesis: height 0, view 0, hash = genesis). */
export interface FinalizedTip { height: bigint, view: bigint, hash: Uint8Array }

/**
 * `forward`: Δ/2 after this replica formed a notarization or finalization, it sends the certificate
 * to the members that have not shown they hold it (see acceptCertificate).
 */
export type TimerKind = 'leader' | 'advance' | 'retry' | 'forward'

export type Event =
  | { type: 'start' }
  /** `from` is the member index the transport authenticated (only requests use it). */
  | { type: 'message', from: number, message: Message }
  | { type: 'timeout', view: bigint, timer: TimerKind }
  /** The application's answer to a `propose` action. */
  | { type: 'payload', view: bigint, payload: Uint8Array }
  /** The application's answer to a `verify` action: may this block's payload be executed? */
  | { type: 'verified', view: bigint, block: Uint8Array, valid: boolean }

/** Two signed votes of one replica that no honest replica would sign together. */
export interface Evidence { signer: number, view: bigint, first: Vote, second: Vote }

export type Action =
  | { type: 'persist', record: WalRecord, sync: boolean }
  | { type: 'send', to: number | 'all', message: Message }
  | { type: 'setTimer', view: bigint, timer: TimerKind, delayMs: number }
  /**
   * Ask the application whether a proposal's payload is valid (deterministically: every honest
   * replica must reach the same verdict); answer with a `verified` event.
   */
  | { type: 'verify', view: bigint, hash: Uint8Array, block: Block }
  /** Ask the application for a payload extending `parent`; answer with a `payload` event. */
  | { type: 'propose', view: bigint, parent: Uint8Array, height: bigint }
  /** Emitted once per height, in height order. `certificate` finalizes this block or a descendant. */
  | { type: 'finalized', height: bigint, hash: Uint8Array, block: Block, certificate: Certificate }
  /** Send `request` to one or more of `peers` (the driver picks); answers arrive as messages. */
  | { type: 'fetch', request: Request, peers: number[] }
  /** A peer asked for blocks this replica no longer holds in memory: serve them from the store. */
  | { type: 'lookup', to: number, hashes: Uint8Array[] }
  /** WAL records of views below this one are redundant (the finalized tip covers them). */
  | { type: 'prune', belowView: bigint }
  | { type: 'evidence', evidence: Evidence }
  /**
   * The replica is further behind `target` than consensusBlocksMax blocks: it must restore a
   * certified checkpoint (state sync, node/subnet) and restart from it with recover().
   */
  | { type: 'stateSyncNeeded', finalizedHeight: bigint, target: Certificate }

export interface Counters {
  badSignature: number
  nonMember: number
  stale: number
  future: number
  duplicate: number
  invalidProposal: number
  invalidCertificate: number
  unsolicitedBlock: number
  blocksFull: number
  badPayload: number
  invalidPayload: number
}

interface ViewState {
  view: bigint
  proposal?: { hash: string, block: Block, vote: Vote }
  /** First vote of each kind per signer; later conflicting ones become evidence. */
  notarizes: Map<number, Vote>
  nullifies: Map<number, Vote>
  finalizes: Map<number, Vote>
  sentNotarize?: Vote
  sentNullify?: Vote
  sentFinalize?: Vote
  notarization?: Certificate
  nullification?: Certificate
  finalization?: Certificate
  /** The notarization was formed here from votes: the `forward` timer may owe it to members. */
  notarizationFormedHere?: boolean
  proposeRequested: boolean
  verifyRequested: boolean
  /** The application's verdict on the proposal's payload (verifyPayloads only). */
  verdict?: boolean
}

export interface ReplicaState {
  readonly config: ReplicaConfig
  readonly verify: Verifier
  started: boolean
  view: bigint
  views: Map<bigint, ViewState>
  blocks: Map<string, Block>
  /** Payload bytes held in `blocks`. */
  blockBytes: number
  finalized: FinalizedTip
  /** The certificate that finalized the tip (undefined at genesis). */
  finalizedCertificate?: Certificate
  /** Highest finalization not yet delivered (its chain is being completed). */
  target?: Certificate
  /** View of the newest finalization formed here from votes, until its `forward` timer fires. */
  finalizationToForward?: bigint
  wanted: Map<string, Uint8Array>
  wantedViews: Set<bigint>
  /** A want appeared since the last fetch action. */
  wantedNew: boolean
  /** View of the finalization for which stateSyncNeeded was emitted. */
  syncNeeded?: bigint
  evidence: Evidence[]
  counters: Counters
}

export interface StepResult { state: ReplicaState, actions: Action[] }

// ── Construction and recovery ───────────────────────────────────────────────────────────────────

/** Where a (re)started replica stands: the store's last finalized block and its certificate. */
export interface ReplicaStart {
  /** @default genesis (height 0, view 0) */
  tip?: FinalizedTip
  finalizedCertificate?: Certificate
}

export function createReplica (config: ReplicaConfig, { tip, finalizedCertificate }: ReplicaStart = {}): ReplicaState {
  const { membership, self, signer, deltaMs } = config
  assert(self >= 0 && self < membership.members.length, `self ${self} is not a member index`)
  assert(signer.id === membership.members[self], 'signer must be the member at index self')
  assert(deltaMs >= consensusDeltaMsMin && deltaMs <= consensusDeltaMsMax, `deltaMs must be ${consensusDeltaMsMin}..${consensusDeltaMsMax}, got ${deltaMs}`)
  const finalized = tip ?? { height: 0n, view: 0n, hash: config.genesis }
  return {
    config,
    verify: config.verify ?? verifyMember,
    started: false,
    view: finalized.view + 1n,
    views: new Map(),
    blocks: new Map(),
    blockBytes: 0,
    finalized,
    ...(finalizedCertificate === undefined ? {} : { finalizedCertificate }),
    wanted: new Map(),
    wantedViews: new Set(),
    wantedNew: false,
    evidence: [],
    counters: { badSignature: 0, nonMember: 0, stale: 0, future: 0, duplicate: 0, invalidProposal: 0, invalidCertificate: 0, unsolicitedBlock: 0, blocksFull: 0, badPayload: 0, invalidPayload: 0 }
  }
}

/**
 * Rebuilds a replica after a restart from its WAL (in write order, torn tail already cut off) and
 * the store's finalized tip. Every own vote in the WAL is restored as "sent", so the replica never
 * signs a second, different vote for a view it voted in. Records are trusted (own disk).
 */
export function recover (config: ReplicaConfig, records: readonly WalRecord[], start: ReplicaStart = {}): ReplicaState {
  const s = createReplica(config, start)
  for (const record of records) {
    const view = walRecordView(record)
    // A vote in view v puts us in v; a finalize vote or any certificate means v was settled.
    const settled = record.kind === 'certificate' || record.vote.kind === 'finalize'
    const next = settled ? view + 1n : view
    if (next > s.view) s.view = next
  }
  for (const record of records) {
    const vs = viewState(s, walRecordView(record))
    if (vs === undefined) continue
    if (record.kind === 'certificate') {
      restoreCertificate(s, vs, record.certificate)
      continue
    }
    const vote = record.vote
    assert(vote.signer === config.self, 'the WAL holds only own votes')
    votesOf(vs, vote.kind).set(vote.signer, vote)
    if (vote.kind === 'notarize') vs.sentNotarize = vote
    if (vote.kind === 'nullify') vs.sentNullify = vote
    if (vote.kind === 'finalize') vs.sentFinalize = vote
    if (record.block !== undefined) {
      storeBlock(s, vote.block!, record.block)
      if (vote.signer === leaderOf(config.membership, vote.view)) vs.proposal = { hash: hex(vote.block!), block: record.block, vote }
    }
  }
  return s
}

function restoreCertificate (s: ReplicaState, vs: ViewState, cert: Certificate): void {
  if (cert.kind === 'notarization') vs.notarization = cert
  if (cert.kind === 'nullification') vs.nullification = cert
  if (cert.kind === 'finalization') {
    vs.finalization = cert
    if (cert.view > s.finalized.view && (s.target === undefined || cert.view > s.target.view)) s.target = cert
  }
}

/** What a driver reports (metrics, `pylon status`): where the replica is and what it refused. */
export interface ReplicaStatus {
  view: bigint
  finalizedHeight: bigint
  finalizedView: bigint
  viewsHeld: number
  blocksHeld: number
  blockBytesHeld: number
  wanted: number
  evidence: number
  counters: Counters
}

export function replicaStatus (state: ReplicaState): ReplicaStatus {
  return {
    view: state.view,
    finalizedHeight: state.finalized.height,
    finalizedView: state.finalized.view,
    viewsHeld: state.views.size,
    blocksHeld: state.blocks.size,
    blockBytesHeld: state.blockBytes,
    wanted: state.wanted.size + state.wantedViews.size,
    evidence: state.evidence.length,
    counters: { ...state.counters }
  }
}

// ── The step function ───────────────────────────────────────────────────────────────────────────

export function step (state: ReplicaState, event: Event): StepResult {
  const out: Action[] = []
  switch (event.type) {
    case 'start':
      if (!state.started) start(state, out)
      break
    case 'message':
      if (!state.started) break
      onMessage(state, event.from, event.message, out)
      break
    case 'timeout':
      if (state.started) onTimeout(state, event.view, event.timer, out)
      break
    case 'payload':
      if (state.started) onPayload(state, event.view, event.payload, out)
      break
    case 'verified':
      if (state.started) onVerified(state, event, out)
      break
  }
  if (state.started) settle(state, out)
  return { state, actions: out }
}

function start (s: ReplicaState, out: Action[]): void {
  s.started = true
  enterView(s, s.view, out)
  // After a restart, repeat what we already said in this view: peers may never have received it.
  const vs = viewState(s, s.view)
  if (vs === undefined) return
  rebroadcastOwn(s, vs, out)
  // The timeouts of this view already fired before the crash: keep repeating the nullify.
  if (vs.sentNullify !== undefined) out.push({ type: 'setTimer', view: vs.view, timer: 'retry', delayMs: 4 * s.config.deltaMs })
}

/** Applies everything the last change made possible: advance views, finalize, vote, propose. */
function settle (s: ReplicaState, out: Action[]): void {
  for (let i = 0; i <= consensusViewsAheadMax + 1; i++) {
    const vs = s.views.get(s.view)
    if (vs === undefined || (vs.notarization === undefined && vs.nullification === undefined && vs.finalization === undefined)) break
    enterView(s, s.view + 1n, out)
  }
  finalizeChain(s, out)
  tryNotarize(s, out)
  maybePropose(s, out)
}

// ── Views and timers ────────────────────────────────────────────────────────────────────────────

/** Lowest view kept: nothing at or below the finalized view matters; far-behind views are dropped. */
function floorView (s: ReplicaState): bigint {
  const behind = s.view - BigInt(consensusViewsBehindMax)
  return behind > s.finalized.view + 1n ? behind : s.finalized.view + 1n
}

/** The state of a view inside the kept window [floor, view + ahead], created on demand. */
function viewState (s: ReplicaState, view: bigint): ViewState | undefined {
  const existing = s.views.get(view)
  if (existing !== undefined) return existing
  if (view < floorView(s) || view > s.view + BigInt(consensusViewsAheadMax)) return undefined
  const vs: ViewState = { view, notarizes: new Map(), nullifies: new Map(), finalizes: new Map(), proposeRequested: false, verifyRequested: false }
  s.views.set(view, vs)
  return vs
}

function enterView (s: ReplicaState, view: bigint, out: Action[]): void {
  s.view = view
  const floor = floorView(s)
  for (const v of s.views.keys()) if (v < floor) s.views.delete(v)
  for (const v of s.wantedViews) if (v < floor) s.wantedViews.delete(v)
  const delta = s.config.deltaMs
  out.push({ type: 'setTimer', view, timer: 'leader', delayMs: 2 * delta })
  out.push({ type: 'setTimer', view, timer: 'advance', delayMs: 3 * delta })
  viewState(s, view)
  // A request or its answer may have been lost; views advance about once per round trip, so
  // re-asking here retries at that pace even while the subnet makes progress without us.
  requestMissing(s, out, true)
}

function onTimeout (s: ReplicaState, view: bigint, timer: TimerKind, out: Action[]): void {
  if (timer === 'forward') {
    forwardCertificates(s, view, out)
    return
  }
  if (view !== s.view) return
  const vs = viewState(s, view)!
  if (timer === 'retry') {
    rebroadcastOwn(s, vs, out)
    requestMissing(s, out, true)
    out.push({ type: 'setTimer', view, timer: 'retry', delayMs: 4 * s.config.deltaMs })
    return
  }
  // Leader timeout: no proposal we could vote for in 2Δ. Advance timeout: no certificate in 3Δ.
  if (timer === 'leader' && vs.sentNotarize !== undefined) return
  if (vs.sentNullify === undefined) nullify(s, vs, out)
}

/**
 * Repeats own votes of this view and the certificates that justify it, for peers that missed
 * them (drops, partitions, a restart). Without this, lost messages could stall a view forever.
 */
function rebroadcastOwn (s: ReplicaState, vs: ViewState, out: Action[]): void {
  if (s.finalizedCertificate !== undefined) out.push({ type: 'send', to: 'all', message: s.finalizedCertificate })
  const previous = s.views.get(vs.view - 1n)
  const justification = previous?.notarization ?? previous?.nullification
  if (justification !== undefined) out.push({ type: 'send', to: 'all', message: justification })
  if (vs.proposal !== undefined && vs.proposal.vote.signer === s.config.self) {
    out.push({ type: 'send', to: 'all', message: { kind: 'proposal', block: vs.proposal.block, vote: vs.proposal.vote } })
  } else if (vs.sentNotarize !== undefined) {
    out.push({ type: 'send', to: 'all', message: vs.sentNotarize })
  }
  if (vs.sentNullify !== undefined) out.push({ type: 'send', to: 'all', message: vs.sentNullify })
}

// ── Own votes: persist (synced) strictly before send ────────────────────────────────────────────

function signVote (s: ReplicaState, kind: VoteKind, view: bigint, block: Uint8Array | undefined): Vote {
  const { membership, signer, self } = s.config
  const signature = signer.sign(domains[kind], voteSigningValue(membership.subnet, kind, view, block))
  return { kind, view, ...(block === undefined ? {} : { block }), signer: self, signature }
}

/**
 * Counts an own vote, makes it durable, then sends it: the one place where the WAL-before-send rule
 * is expressed. A leader's notarize travels inside its proposal, and its WAL record keeps the block.
 */
function castVote (vs: ViewState, vote: Vote, out: Action[], proposal?: Proposal): void {
  votesOf(vs, vote.kind).set(vote.signer, vote)
  const record: WalRecord = proposal === undefined ? { kind: 'vote', vote } : { kind: 'vote', vote, block: proposal.block }
  out.push({ type: 'persist', record, sync: true })
  out.push({ type: 'send', to: 'all', message: proposal ?? vote })
}

function nullify (s: ReplicaState, vs: ViewState, out: Action[]): void {
  const vote = signVote(s, 'nullify', vs.view, undefined)
  vs.sentNullify = vote
  castVote(vs, vote, out)
  out.push({ type: 'setTimer', view: vs.view, timer: 'retry', delayMs: 4 * s.config.deltaMs })
  checkQuorum(s, vs, 'nullify', undefined, out)
}

/** The parent a block in `view` may extend, or what is missing to know it. */
type ParentCheck = { ok: true, hash: Uint8Array, height: bigint, view: bigint } | { ok: false, missingBlock?: Uint8Array, missingView?: bigint }

/** Walks down from view−1: notarized views end the walk, nullified views are skipped. */
function selectParent (s: ReplicaState, view: bigint): ParentCheck {
  for (let w = view - 1n; w >= s.finalized.view; w--) {
    if (w === s.finalized.view) return { ok: true, hash: s.finalized.hash, height: s.finalized.height, view: w }
    const vs = s.views.get(w)
    if (vs === undefined) return { ok: false, missingView: w }
    const cert = vs.notarization ?? vs.finalization
    if (cert !== undefined) {
      const block = s.blocks.get(hex(cert.block!))
      return block === undefined ? { ok: false, missingBlock: cert.block! } : { ok: true, hash: cert.block!, height: block.height, view: w }
    }
    if (vs.nullification === undefined) return { ok: false, missingView: w }
  }
  return { ok: false }
}

/**
 * Simplex voting rule: the block's parent is notarized (or the finalized tip), every view between
 * them is nullified, and the height follows the parent's.
 */
function checkParent (s: ReplicaState, block: Block): ParentCheck {
  let parentView: bigint
  let parentHeight: bigint
  if (bytesEqual(block.parent, s.finalized.hash)) {
    parentView = s.finalized.view
    parentHeight = s.finalized.height
  } else {
    const parent = s.blocks.get(hex(block.parent))
    if (parent === undefined) return { ok: false, missingBlock: block.parent }
    const vs = s.views.get(parent.view)
    const cert = vs?.notarization ?? vs?.finalization
    if (parent.view <= s.finalized.view || parent.view >= block.view) return { ok: false }
    if (cert === undefined) return { ok: false, missingView: parent.view }
    if (!bytesEqual(cert.block, block.parent)) return { ok: false }
    parentView = parent.view
    parentHeight = parent.height
  }
  if (parentView >= block.view || block.height !== parentHeight + 1n) return { ok: false }
  for (let w = parentView + 1n; w < block.view; w++) {
    if (s.views.get(w)?.nullification === undefined) return { ok: false, missingView: w }
  }
  return { ok: true, hash: block.parent, height: parentHeight, view: parentView }
}

/** Votes notarize for the first proposal of the current view's leader, if the rule allows. */
function tryNotarize (s: ReplicaState, out: Action[]): void {
  const vs = s.views.get(s.view)
  if (vs?.proposal === undefined || vs.sentNotarize !== undefined || vs.sentNullify !== undefined) return
  const check = checkParent(s, vs.proposal.block)
  if (!check.ok) {
    if (check.missingBlock !== undefined) want(s, check.missingBlock)
    if (check.missingView !== undefined) wantView(s, check.missingView)
    requestMissing(s, out, false)
    return
  }
  if (s.config.verifyPayloads === true && vs.proposal.vote.signer !== s.config.self) {
    if (vs.verdict === undefined && !vs.verifyRequested) {
      vs.verifyRequested = true
      out.push({ type: 'verify', view: vs.view, hash: vs.proposal.vote.block!, block: vs.proposal.block })
    }
    if (vs.verdict !== true) return
  }
  const vote = signVote(s, 'notarize', vs.view, vs.proposal.vote.block)
  vs.sentNotarize = vote
  castVote(vs, vote, out)
  checkQuorum(s, vs, 'notarize', vote.block, out)
}

function maybePropose (s: ReplicaState, out: Action[]): void {
  const vs = s.views.get(s.view)
  if (vs === undefined || vs.proposeRequested || vs.proposal !== undefined || vs.sentNotarize !== undefined || vs.sentNullify !== undefined) return
  if (leaderOf(s.config.membership, vs.view) !== s.config.self) return
  const parent = selectParent(s, vs.view)
  if (!parent.ok) {
    if (parent.missingBlock !== undefined) want(s, parent.missingBlock)
    if (parent.missingView !== undefined) wantView(s, parent.missingView)
    requestMissing(s, out, false)
    return
  }
  vs.proposeRequested = true
  out.push({ type: 'propose', view: vs.view, parent: parent.hash, height: parent.height + 1n })
}

/** An invalid payload is the leader's fault: nullify at once instead of waiting for the timer. */
function onVerified (s: ReplicaState, event: Extract<Event, { type: 'verified' }>, out: Action[]): void {
  const vs = s.views.get(event.view)
  if (vs?.proposal === undefined || vs.proposal.hash !== hex(event.block) || vs.verdict !== undefined) return
  vs.verdict = event.valid === true
  if (vs.verdict) return
  s.counters.invalidPayload++
  if (vs.view === s.view && vs.sentNotarize === undefined && vs.sentNullify === undefined) nullify(s, vs, out)
}

function onPayload (s: ReplicaState, view: bigint, payload: Uint8Array, out: Action[]): void {
  const vs = s.views.get(view)
  if (view !== s.view || vs === undefined || !vs.proposeRequested || vs.proposal !== undefined || vs.sentNotarize !== undefined || vs.sentNullify !== undefined) return
  if (!(payload instanceof Uint8Array) || payload.length > consensusPayloadBytesMax) {
    s.counters.badPayload++
    return
  }
  const parent = selectParent(s, view)
  if (!parent.ok) return
  const { membership, self } = s.config
  const block: Block = { subnet: membership.subnet, view, height: parent.height + 1n, parent: parent.hash, payload, proposer: membership.members[self]! }
  const hash = blockHash(block)
  const vote = signVote(s, 'notarize', view, hash)
  vs.proposal = { hash: hex(hash), block, vote }
  vs.sentNotarize = vote
  storeBlock(s, hash, block)
  castVote(vs, vote, out, { kind: 'proposal', block, vote })
  checkQuorum(s, vs, 'notarize', hash, out)
}

// ── Incoming messages ───────────────────────────────────────────────────────────────────────────

function onMessage (s: ReplicaState, from: number, message: Message, out: Action[]): void {
  if (!Number.isInteger(from) || from < 0 || from >= s.config.membership.members.length) {
    s.counters.nonMember++
    return
  }
  switch (message.kind) {
    case 'notarize': case 'nullify': case 'finalize': onVote(s, message, out); break
    case 'notarization': case 'nullification': case 'finalization': onCertificate(s, message, out); break
    case 'proposal': onProposal(s, message, out); break
    case 'request': onRequest(s, from, message, out); break
    case 'blocks': onBlocks(s, message); break
  }
}

function votesOf (vs: ViewState, kind: VoteKind): Map<number, Vote> {
  return kind === 'notarize' ? vs.notarizes : kind === 'nullify' ? vs.nullifies : vs.finalizes
}

/** Window and membership checks shared by votes and proposals; counts what it refuses. */
function voteView (s: ReplicaState, vote: Vote): ViewState | undefined {
  if (vote.signer >= s.config.membership.members.length) {
    s.counters.nonMember++
    return undefined
  }
  const vs = viewState(s, vote.view)
  if (vs === undefined) {
    if (vote.view < floorView(s)) s.counters.stale++
    else s.counters.future++
  }
  return vs
}

function onVote (s: ReplicaState, vote: Vote, out: Action[]): void {
  const vs = voteView(s, vote)
  if (vs === undefined) return
  const votes = votesOf(vs, vote.kind)
  const first = votes.get(vote.signer)
  if (first !== undefined && (bytesEqual(first.signature, vote.signature) || hasEvidence(s, first, vote))) {
    // A repeat, or more of a signer already proven to equivocate here: not worth a verification.
    s.counters.duplicate++
    return
  }
  if (!verifyVote(s.config.membership, vote, s.verify)) {
    s.counters.badSignature++
    return
  }
  if (first !== undefined) {
    // Ed25519 is deterministic: a second valid signature means a second, different vote.
    if (!bytesEqual(first.block, vote.block)) recordEvidence(s, first, vote, out)
    else s.counters.duplicate++
    return
  }
  // Simplex forbids nullify and finalize in one view from one replica.
  const opposite = vote.kind === 'nullify' ? vs.finalizes.get(vote.signer) : vote.kind === 'finalize' ? vs.nullifies.get(vote.signer) : undefined
  if (opposite !== undefined) recordEvidence(s, opposite, vote, out)
  votes.set(vote.signer, vote)
  checkQuorum(s, vs, vote.kind, vote.block, out)
}

function hasEvidence (s: ReplicaState, first: Vote, second: Vote): boolean {
  return s.evidence.some(e => e.signer === first.signer && e.view === first.view && e.first.kind === first.kind && e.second.kind === second.kind)
}

function recordEvidence (s: ReplicaState, first: Vote, second: Vote, out: Action[]): void {
  if (hasEvidence(s, first, second)) return
  const evidence: Evidence = { signer: first.signer, view: first.view, first, second }
  if (s.evidence.length >= consensusEvidenceMax) s.evidence.shift()
  s.evidence.push(evidence)
  out.push({ type: 'evidence', evidence })
}

function onProposal (s: ReplicaState, proposal: Proposal, out: Action[]): void {
  const { block, vote } = proposal
  const { membership } = s.config
  const leader = leaderOf(membership, block.view)
  if (vote.kind !== 'notarize' || vote.view !== block.view || vote.signer !== leader || block.proposer !== membership.members[leader] ||
      block.subnet !== membership.subnet || block.payload.length > consensusPayloadBytesMax) {
    s.counters.invalidProposal++
    return
  }
  const vs = voteView(s, vote)
  if (vs === undefined) return
  const hash = blockHash(block)
  if (!bytesEqual(hash, vote.block)) {
    s.counters.invalidProposal++
    return
  }
  if (vs.proposal !== undefined && (vs.proposal.hash === hex(hash) || hasEvidence(s, vs.proposal.vote, vote))) {
    // A repeat, or yet another block from a leader already proven to equivocate: no verification.
    s.counters.duplicate++
    return
  }
  if (!verifyVote(membership, vote, s.verify)) {
    s.counters.badSignature++
    return
  }
  if (vs.proposal !== undefined) {
    recordEvidence(s, vs.proposal.vote, vote, out)
    return
  }
  vs.proposal = { hash: hex(hash), block, vote }
  storeBlock(s, hash, block)
  const first = vs.notarizes.get(vote.signer)
  if (first === undefined) {
    vs.notarizes.set(vote.signer, vote)
    checkQuorum(s, vs, 'notarize', hash, out)
  } else if (!bytesEqual(first.block, hash)) {
    recordEvidence(s, first, vote, out)
  }
}

function onCertificate (s: ReplicaState, cert: Certificate, out: Action[]): void {
  if (cert.view <= s.finalized.view) {
    s.counters.stale++
    return
  }
  const vs = s.views.get(cert.view)
  const held = vs === undefined ? undefined : cert.kind === 'notarization' ? vs.notarization : cert.kind === 'nullification' ? vs.nullification : vs.finalization
  if (held !== undefined && sameDecision(held, cert)) {
    s.counters.duplicate++
    return
  }
  const valid = verifyCertificate(s.config.membership, cert, s.verify)
  if (!valid.ok) {
    s.counters.invalidCertificate++
    return
  }
  // A valid certificate proves a quorum moved past its view: jump there (settle() then enters the
  // next view). Skipping views is safe in Simplex; we just cast no votes in them.
  if (cert.view > s.view) enterView(s, cert.view, out)
  const target = viewState(s, cert.view)
  if (target === undefined) {
    s.counters.stale++
    return
  }
  s.wantedViews.delete(cert.view)
  recordCertificateConflicts(s, target, cert, out)
  acceptCertificate(s, target, cert, out, false)
}

/**
 * Equivocation seen only through a certificate: a member that sent us one vote and signed a
 * conflicting one that others certified (a leader proposing one block to us and another to the
 * rest; a double voter splitting the members). Every signature in `cert` was verified with it, so
 * each signer's vote is rebuilt from it and set against the vote we hold from that member: another
 * block of the same kind, or finalize against nullify, is evidence like two votes received
 * directly. It changes no decision.
 */
function recordCertificateConflicts (s: ReplicaState, vs: ViewState, cert: Certificate, out: Action[]): void {
  const kind = voteKindOfCertificate[cert.kind]
  for (const [i, signer] of cert.signers.entries()) {
    const same = votesOf(vs, kind).get(signer)
    const opposite = kind === 'nullify' ? vs.finalizes.get(signer) : kind === 'finalize' ? vs.nullifies.get(signer) : undefined
    if ((same === undefined || bytesEqual(same.block, cert.block)) && opposite === undefined) continue
    const vote: Vote = { kind, view: cert.view, ...(cert.block === undefined ? {} : { block: cert.block }), signer, signature: cert.signatures[i]! }
    if (same !== undefined && !bytesEqual(same.block, cert.block)) recordEvidence(s, same, vote, out)
    if (opposite !== undefined) recordEvidence(s, opposite, vote, out)
  }
}

/**
 * Records a verified certificate (formed here or received) and acts on it.
 *
 * A certificate formed here is news only to members that missed votes; received ones they already
 * have. With every vote delivered, every member forms every certificate itself, so broadcasting
 * each at once (as the Simplex papers do) made 2 of every 3 consensus messages of a height copies
 * nobody needed. A nullification still goes to all at once: it is rare and it is what moves a
 * stalled view. A notarization or finalization waits Δ/2 (the `forward` timer) and then goes only
 * where it may still be missing: a notarization to members whose finalize vote for its view has
 * not arrived (a member sends finalize only once it holds the notarization) while the view is not
 * final; a finalization to all, unless a newer one has been formed or received meanwhile (it
 * finalizes this one's chain too). Safety does not depend on forwarding; liveness after lost
 * votes waits at most Δ/2 longer.
 */
function acceptCertificate (s: ReplicaState, vs: ViewState, cert: Certificate, out: Action[], formedHere: boolean): void {
  out.push({ type: 'persist', record: { kind: 'certificate', certificate: cert }, sync: false })
  if (formedHere) {
    if (cert.kind === 'nullification') out.push({ type: 'send', to: 'all', message: cert })
    else {
      if (cert.kind === 'notarization') vs.notarizationFormedHere = true
      else s.finalizationToForward = cert.view
      out.push({ type: 'setTimer', view: cert.view, timer: 'forward', delayMs: Math.max(1, Math.floor(s.config.deltaMs / 2)) })
    }
  }
  if (cert.kind === 'nullification') {
    vs.nullification = cert
    return
  }
  if (!s.blocks.has(hex(cert.block!))) want(s, cert.block!)
  if (cert.kind === 'finalization') {
    vs.finalization = cert
    if (s.target === undefined || cert.view > s.target.view) s.target = cert
    return
  }
  vs.notarization = cert
  // Finalize unless we nullified this view (then our finalize could complete a conflicting quorum).
  if (vs.sentNullify === undefined && vs.sentFinalize === undefined) {
    const vote = signVote(s, 'finalize', vs.view, cert.block)
    vs.sentFinalize = vote
    castVote(vs, vote, out)
    checkQuorum(s, vs, 'finalize', cert.block, out)
  }
}

/** The `forward` timer of `view`: the certificates formed here that members may still lack. */
function forwardCertificates (s: ReplicaState, view: bigint, out: Action[]): void {
  const vs = s.views.get(view)
  if (vs?.notarization !== undefined && vs.notarizationFormedHere === true && vs.finalization === undefined && view > s.finalized.view) {
    delete vs.notarizationFormedHere
    const { members } = s.config.membership
    for (let i = 0; i < members.length; i++) {
      if (i !== s.config.self && !vs.finalizes.has(i)) out.push({ type: 'send', to: i, message: vs.notarization })
    }
  }
  if (s.finalizationToForward !== view) return
  delete s.finalizationToForward
  const newest = s.target ?? s.finalizedCertificate
  if (newest !== undefined && newest.view === view) out.push({ type: 'send', to: 'all', message: newest })
}

/** Forms a certificate the moment a quorum of matching, verified votes is held (not before). */
function checkQuorum (s: ReplicaState, vs: ViewState, kind: VoteKind, block: Uint8Array | undefined, out: Action[]): void {
  const held = kind === 'notarize' ? vs.notarization : kind === 'nullify' ? vs.nullification : vs.finalization
  if (held !== undefined) return
  const matching = new Map<number, Uint8Array>()
  for (const [signer, vote] of votesOf(vs, kind)) if (bytesEqual(vote.block, block)) matching.set(signer, vote.signature)
  if (matching.size < s.config.membership.quorum) return
  const certKind = kind === 'notarize' ? 'notarization' : kind === 'nullify' ? 'nullification' : 'finalization'
  acceptCertificate(s, vs, certificateOf(certKind, vs.view, block, matching), out, true)
}

// ── Finalization and pruning ────────────────────────────────────────────────────────────────────

/**
 * Delivers the target finalization and all its undelivered ancestors, in height order, once the
 * hash chain from it down to the finalized tip is complete. Each fetched block was accepted only
 * because its hash was wanted (named by a verified certificate or a wanted child), so the chain
 * is certified by the target's 2f+1 signatures.
 */
function finalizeChain (s: ReplicaState, out: Action[]): void {
  const target = s.target
  if (target === undefined) return
  if (target.view <= s.finalized.view) {
    delete s.target
    return
  }
  const chain: Array<{ hash: Uint8Array, block: Block }> = []
  let hash = target.block!
  for (let i = 0; i <= consensusBlocksMax; i++) {
    const block = s.blocks.get(hex(hash))
    if (block === undefined) {
      if (s.blocks.size >= Math.min(s.config.catchUpBlocksMax ?? consensusBlocksMax, consensusBlocksMax) || s.blockBytes >= consensusBlocksBytesMax) {
        // The gap is wider than memory may hold: walking back cannot finish. Say so once.
        if (s.syncNeeded !== target.view) out.push({ type: 'stateSyncNeeded', finalizedHeight: s.finalized.height, target })
        s.syncNeeded = target.view
        return
      }
      want(s, hash)
      requestMissing(s, out, false)
      return
    }
    chain.push({ hash, block })
    assert(block.height > s.finalized.height, `finalized chain conflicts with height ${s.finalized.height}: more than f Byzantine replicas`)
    if (block.height === s.finalized.height + 1n) {
      assert(bytesEqual(block.parent, s.finalized.hash), `two different blocks finalized at height ${s.finalized.height}: more than f Byzantine replicas`)
      break
    }
    hash = block.parent
  }
  const last = chain[chain.length - 1]
  if (last === undefined || last.block.height !== s.finalized.height + 1n) return
  for (let i = chain.length - 1; i >= 0; i--) {
    const { hash: h, block } = chain[i]!
    s.finalized = { height: block.height, view: block.view, hash: h }
    out.push({ type: 'finalized', height: block.height, hash: h, block, certificate: target })
  }
  s.finalizedCertificate = target
  delete s.target
  prune(s, out)
}

function prune (s: ReplicaState, out: Action[]): void {
  if (s.view <= s.finalized.view) enterView(s, s.finalized.view + 1n, out)
  const floor = floorView(s)
  for (const v of s.views.keys()) if (v < floor) s.views.delete(v)
  for (const [key, block] of s.blocks) {
    if (block.height > s.finalized.height) continue
    s.blocks.delete(key)
    s.blockBytes -= block.payload.length
  }
  // Wants are re-derived by whatever still needs them; old ones may be unanswerable.
  s.wanted.clear()
  for (const v of s.wantedViews) if (v < floor) s.wantedViews.delete(v)
  out.push({ type: 'prune', belowView: s.finalized.view })
}

// ── Catch-up: the pure half (what to ask for, what to accept, what to answer) ─────────────────────

function storeBlock (s: ReplicaState, hash: Uint8Array, block: Block): boolean {
  const key = hex(hash)
  if (s.blocks.has(key)) return true
  if (block.height <= s.finalized.height) return false
  if (s.blocks.size >= consensusBlocksMax || s.blockBytes + block.payload.length > consensusBlocksBytesMax) {
    s.counters.blocksFull++
    return false
  }
  s.blocks.set(key, block)
  s.blockBytes += block.payload.length
  return true
}

function want (s: ReplicaState, hash: Uint8Array): void {
  const key = hex(hash)
  if (s.blocks.has(key) || s.wanted.has(key) || s.wanted.size >= consensusWantedMax) return
  s.wanted.set(key, hash)
  s.wantedNew = true
}

function wantView (s: ReplicaState, view: bigint): void {
  if (s.wantedViews.has(view) || s.wantedViews.size >= consensusWantedMax) return
  s.wantedViews.add(view)
  s.wantedNew = true
}

/** Emits one fetch for outstanding wants: when new ones appeared, or always on `retry`. */
function requestMissing (s: ReplicaState, out: Action[], retry: boolean): void {
  if (!retry && !s.wantedNew) return
  s.wantedNew = false
  if (s.wanted.size === 0 && s.wantedViews.size === 0) return
  const blocks = [...s.wanted.values()].slice(0, consensusFetchItemsMax)
  const views = [...s.wantedViews].slice(0, consensusFetchItemsMax)
  const peers = s.config.membership.members.map((_, i) => i).filter(i => i !== s.config.self)
  out.push({ type: 'fetch', request: { kind: 'request', blocks, views }, peers })
}

function onRequest (s: ReplicaState, from: number, request: Request, out: Action[]): void {
  const blocks: Block[] = []
  const missing: Uint8Array[] = []
  let bytes = 0
  // Each asked-for hash is answered with the block and as many of its ancestors as we hold, so a
  // replica walking back a long certified chain gets up to consensusFetchItemsMax blocks per trip.
  for (const hash of request.blocks.slice(0, consensusFetchItemsMax)) {
    let block = s.blocks.get(hex(hash))
    if (block === undefined) missing.push(hash)
    while (block !== undefined && blocks.length < consensusFetchItemsMax && bytes + block.payload.length <= consensusPayloadBytesMax) {
      blocks.push(block)
      bytes += block.payload.length
      block = s.blocks.get(hex(block.parent))
    }
  }
  if (blocks.length > 0) out.push({ type: 'send', to: from, message: { kind: 'blocks', blocks } })
  if (missing.length > 0) out.push({ type: 'lookup', to: from, hashes: missing })
  let sentFinalization = false
  for (const view of request.views.slice(0, consensusFetchItemsMax)) {
    if (view <= s.finalized.view) {
      // Settled views below our tip: the finalization lets the asker jump past them.
      if (!sentFinalization && s.finalizedCertificate !== undefined) out.push({ type: 'send', to: from, message: s.finalizedCertificate })
      sentFinalization = true
      continue
    }
    const vs = s.views.get(view)
    for (const cert of [vs?.notarization, vs?.nullification, vs?.finalization]) {
      if (cert !== undefined) out.push({ type: 'send', to: from, message: cert })
    }
  }
}

/**
 * Accepts only blocks whose hash we asked for (named by a verified certificate, or the parent of an
 * accepted block), so each accepted block is certified by the chain of hashes above it. Blocks
 * arrive child first; accepting one makes its parent wanted, so a batch of ancestors is taken whole.
 */
function onBlocks (s: ReplicaState, message: Blocks): void {
  for (const block of message.blocks) {
    const hash = blockHash(block)
    const key = hex(hash)
    if (!s.wanted.has(key) || block.subnet !== s.config.membership.subnet) {
      s.counters.unsolicitedBlock++
      continue
    }
    s.wanted.delete(key)
    if (!storeBlock(s, hash, block)) continue
    if (block.height > s.finalized.height + 1n && !s.blocks.has(hex(block.parent))) want(s, block.parent)
  }
}
