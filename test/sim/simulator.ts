// Deterministic simulation of a Simplex subnet: n pure replicas (protocol/consensus) on a seeded
// network (drop, delay, reorder, duplication, partitions incl. asymmetric), simulated disks (lost
// unsynced writes, torn records), crashes/restarts, Byzantine replicas and kv clients. Everything
// runs in one thread on a simulated clock, so a seed replays exactly. Never reads the real clock.

import { createHash } from 'node:crypto'
import { cidOf, decode, encode, sha256Bytes } from '../../protocol/codec.ts'
import { peerIdOfPublicKey } from '../../protocol/ids.ts'
import { signerFromSeed, type Signer } from '../../protocol/signature.ts'
import { membershipOf, verifyCertificate, verifyMember, type Membership, type Verifier } from '../../protocol/consensus/certificate.ts'
import { blockHash, bytesEqual, decodeMessage, domains, encodeMessage, hex, voteSigningValue, type Block, type Certificate, type Message, type Vote } from '../../protocol/consensus/messages.ts'
import { createReplica, recover, step, type Action, type Event, type ReplicaConfig, type ReplicaState, type TimerKind } from '../../protocol/consensus/replica.ts'
import { decodeWalRecord, encodeWalRecord, walRecordView, type WalRecord } from '../../protocol/consensus/wal.ts'
import { SimDisk } from './disk.ts'
import { checkLinearizable, kvModel, type KvInput, type KvOutput, type Operation } from './linearizability.ts'
import { Prng } from './prng.ts'

/**
 * Byzantine behaviours. 'twin' (after Twins, Bano et al.): two unmodified honest copies share one
 * key, each talking to its own half of the subnet, so equivocation arises from honest code.
 */
export type Byzantine = 'silent' | 'equivocator' | 'double-voter' | 'bad-signature' | 'twin'

export interface SimOptions {
  seed: number
  replicas: 4 | 7
  /** Simulated ms of the fault phase; then faults heal and liveness is required. */
  faultMs?: number
  /** Simulated ms after healing within which every honest replica must finalize `progressBlocks` more. */
  livenessMs?: number
  progressBlocks?: number
  /** No drops, delays beyond Δ/2, partitions, crashes or Byzantine replicas (for benchmarks). */
  calm?: boolean
  /**
   * How signature checks are memoized: 'shared' across replicas (the default; fastest, the same
   * answers), 'per-replica' (as a driver with its own cache would), or 'none' (every check runs).
   */
  verification?: 'shared' | 'per-replica' | 'none'
}

export interface SimResult {
  ok: boolean
  seed: number
  replicas: number
  error?: string
  digest: string
  steps: number
  finalizedHeight: number
  simulatedMs: number
  signaturesVerified: number
  signaturesSigned: number
  /** Wall-clock ms spent in Ed25519 sign/verify (a statistic; never feeds back into the run). */
  cryptoMs: number
  messagesSent: number
  messagesDropped: number
  crashes: number
  /** Catch-up requests sent, and requests answered from the store (blocks no longer in memory). */
  fetches: number
  lookups: number
  /** Messages corrupted on the wire that the codec refused (the rest fail signature checks). */
  corruptRefused: number
  tornRecords: number
  lostRecords: number
  evidence: number
  badSignaturesDropped: number
  operations: number
  operationsCompleted: number
  byzantine: string[]
  replay: string
}

const deltaMs = 10
const debug = process.env['SIM_DEBUG'] === '1'
const genesis = sha256Bytes(encode(['pylon/sim-genesis/v1']))
const subnet = cidOf({ sim: 'subnet' }).toString()

// Keys are the same for every seed (they cost a few ms to derive); the seed drives everything else.
const signers: Signer[] = Array.from({ length: 7 }, (_, i) => signerFromSeed(sha256Bytes(encode(['sim-key', i])), peerIdOfPublicKey))
const memberships = new Map<number, Membership>()
function membershipFor (n: number): Membership {
  let m = memberships.get(n)
  if (m === undefined) memberships.set(n, m = membershipOf(subnet, signers.slice(0, n).map(s => s.id)))
  return m
}

class SimFailure extends Error {}

interface Op { id: string, client: number, input: KvInput, via: number }

interface SimReplica {
  /** Position in the simulator (timers, deliveries); equals `index` except for a twin's copy. */
  slot: number
  /** Member index: the key it signs with and the `from` its peers see. */
  index: number
  /** A twin's copy talks only to these members (undefined: to everyone). */
  group?: Set<number>
  /** Its clock's rate: timers of a fast or slow clock fire early or late (skew between replicas). */
  clockRate: number
  byzantine?: Byzantine
  state?: ReplicaState
  incarnation: number
  disk: SimDisk
  /** Durable: finalized blocks and the kv state, committed atomically with each `finalized`. */
  log: Array<{ hash: Uint8Array, block: Block }>
  byHash: Map<string, Block>
  lastCertificate?: Certificate
  kv: Map<string, string>
  applied: Set<string>
  mempool: Op[]
  /** What this replica's key signed, across restarts: (kind, view) → value. */
  signed: Map<string, string>
  restartAt?: number
}

type QueueItem =
  | { type: 'deliver', to: number, from: number, bytes: Uint8Array, corrupted: boolean }
  | { type: 'timer', replica: number, incarnation: number, view: bigint, timer: TimerKind }
  | { type: 'payload', replica: number, incarnation: number, view: bigint }
  | { type: 'verified', replica: number, incarnation: number, view: bigint, block: Uint8Array, valid: boolean }
  | { type: 'restart', replica: number }
  | { type: 'crash', replica: number }
  | { type: 'partition' }
  | { type: 'client', client: number }
  | { type: 'submit', op: Op }
  | { type: 'response', client: number, opId: string, output: KvOutput }
  | { type: 'give-up', client: number, opId: string }
  | { type: 'heal' }

interface Scheduled { at: number, seq: number, item: QueueItem }

/** A binary min-heap on (at, seq): ties broken by insertion order, so runs are deterministic. */
class Queue {
  private heap: Scheduled[] = []
  private seq = 0
  push (at: number, item: QueueItem): void {
    const node = { at, seq: this.seq++, item }
    const h = this.heap
    h.push(node)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(h[p]!, node)) break
      h[i] = h[p]!
      i = p
    }
    h[i] = node
  }

  pop (): Scheduled | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (top === undefined || last === undefined || h.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const r = l + 1
      const c = r < h.length && less(h[r]!, h[l]!) ? r : l
      if (less(last, h[c]!)) break
      h[i] = h[c]!
      i = c
    }
    h[i] = last
    return top
  }

  get size (): number {
    return this.heap.length
  }
}

function less (a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

export function replayCommand (seed: number, replicas: number): string {
  return `npm run test:sim -- --seed ${seed} --replicas ${replicas}`
}

/** Runs one seeded scenario; never throws for a protocol failure (it is reported with its seed). */
export function runSimulation (options: SimOptions): SimResult {
  const sim = new Simulation(options)
  let error: string | undefined
  try {
    sim.run()
  } catch (e) {
    if (!(e instanceof SimFailure) && !(e instanceof Error)) throw e
    error = `${e instanceof SimFailure ? '' : 'exception: '}${(e as Error).message}`
    if (!(e instanceof SimFailure)) error += '\n' + ((e as Error).stack ?? '')
  }
  return sim.result(error)
}

class Simulation {
  readonly rng: Prng
  readonly n: number
  readonly membership: Membership
  readonly queue = new Queue()
  readonly replicas: SimReplica[] = []
  readonly trace = createHash('sha256')
  readonly verifyCache = new Map<string, boolean>()
  readonly finalizedAt = new Map<bigint, string>()
  readonly rootAt = new Map<bigint, string>()
  readonly history: Array<Operation<KvInput, KvOutput> & { id: string }> = []
  readonly pending = new Map<string, Operation<KvInput, KvOutput> & { id: string }>()
  readonly blocked = new Set<string>()
  now = 0
  steps = 0
  healed = false
  healAt: number
  deadline: number
  progressTarget = 0n
  stats = { verified: 0, signed: 0, sent: 0, dropped: 0, crashes: 0, evidence: 0, cryptoMs: 0, fetches: 0, lookups: 0, corruptRefused: 0 }
  readonly dropP: number
  readonly dupP: number
  readonly slowP: number
  readonly midCrashP: number
  readonly corruptP: number
  readonly clients = 3
  readonly progressBlocks: number
  readonly verify: Verifier

  readonly options: SimOptions

  constructor (options: SimOptions) {
    this.options = options
    this.rng = new Prng(options.seed)
    this.n = options.replicas
    this.membership = membershipFor(this.n)
    const rng = this.rng
    const calm = options.calm === true
    this.dropP = calm ? 0 : rng.pick([0, 0, 0.02, 0.08, 0.2])
    this.dupP = calm ? 0 : rng.pick([0, 0.02, 0.1])
    this.slowP = calm ? 0 : rng.pick([0, 0.03, 0.1])
    this.midCrashP = calm ? 0 : rng.pick([0, 0.002, 0.01])
    this.corruptP = calm ? 0 : rng.pick([0, 0, 0.005, 0.02])
    this.healAt = options.faultMs ?? 600
    this.deadline = this.healAt + (options.livenessMs ?? 2000)
    this.progressBlocks = options.progressBlocks ?? 3
    const verification = options.verification ?? 'shared'
    this.verify = (m, signer, domain, value, signature) => {
      // Verification is a pure function: memoizing it across replicas changes only speed.
      if (verification === 'none') return this.timedVerify(m, signer, domain, value, signature)
      const key = `${verification === 'per-replica' ? this.current : ''}|${signer}|${domain}|${hex(encode(value))}|${hex(signature)}`
      let valid = this.verifyCache.get(key)
      if (valid === undefined) {
        valid = this.timedVerify(m, signer, domain, value, signature)
        if (this.verifyCache.size > 50_000) this.verifyCache.clear()
        this.verifyCache.set(key, valid)
      }
      return valid
    }
    const f = this.membership.faults
    const byzantineCount = calm ? 0 : rng.int(f + 1)
    const byzantine = rng.shuffle([...Array(this.n).keys()]).slice(0, byzantineCount)
    for (let i = 0; i < this.n; i++) {
      const behaviour = byzantine.includes(i) ? rng.pick<Byzantine>(['silent', 'equivocator', 'double-voter', 'bad-signature', 'twin']) : undefined
      this.replicas.push({
        slot: i, index: i, clockRate: calm ? 1 : rng.pick([1, 1, 0.7, 1.5]), incarnation: 0, disk: new SimDisk(), log: [], byHash: new Map(), kv: new Map(), applied: new Set(), mempool: [], signed: new Map(),
        ...(behaviour === undefined ? {} : { byzantine: behaviour })
      })
    }
    for (const primary of this.replicas.filter(r => r.byzantine === 'twin')) {
      const others = rng.shuffle([...Array(this.n).keys()].filter(i => i !== primary.index))
      const half = new Set(others.slice(0, Math.ceil(others.length / 2)))
      primary.group = new Set(others.filter(i => !half.has(i)))
      const copy: SimReplica = {
        slot: this.replicas.length, index: primary.index, group: half, byzantine: 'twin', clockRate: primary.clockRate, incarnation: 0, disk: new SimDisk(),
        log: [], byHash: new Map(), kv: new Map(), applied: new Set(), mempool: [], signed: new Map()
      }
      this.replicas.push(copy)
      this.twinOf.set(primary.index, copy)
    }
    if (calm) {
      this.queue.push(this.healAt, { type: 'heal' })
      for (let c = 0; c < this.clients; c++) this.queue.push(rng.int(50), { type: 'client', client: c })
    } else {
      this.scheduleFaults()
    }
  }

  /** Counts and times real signature checks (wall time is a statistic only; it steers nothing). */
  private timedVerify (m: Membership, signer: number, domain: string, value: unknown, signature: Uint8Array): boolean {
    const start = performance.now()
    const valid = verifyMember(m, signer, domain, value, signature)
    this.stats.cryptoMs += performance.now() - start
    this.stats.verified++
    return valid
  }

  /** Members whose key is shared by a second copy (Twins), keyed by member index. */
  readonly twinOf = new Map<number, SimReplica>()

  /** The replica being stepped (for per-replica verification caches). */
  current = -1

  private scheduleFaults (): void {
    const rng = this.rng
    const crashes = rng.int(4)
    for (let i = 0; i < crashes; i++) this.queue.push(rng.int(this.healAt), { type: 'crash', replica: rng.int(this.n) })
    const partitions = rng.int(4)
    for (let i = 0; i < partitions; i++) this.queue.push(rng.int(this.healAt), { type: 'partition' })
    this.queue.push(this.healAt, { type: 'heal' })
    for (let c = 0; c < this.clients; c++) this.queue.push(rng.int(50), { type: 'client', client: c })
  }

  run (): void {
    for (const r of this.replicas) this.boot(r, false)
    for (;;) {
      const next = this.queue.pop()
      if (next === undefined) throw new SimFailure('event queue ran dry')
      this.now = next.at
      if (this.now > this.deadline) {
        const heights = this.honest().map(r => r.log.length).join(',')
        this.fail(`liveness: honest replicas did not all reach height ${this.progressTarget} within ${this.deadline - this.healAt} ms after healing (heights ${heights})`)
      }
      this.steps++
      this.handle(next.item)
      if (this.healed && this.honest().every(r => BigInt(r.log.length) >= this.progressTarget)) break
    }
    this.checkHistory()
  }

  /** One line per replica for a failure report: where it is and what it holds. */
  describe (): string {
    return this.replicas.map(r => {
      const s = r.state
      if (s === undefined) return `  replica ${r.index}: down`
      const vs = s.views.get(s.view)
      const views = [...s.views.values()].filter(v => v.view >= s.view - 3n).map(v =>
        `${v.view}:${v.proposal ? 'P' : ''}${v.notarization ? 'N' : ''}${v.nullification ? 'X' : ''}${v.finalization ? 'F' : ''}` +
        `(n${v.notarizes.size}/x${v.nullifies.size}/f${v.finalizes.size}${v.sentNotarize ? ' sN' : ''}${v.sentNullify ? ' sX' : ''}${v.sentFinalize ? ' sF' : ''})`).join(' ')
      return `  replica ${r.index}${r.byzantine ? ' (' + r.byzantine + ')' : ''}: view ${s.view} finalized ${s.finalized.height}@${s.finalized.view} target ${s.target?.view ?? '-'} wanted ${s.wanted.size}/${s.wantedViews.size} blocks ${s.blocks.size} cur ${vs ? 'y' : 'n'} | ${views} | ${JSON.stringify(s.counters)}`
    }).join('\n')
  }

  honest (): SimReplica[] {
    return this.replicas.filter(r => r.byzantine === undefined)
  }

  private handle (item: QueueItem): void {
    switch (item.type) {
      case 'deliver': return this.deliver(item)
      case 'timer': {
        const r = this.replicas[item.replica]!
        if (r.state === undefined || r.incarnation !== item.incarnation) return
        this.trace.update(`t${this.now}|${item.replica}|${item.timer}${item.view}\n`)
        return this.apply(r, { type: 'timeout', view: item.view, timer: item.timer })
      }
      case 'payload': {
        const r = this.replicas[item.replica]!
        if (r.state === undefined || r.incarnation !== item.incarnation) return
        return this.apply(r, { type: 'payload', view: item.view, payload: this.payloadFor(r) })
      }
      case 'verified': {
        const r = this.replicas[item.replica]!
        if (r.state === undefined || r.incarnation !== item.incarnation) return
        return this.apply(r, { type: 'verified', view: item.view, block: item.block, valid: item.valid })
      }
      case 'crash': return this.crash(this.replicas[item.replica]!, this.now + this.rng.range(10, 400))
      case 'restart': {
        const r = this.replicas[item.replica]!
        if (r.state === undefined && r.restartAt === this.now) this.boot(r, true)
        return
      }
      case 'partition': return this.partition()
      case 'heal': return this.heal()
      case 'client': return this.clientStep(item.client)
      case 'submit': {
        const r = this.replicas[item.op.via]!
        if (r.state !== undefined && r.mempool.length < 64 && !r.applied.has(item.op.id)) r.mempool.push(item.op)
        return
      }
      case 'give-up':
        if (!this.pending.delete(item.opId)) return
        this.queue.push(this.now + this.rng.range(1, 20), { type: 'client', client: item.client })
        return
      case 'response': {
        const op = this.pending.get(item.opId)
        if (op === undefined) return
        op.output = item.output
        op.returnAt = this.now
        this.pending.delete(item.opId)
        this.queue.push(this.now + this.rng.range(1, 20), { type: 'client', client: item.client })
        return
      }
    }
  }

  // ── Replicas: boot, crash, restart ────────────────────────────────────────────────────────────

  private config (r: SimReplica): ReplicaConfig {
    const raw = signers[r.index]!
    const signer: Signer = r.byzantine !== undefined ? raw : {
      publicKey: raw.publicKey,
      id: raw.id,
      sign: (domain, value) => {
        this.stats.signed++
        const start = performance.now()
        const signature = raw.sign(domain, value)
        this.stats.cryptoMs += performance.now() - start
        return signature
      }
    }
    return { membership: this.membership, self: r.index, signer, genesis, deltaMs, verify: this.verify, verifyPayloads: true }
  }

  /**
   * Checks, whenever an honest replica's vote leaves it, that it never sent two conflicting votes
   * (across restarts too). A signature made but lost in a crash before its WAL record was synced
   * never left the replica, so it cannot conflict with anything.
   */
  private recordVote (r: SimReplica, vote: Vote): void {
    const { kind, view, block } = vote
    const key = `${kind}|${view}`
    const digest = block === undefined ? '-' : hex(block)
    const previous = r.signed.get(key)
    if (previous !== undefined && previous !== digest) this.fail(`replica ${r.index} signed two different ${kind} votes in view ${view}`)
    if (kind === 'finalize' && r.signed.has(`nullify|${view}`)) this.fail(`replica ${r.index} signed finalize after nullify in view ${view}`)
    if (kind === 'nullify' && r.signed.has(`finalize|${view}`)) this.fail(`replica ${r.index} signed nullify after finalize in view ${view}`)
    r.signed.set(key, digest)
  }

  private boot (r: SimReplica, restart: boolean): void {
    r.incarnation++
    delete r.restartAt
    const config = this.config(r)
    const last = r.log[r.log.length - 1]
    const tip = last === undefined ? undefined : { height: last.block.height, view: last.block.view, hash: last.hash }
    if (!restart) {
      r.state = createReplica(config, tip === undefined ? {} : { tip })
    } else {
      const records: WalRecord[] = []
      const raw = r.disk.read()
      for (const bytes of raw) {
        const decoded = decodeWalRecord(bytes)
        if (!decoded.ok) break // a torn tail: the driver truncates the WAL here
        records.push(decoded.value)
      }
      if (records.length < raw.length) r.disk.truncate(records.length)
      r.state = recover(config, records, { ...(tip === undefined ? {} : { tip }), ...(r.lastCertificate === undefined ? {} : { finalizedCertificate: r.lastCertificate }) })
    }
    this.trace.update(`boot${this.now}|${r.slot}|${r.incarnation}\n`)
    this.apply(r, { type: 'start' })
  }

  private crash (r: SimReplica, restartAt: number): void {
    if (r.state === undefined) return
    this.stats.crashes++
    delete r.state
    r.incarnation++
    r.mempool = []
    r.disk.crash(this.rng)
    r.restartAt = this.healed ? this.now + 1 : Math.min(restartAt, this.healAt)
    this.queue.push(r.restartAt, { type: 'restart', replica: r.slot })
    this.trace.update(`crash${this.now}|${r.slot}\n`)
  }

  private heal (): void {
    this.healed = true
    this.blocked.clear()
    for (const r of this.replicas) {
      if (r.state === undefined) {
        r.restartAt = this.now
        this.queue.push(this.now, { type: 'restart', replica: r.slot })
      }
    }
    const best = Math.max(...this.replicas.map(r => r.log.length))
    this.progressTarget = BigInt(best + this.progressBlocks)
  }

  private partition (): void {
    const rng = this.rng
    this.blocked.clear()
    if (rng.chance(0.2)) return
    const side = new Set(rng.shuffle([...Array(this.n).keys()]).slice(0, rng.range(1, this.n - 1)))
    const asymmetric = rng.chance(0.4)
    for (let a = 0; a < this.n; a++) {
      for (let b = 0; b < this.n; b++) {
        if (side.has(a) && !side.has(b)) {
          this.blocked.add(`${a}>${b}`)
          if (!asymmetric) this.blocked.add(`${b}>${a}`)
        }
      }
    }
  }

  // ── Stepping a replica and performing its actions in order ────────────────────────────────────

  private apply (r: SimReplica, event: Event): void {
    this.current = r.slot
    const { state, actions } = step(r.state!, event)
    r.state = state
    if (debug) process.stderr.write(`${this.now} r${r.slot} ${event.type === 'message' ? 'msg ' + event.message.kind + ' v' + String((event.message as { view?: bigint }).view) + ' from ' + event.from : event.type === 'timeout' ? 'timeout ' + event.timer + ' v' + event.view : event.type} -> ${actions.map(a => a.type === 'send' ? 'send:' + a.message.kind : a.type === 'setTimer' ? 'timer:' + a.timer + a.view : a.type).join(',')}\n`)
    const incarnation = r.incarnation
    for (const action of actions) {
      if (r.incarnation !== incarnation) return // crashed while performing actions: the rest is lost
      this.perform(r, action)
    }
  }

  private perform (r: SimReplica, action: Action): void {
    switch (action.type) {
      case 'persist': {
        r.disk.append(encodeWalRecord(action.record), walRecordView(action.record))
        if (!action.sync) return
        // A crash between write and fsync: the record (and the send it gates) never happens.
        if (!this.healed && this.rng.chance(this.midCrashP)) return this.crash(r, this.now + this.rng.range(10, 200))
        r.disk.sync()
        return
      }
      case 'send': return this.send(r, action.to, action.message)
      case 'setTimer':
        this.queue.push(this.now + Math.round(action.delayMs * r.clockRate), { type: 'timer', replica: r.slot, incarnation: r.incarnation, view: action.view, timer: action.timer })
        return
      case 'verify':
        // The kv application accepts a payload that decodes to a list of operations.
        this.queue.push(this.now + 1, { type: 'verified', replica: r.slot, incarnation: r.incarnation, view: action.view, block: action.hash, valid: Array.isArray(decodeOps(action.block.payload)) })
        return
      case 'propose':
        this.queue.push(this.now, { type: 'payload', replica: r.slot, incarnation: r.incarnation, view: action.view })
        return
      case 'finalized': return this.onFinalized(r, action.height, action.hash, action.block, action.certificate)
      case 'fetch': {
        this.stats.fetches++
        const peers = this.rng.shuffle([...action.peers]).slice(0, 2)
        for (const peer of peers) this.send(r, peer, action.request)
        return
      }
      case 'lookup': {
        this.stats.lookups++
        // The store serves each block and its ancestors (child first), like the core does from memory.
        const blocks: Block[] = []
        for (const h of action.hashes) {
          let block = r.byHash.get(hex(h))
          while (block !== undefined && blocks.length < 32) {
            blocks.push(block)
            block = r.byHash.get(hex(block.parent))
          }
        }
        if (blocks.length > 0) this.send(r, action.to, { kind: 'blocks', blocks })
        return
      }
      case 'prune': return r.disk.prune(action.belowView)
      case 'evidence': {
        this.stats.evidence++
        const accused = this.replicas[action.evidence.signer]!
        if (accused.byzantine === undefined) this.fail(`replica ${r.index} holds equivocation evidence against honest replica ${accused.index}`)
        return
      }
      case 'stateSyncNeeded':
        // The simulator has no checkpoints: outages are kept shorter than consensusBlocksMax blocks.
        return this.fail(`replica ${r.index} needs state sync at height ${action.finalizedHeight}`)
      default: {
        const unknown: never = action
        throw new Error(`unknown action ${JSON.stringify(unknown)}`)
      }
    }
  }

  // ── Network ────────────────────────────────────────────────────────────────────────────────────

  private send (r: SimReplica, to: number | 'all', message: Message): void {
    if (r.byzantine === undefined) {
      const vote = message.kind === 'proposal' ? message.vote : message
      if (vote.kind === 'notarize' || vote.kind === 'nullify' || vote.kind === 'finalize') {
        if (vote.signer === r.index) this.recordVote(r, vote)
      }
    }
    const members = to === 'all' ? [...Array(this.n).keys()].filter(i => i !== r.index) : [to]
    const targets = members.filter(m => r.group === undefined || r.group.has(m))
    for (const [target, m] of this.byzantineRewrite(r, targets, message)) this.transmit(r.index, target, encodeMessage(m))
  }

  /** The simulated node that receives what `from` sends to member `to` (a twin's copy, or `to`). */
  private slotFor (from: number, to: number): number {
    const copy = this.twinOf.get(to)
    return copy !== undefined && copy.group!.has(from) ? copy.slot : to
  }

  private transmit (from: number, to: number, bytes: Uint8Array): void {
    this.stats.sent++
    if ((!this.healed && this.rng.chance(this.dropP)) || this.blocked.has(`${from}>${to}`)) {
      this.stats.dropped++
      return
    }
    const copies = !this.healed && this.rng.chance(this.dupP) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const slow = !this.healed && this.rng.chance(this.slowP)
      const delay = slow ? this.rng.range(deltaMs, 6 * deltaMs) : this.rng.range(1, Math.floor(deltaMs / 2))
      let payload = bytes
      const corrupted = !this.healed && this.rng.chance(this.corruptP)
      if (corrupted) {
        // A flipped bit on the wire: the codec or a signature check must refuse it.
        payload = new Uint8Array(bytes) // a copy: the codec may hand out Buffers, whose slice() aliases
        const at = this.rng.int(payload.length)
        payload[at] = payload[at]! ^ (1 << this.rng.int(8))
      }
      this.queue.push(this.now + delay, { type: 'deliver', to: this.slotFor(from, to), from, bytes: payload, corrupted })
    }
  }

  private deliver (item: Extract<QueueItem, { type: 'deliver' }>): void {
    const r = this.replicas[item.to]!
    if (r.state === undefined) return
    const decoded = decodeMessage(item.bytes)
    if (!decoded.ok) {
      if (!item.corrupted) this.fail(`replica ${item.from} sent an undecodable message: ${decoded.error}`)
      this.stats.corruptRefused++
      return
    }
    this.trace.update(`d${this.now}|${item.from}>${item.to}|${hex(sha256Bytes(item.bytes)).slice(0, 16)}\n`)
    this.apply(r, { type: 'message', from: item.from, message: decoded.value })
  }

  /** Byzantine replicas run the honest core and then lie on the wire. */
  private byzantineRewrite (r: SimReplica, targets: number[], message: Message): Array<[number, Message]> {
    const plain = targets.map((t): [number, Message] => [t, message])
    const raw = signers[r.index]!
    switch (r.byzantine) {
      case undefined: return plain
      case 'silent': return []
      case 'twin': return plain
      case 'equivocator': {
        if (message.kind !== 'proposal') return plain
        // A second block for the same view, sent to half of the peers.
        const block: Block = { ...message.block, payload: Uint8Array.of(...message.block.payload, 0xff) }
        const hash = blockHash(block)
        const vote = this.forge(raw, r.index, 'notarize', block.view, hash)
        return targets.map((t, i): [number, Message] => [t, i % 2 === 0 ? message : { kind: 'proposal', block, vote }])
      }
      case 'double-voter': {
        if (message.kind === 'notarize') {
          const other = this.forge(raw, r.index, 'notarize', message.view, sha256Bytes(encode(['fake', message.view])))
          return targets.map((t, i): [number, Message] => [t, i % 2 === 0 ? message : other])
        }
        if (message.kind === 'finalize') {
          const nullify = this.forge(raw, r.index, 'nullify', message.view, undefined)
          return [...plain, ...targets.map((t): [number, Message] => [t, nullify])]
        }
        return plain
      }
      case 'bad-signature': {
        if (message.kind !== 'notarize' && message.kind !== 'nullify' && message.kind !== 'finalize') return plain
        const corrupt = new Uint8Array(message.signature)
        corrupt[0] = corrupt[0]! ^ 0x01
        const impostor = { ...message, signer: (r.index + 1) % this.n } // our signature, someone else's index
        return targets.flatMap((t): Array<[number, Message]> => [[t, { ...message, signature: corrupt }], [t, impostor], ...(this.rng.chance(0.5) ? [[t, message] as [number, Message]] : [])])
      }
    }
  }

  private forge (signer: Signer, index: number, kind: Vote['kind'], view: bigint, block: Uint8Array | undefined): Vote {
    const signature = signer.sign(domains[kind], voteSigningValue(subnet, kind, view, block))
    return { kind, view, ...(block === undefined ? {} : { block }), signer: index, signature }
  }

  // ── Application: a kv state machine fed by finalized blocks ──────────────────────────────────

  private payloadFor (r: SimReplica): Uint8Array {
    const ops = r.mempool.filter(op => !r.applied.has(op.id)).slice(0, 8)
    return encode(ops.map(op => [op.id, op.client, op.via, op.input.kind, op.input.key, op.input.kind === 'put' ? op.input.value : null]))
  }

  private onFinalized (r: SimReplica, height: bigint, hash: Uint8Array, block: Block, certificate: Certificate): void {
    const key = hex(hash)
    const seen = this.finalizedAt.get(height)
    if (seen !== undefined && seen !== key) this.fail(`two different blocks finalized at height ${height} (replica ${r.index})`)
    this.finalizedAt.set(height, key)
    if (height !== BigInt(r.log.length + 1)) this.fail(`replica ${r.index} finalized height ${height} after ${r.log.length}`)
    const parent = r.log[r.log.length - 1]?.hash ?? genesis
    if (!bytesEqual(block.parent, parent)) this.fail(`replica ${r.index}: finalized block at ${height} does not extend its log`)
    if (!verifyCertificate(this.membership, certificate, this.verify).ok || certificate.kind !== 'finalization') this.fail(`replica ${r.index}: finalized with an invalid certificate`)
    r.log.push({ hash, block })
    r.byHash.set(key, block)
    r.lastCertificate = certificate
    this.applyPayload(r, block)
    const root = hex(sha256Bytes(encode([...r.kv].sort((a, b) => a[0] < b[0] ? -1 : 1))))
    const seenRoot = this.rootAt.get(height)
    if (seenRoot !== undefined && seenRoot !== root) this.fail(`state roots differ at height ${height} (replica ${r.index})`)
    this.rootAt.set(height, root)
    this.trace.update(`f${this.now}|${r.slot}|${height}|${key.slice(0, 16)}\n`)
  }

  private applyPayload (r: SimReplica, block: Block): void {
    const ops = decodeOps(block.payload)
    if (!Array.isArray(ops)) return
    for (const raw of ops) {
      const [id, client, via, kind, key, value] = raw as [string, number, number, string, string, string | null]
      if (r.applied.has(id)) continue
      r.applied.add(id)
      let output: KvOutput
      if (kind === 'put') {
        r.kv.set(key, value!)
        output = 'ok'
      } else {
        output = r.kv.get(key) ?? null
      }
      r.mempool = r.mempool.filter(op => op.id !== id)
      if (via === r.index && r.byzantine === undefined) this.queue.push(this.now + this.rng.range(1, 5), { type: 'response', client, opId: id, output })
    }
  }

  // ── Clients: one operation at a time each; a timeout leaves the outcome unknown ───────────────

  private clientStep (client: number): void {
    if (this.healed && this.now > this.healAt + 200) return // stop issuing work near the end
    const rng = this.rng
    const key = rng.pick(['a', 'b', 'c'])
    const id = `c${client}-${this.history.length}`
    const input: KvInput = rng.chance(0.5) ? { kind: 'put', key, value: id } : { kind: 'get', key }
    const op = { id, client, input, output: undefined, callAt: this.now, returnAt: Infinity }
    this.history.push(op)
    this.pending.set(id, op)
    const via = rng.int(this.n)
    this.queue.push(this.now + rng.range(1, 5), { type: 'submit', op: { id, client, input, via } })
    // Give up after a while; the operation may still take effect later (return time stays +∞).
    this.queue.push(this.now + 40 * deltaMs, { type: 'give-up', client, opId: id })
  }

  private checkHistory (): void {
    const result = checkLinearizable(kvModel, this.history)
    if (!result.ok) this.fail(`client history is not linearizable (key ${result.partition}, ${result.operations} operations)`)
  }

  private fail (message: string): never {
    throw new SimFailure(`${message} at t=${this.now} ms, step ${this.steps}\n${this.describe()}`)
  }

  result (error: string | undefined): SimResult {
    const completed = this.history.filter(op => op.returnAt !== Infinity).length
    return {
      ok: error === undefined,
      seed: this.options.seed,
      replicas: this.n,
      ...(error === undefined ? {} : { error }),
      digest: this.trace.copy().digest('hex'),
      steps: this.steps,
      finalizedHeight: Math.max(...this.replicas.map(r => r.log.length)),
      simulatedMs: this.now,
      signaturesVerified: this.stats.verified,
      signaturesSigned: this.stats.signed,
      cryptoMs: Math.round(this.stats.cryptoMs),
      messagesSent: this.stats.sent,
      messagesDropped: this.stats.dropped,
      crashes: this.stats.crashes,
      fetches: this.stats.fetches,
      lookups: this.stats.lookups,
      corruptRefused: this.stats.corruptRefused,
      tornRecords: this.replicas.reduce((a, r) => a + r.disk.torn, 0),
      lostRecords: this.replicas.reduce((a, r) => a + r.disk.lostOnCrash, 0),
      evidence: this.stats.evidence,
      badSignaturesDropped: this.replicas.reduce((a, r) => a + (r.state?.counters.badSignature ?? 0), 0),
      operations: this.history.length,
      operationsCompleted: completed,
      byzantine: this.replicas.filter(r => r.byzantine !== undefined).map(r => `${r.index}:${r.byzantine}`),
      replay: replayCommand(this.options.seed, this.n)
    }
  }
}

function decodeOps (payload: Uint8Array): unknown {
  // Our own canonical encoding; a Byzantine leader's altered payload fails to decode and is skipped.
  const result = decode(payload)
  return result.ok ? result.value : undefined
}
