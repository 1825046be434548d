// The subnets this node serves: loads every DATA_DIR/subnets/<id>/genesis.cbor naming this node,
// joins new ones at run time (file written atomically), and per subnet runs a Store, a
// SubnetService and a ConsensusDriver, wired to the network (member channel, code fetch, state
// sync, streams between subnets), and relays API requests of non-members to members of the subnet
// they name. It keeps a directory of known subnets for routing.
// It never executes or orders anything itself, and a bad genesis file is skipped, never fatal.

import { lpStream } from '@libp2p/utils'
import { mkdir, open, readdir, readFile, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { decode, encode, sha256Bytes } from '../../protocol/codec.ts'
import type { NodeId, SubnetId } from '../../protocol/ids.ts'
import { ingressIdOf, type RequestId } from '../../protocol/ingress.ts'
import { stateSyncAttemptsMax, stateSyncRetryMs } from '../../protocol/limits.ts'
import {
  actorCodeBytesMax, apiRelayAnswerBytesMax, apiRelayRequestBytesMax, apiRelayStreamsMax, apiRelayTimeoutMs, subnetCodeFetchTimeoutMs, subnetCodeRequestBytesMax,
  subnetCodeStreamsMax, subnetGenesisFileBytesMax, subnetsServedMax
} from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import type { Signer } from '../../protocol/signature.ts'
import { decodeGenesis, encodeGenesis, type Subnet } from '../../protocol/subnet.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import type { Net, Stream } from '../net/net.ts'
import { MemberChannel, type MemberChannelStatus } from '../consensus/member-channel.ts'
import type { ActorLoader } from '../runtime/loader.ts'
import type { Store } from '../store/store.ts'
import { Mempool, type MempoolMetrics } from '../ingress/mempool.ts'
import type { SubnetMetrics } from './subnet-metrics.ts'
import { handleStateSync } from './state-sync-protocol.ts'
import { StateSync, type StateSyncMetrics, type StateSyncProgress } from './state-sync.ts'
import { SubnetService, type ChangeSink } from './subnet-service.ts'
import { XnetLinks, type XnetInbox } from './xnet-links.ts'

export const codeProtocol = '/pylon/code/1.0.0'
export const apiRelayProtocol = '/pylon/api-relay/1.0.0'
export const ingressTopicOf = (subnet: SubnetId): string => `pylon/ingress/1/${subnet}`
export const certifyTopicOf = (subnet: SubnetId): string => `pylon/certify/1/${subnet}`
export const subnetsDirIn = (dataDir: string): string => join(dataDir, 'subnets')

/** What the manager needs to order blocks for one subnet: the daemon builds a ConsensusDriver. */
export type DriverFactory = (subnet: Subnet, store: Store, service: SubnetService, hooks: DriverHooks) => Startable

/** What a driver reports back to the manager (ConsensusDriverInit.onStateSyncNeeded). */
export interface DriverHooks {
  onStateSyncNeeded: (need: { finalizedHeight: bigint, targetView: bigint }) => void
}

export interface SubnetManagerComponents {
  net: Net
  signer: Signer
  clock: Clock
  logger: Logger
  loader: ActorLoader
  /** Opens a subnet's store; `checkpointIntervalHeights` comes from the subnet's genesis when it sets one. */
  openStore: (dir: string, init?: { checkpointIntervalHeights?: number }) => Promise<Store>
  createDriver: DriverFactory
  /** Counts every subnet's mempool admissions and refusals (Prometheus in the daemon). */
  mempoolMetrics?: MempoolMetrics
  subnetMetrics?: SubnetMetrics
  stateSyncMetrics?: StateSyncMetrics
  /** Hears every committed height of every subnet (pylon watch). */
  changes?: ChangeSink
}

export interface SubnetManagerInit {
  dataDir: string
}

interface Served {
  subnet: Subnet
  store: Store
  service: SubnetService
  driver: Startable
  /** The direct member-to-member stream (relayed envelopes, shares, certificate requests). */
  members: MemberChannel
  /** Slices of other subnets' streams to this one, polled for the service's proposals. */
  inbox: XnetInbox
  unsubscribe: () => void
}

/** An API request a non-member hands to a member of the subnet it names (node/api/subnet-routes.ts answers it). */
export interface RelayRequest {
  method: 'GET' | 'POST' | 'PUT'
  path: string
  /** The URL query without its '?'. */
  query: string
  body: Uint8Array
}

/** The member's answer, as its API would have given it. */
export interface RelayAnswer {
  status: number
  json: unknown
}

export type RelayHandler = (request: RelayRequest, signal: AbortSignal) => Promise<RelayAnswer>

export class SubnetManager implements Startable {
  readonly #c: SubnetManagerComponents
  readonly #dir: string
  readonly #served = new Map<SubnetId, Served>()
  /** Subnets known for routing (served ones and any the placement layer announced). */
  readonly #known = new Map<SubnetId, Subnet>()
  readonly #xnet: XnetLinks
  #relayHandler: RelayHandler | undefined
  #relayTurn = 0
  #running = false
  #joining: Promise<unknown> = Promise.resolve()
  /** State sync per served subnet: the running one (if any) and its progress. */
  readonly #syncs = new Map<SubnetId, { sync: StateSync, running?: Promise<void>, abort: AbortController }>()

  constructor (components: SubnetManagerComponents, init: SubnetManagerInit) {
    this.#c = components
    this.#dir = subnetsDirIn(init.dataDir)
    components.net.handle(codeProtocol, async (stream) => { await this.#serveCode(stream) }, { inboundStreamsMax: subnetCodeStreamsMax, outboundStreamsMax: subnetCodeStreamsMax })
    components.net.handle(apiRelayProtocol, async (stream) => { await this.#serveRelay(stream) }, { inboundStreamsMax: apiRelayStreamsMax, outboundStreamsMax: apiRelayStreamsMax })
    this.#xnet = new XnetLinks({ net: components.net, clock: components.clock, logger: components.logger }, {
      served: id => this.#served.get(id)?.service,
      directory: () => this.directory()
    })
    handleStateSync(components.net, {
      logger: components.logger.child('state-sync'),
      ...(components.stateSyncMetrics === undefined ? {} : { onServed: components.stateSyncMetrics.served.bind(components.stateSyncMetrics), onRefused: components.stateSyncMetrics.refused.bind(components.stateSyncMetrics) }),
      // A subnet in the middle of its own sync serves nothing: its store is being replaced.
      lookup: id => { const s = this.#served.get(id); return s === undefined || this.#syncs.get(id)?.running !== undefined ? undefined : { subnet: s.subnet, store: s.store } }
    })
  }

  async start (): Promise<void> {
    this.#running = true
    await mkdir(this.#dir, { recursive: true })
    for (const entry of (await readdir(this.#dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory()) continue
      const file = join(this.#dir, entry.name, 'genesis.cbor')
      const loaded = await readGenesisFile(file)
      if (!loaded.ok) {
        this.#c.logger.error('subnet genesis skipped', { file, error: loaded.error })
        continue
      }
      const subnet = loaded.value
      if (subnet.id !== entry.name) {
        this.#c.logger.error('subnet genesis skipped: its directory is not named by its SubnetId', { file, id: subnet.id })
        continue
      }
      if (!subnet.memberIds.includes(this.#c.net.nodeId)) {
        this.#known.set(subnet.id, subnet)
        this.#c.logger.info('subnet genesis names other members only; known for routing, not served', { subnet: subnet.id })
        continue
      }
      try {
        await this.#serve(subnet)
      } catch (error) {
        this.#c.logger.error('subnet failed to start; skipped', { subnet: subnet.id, error })
      }
    }
  }

  async stop (): Promise<void> {
    this.#running = false
    await this.#joining.catch(() => {})
    for (const sync of this.#syncs.values()) sync.abort.abort(new Error('subnet manager stopping'))
    await Promise.all([...this.#syncs.values()].map(async s => await s.running))
    for (const [id, served] of [...this.#served].reverse()) {
      try {
        served.unsubscribe() // gossip is ignored from here on
        served.inbox.stop()
        await served.driver.stop()
        await served.service.stop()
      } finally {
        await served.store.close()
        this.#served.delete(id)
      }
    }
  }

  /**
   * Joins a subnet: validates the signed genesis, requires this node to be a member, writes
   * DATA_DIR/subnets/<id>/genesis.cbor (tmp + fsync + rename) and starts serving it. Idempotent.
   */
  async join (genesis: Uint8Array | Subnet): Promise<Result<Subnet>> {
    const subnet = genesis instanceof Uint8Array ? decodeGenesis(genesis) : ok(genesis)
    if (!subnet.ok) return subnet
    const { id } = subnet.value
    if (!subnet.value.memberIds.includes(this.#c.net.nodeId)) return err(`node ${this.#c.net.nodeId} is not a member of subnet ${id}`)
    if (this.#served.has(id)) return subnet
    if (!this.#running) return err('subnet manager is not running')
    if (this.#served.size >= subnetsServedMax) return err(`this node already serves ${this.#served.size} subnets (limit ${subnetsServedMax})`)
    const joined = this.#joining.then(async () => {
      if (this.#served.has(id)) return
      const folder = join(this.#dir, id)
      await mkdir(folder, { recursive: true })
      await writeFileAtomic(join(folder, 'genesis.cbor'), encodeGenesis(subnet.value))
      await this.#serve(subnet.value)
    })
    this.#joining = joined.catch(() => {})
    try {
      await joined
    } catch (error) {
      return err(`cannot join subnet ${id}: ${(error as Error).message}`)
    }
    return subnet
  }

  /** Records a subnet this node does not serve, for routing clients to its members. */
  learn (subnet: Subnet): void {
    if (!this.#served.has(subnet.id)) this.#known.set(subnet.id, subnet)
  }

  list (): SubnetService[] {
    return [...this.#served.values()].map(s => s.service)
  }

  /** Each served subnet's member-channel counters (refusals, drops, frames), for the metrics read on scrape. */
  memberChannels (): Array<{ subnet: SubnetId, status: MemberChannelStatus }> {
    return [...this.#served.values()].map(s => ({ subnet: s.subnet.id, status: s.members.status() }))
  }

  get (id: SubnetId): SubnetService | undefined {
    return this.#served.get(id)?.service
  }

  /** Every subnet known to this node (served first), for routing. */
  directory (): Subnet[] {
    return [...[...this.#served.values()].map(s => s.subnet), ...this.#known.values()]
  }

  known (id: SubnetId): Subnet | undefined {
    return this.#served.get(id)?.subnet ?? this.#known.get(id)
  }

  /** Sets how this node answers API requests relayed by non-members (the daemon hands in the subnet routes). */
  onRelay (handler: RelayHandler): void {
    this.#relayHandler = handler
  }

  /**
   * Hands an API request for `subnet` to one of its members over `/pylon/api-relay/1.0.0` and
   * returns the member's answer as it gave it. Members are tried in turn, starting from a rotating
   * one (load spreads over them), or for a `sticky` key always from the same one (the chunks of one
   * code upload must meet on one member); a member that answers "not a member" (it has not joined yet) or
   * cannot be reached is skipped. Clients verify certified answers themselves: a relay is trusted
   * with nothing they cannot check, and an uncertified query is as good as the member's word.
   */
  async relay (subnet: Subnet, request: RelayRequest, signal?: AbortSignal, sticky?: string): Promise<Result<RelayAnswer>> {
    let last = 'no member reachable'
    const members = subnet.genesis.members
    const first = sticky === undefined ? this.#relayTurn++ % members.length : sha256Bytes(new TextEncoder().encode(sticky))[0]! % members.length
    for (let i = 0; i < members.length; i++) {
      const { nodeId: member, multiaddrs } = members[(first + i) % members.length]!
      if (member === this.#c.net.nodeId) continue
      // The genesis addresses are dialing hints; the transport authenticates the node id.
      if (multiaddrs !== undefined) this.#c.net.addPeerAddresses(member, multiaddrs)
      let stream: Stream | undefined
      try {
        const timeout = AbortSignal.any([AbortSignal.timeout(apiRelayTimeoutMs), ...(signal === undefined ? [] : [signal])])
        stream = await this.#c.net.dial(member, apiRelayProtocol, { signal: timeout })
        const lp = lpStream(stream, { maxDataLength: apiRelayAnswerBytesMax, maxBufferSize: apiRelayAnswerBytesMax + 16 })
        await lp.write(encode({ method: request.method, path: request.path, query: request.query, body: request.body }), { signal: timeout })
        const answer = decode((await lp.read({ signal: timeout })).subarray(), { bytesMax: apiRelayAnswerBytesMax })
        await stream.close({ signal: timeout }).catch(() => {})
        const a = answer.ok ? answer.value as Record<string, unknown> : undefined
        if (typeof a !== 'object' || a === null || !Number.isSafeInteger(a.status) || typeof a.json !== 'object' || a.json === null) {
          last = `member ${member} gave no usable answer`
          continue
        }
        if ((a.json as Record<string, unknown>).reason === 'not-member') {
          last = `member ${member} does not serve the subnet yet`
          continue
        }
        return ok({ status: a.status as number, json: a.json })
      } catch (error) {
        stream?.abort(error as Error)
        if (signal?.aborted === true) return err('the client went away')
        last = `member ${member}: ${(error as Error).message}`
      }
    }
    return err(`could not reach any member of subnet ${subnet.id}: ${last}`)
  }

  async #serve (subnet: Subnet): Promise<void> {
    const { net, clock, logger, loader, signer } = this.#c
    const log = logger.child(subnet.id.slice(-8))
    const interval = subnet.genesis.params.checkpointIntervalHeights
    const store = await this.#c.openStore(join(this.#dir, subnet.id, 'store'), interval === undefined ? undefined : { checkpointIntervalHeights: interval })
    try {
      const ingressTopic = ingressTopicOf(subnet.id)
      const certifyTopic = certifyTopicOf(subnet.id)
      let live = true
      // Admitted envelopes and certification shares go to the other members over one direct stream
      // each (batched frames), not gossipsub, which signed, validated and re-forwarded every envelope.
      const members: MemberChannel = new MemberChannel({ net, clock, logger: log.child('members') }, {
        subnet,
        self: net.nodeId,
        onIngress: (bytes, from) => {
          if (!live) return true
          const id = ingressIdOf(bytes) // one hash for both lookups (frames are bounded by memberFrameBytesMax)
          if (service.holds(id)) return true
          // A member's relay: this member checks the signature only where checksSignature says it must.
          const added = service.mempool.add(bytes, from, { checkSignature: service.checksSignature, id })
          if (added.ok) service.gossiped(added.value, from)
          // A member relays only what it admitted: bytes no honest member would relay are counted.
          return added.ok || !['malformed', 'bad-signature', 'too-large', 'query', 'wrong-subnet'].includes(added.error.reason)
        },
        // A member's own stream: a share that can change nothing is dropped before its check.
        onShare: async bytes => !live || await service.receiveMemberShare(bytes),
        onCertificateRequest: async (heights, from) => {
          if (live) await service.answerCertificateRequest(heights, from).catch((error: unknown) => { log.warn('could not answer a certificate request', { from, error: (error as Error).message }) })
        },
        onCertificate: async bytes => !live || await service.receiveCertificate(bytes)
      })
      const mempool: Mempool = new Mempool({ clock, logger: log.child('mempool'), ...(this.#c.mempoolMetrics === undefined ? {} : { metrics: this.#c.mempoolMetrics }) }, {
        subnet: subnet.id,
        // The service (made next, from this pool) knows what its committed blocks executed.
        committed: (requestId: RequestId): boolean => service.committed(requestId)
      })
      const inbox = this.#xnet.inbox(subnet)
      const service: SubnetService = new SubnetService(subnet, {
        store, loader, signer, clock, logger: log, mempool, xnet: inbox, ...(this.#c.subnetMetrics === undefined ? {} : { metrics: this.#c.subnetMetrics }),
        ...(this.#c.changes === undefined ? {} : { changes: this.#c.changes }),
        transport: {
          publishShare: async share => { members.sendShare(share) },
          requestCertificates: heights => { members.requestCertificates(heights) },
          sendCertificate: (to, certificate) => { members.sendCertificate(to, certificate) },
          fetchCode: async (peer, cid, options) => await fetchCode(net, peer, subnet.id, cid, options.signal)
        }
      })
      const unlisten = service.mempool.onAccepted((ingress, from) => {
        if (from === undefined) members.sendIngress(ingress.bytes)
      })
      // Gossip is only listened to now (a node of an older version still publishes there).
      net.subscribe(ingressTopic, message => {
        if (!live) return 'ignore'
        const added = service.mempool.add(message.data, message.from)
        if (added.ok) {
          service.gossiped(added.value, message.from)
          return 'accept'
        }
        // Bytes no honest relay would forward are penalized; late, repeated or throttled ones are not.
        return ['malformed', 'bad-signature', 'too-large', 'query', 'wrong-subnet'].includes(added.error.reason) ? 'reject' : 'ignore'
      })
      net.subscribe(certifyTopic, async message => {
        if (!live) return 'ignore'
        return await service.receiveShare(message.data) ? 'accept' : 'reject'
      })
      // The channel first: the service's start asks the members for certificates it lacks.
      await members.start()
      await service.start()
      const driver = this.#c.createDriver(subnet, store, service, this.#driverHooks(subnet.id))
      await driver.start()
      inbox.start(service)
      this.#served.set(subnet.id, { subnet, store, service, driver, members, inbox, unsubscribe: () => { live = false; unlisten(); void members.stop() } })
      this.#known.delete(subnet.id)
      log.info('serving subnet', { subnet: subnet.id, members: subnet.memberIds.length, height: store.height })
    } catch (error) {
      await store.close()
      throw error
    }
  }

  /** Where the subnet's state sync stands (undefined: it never needed one since this process started). */
  stateSyncProgress (id: SubnetId): StateSyncProgress | undefined {
    return this.#syncs.get(id)?.sync.progress()
  }

  #driverHooks (id: SubnetId): DriverHooks {
    // Called from inside the driver's event loop: the sync runs on its own task, which stops that driver first.
    return { onStateSyncNeeded: () => { setImmediate(() => { void this.#stateSync(id) }) } }
  }

  /**
   * Replaces a subnet's store with a certified checkpoint from its members, then restarts the
   * service and a new driver from it (which catches up the rest block by block). The driver and
   * service are stopped first: no vote is signed while the store changes, and the WAL (kept by the
   * replacing import) still holds every own vote, so the new driver never signs a different one.
   */
  async #stateSync (id: SubnetId): Promise<void> {
    const served = this.#served.get(id)
    if (served === undefined || !this.#running) return
    let entry = this.#syncs.get(id)
    if (entry?.running !== undefined) return
    if (entry === undefined) this.#syncs.set(id, entry = { sync: new StateSync(served.subnet, this.#c.net.nodeId, { net: this.#c.net, logger: this.#c.logger.child(`state-sync:${id.slice(-8)}`), ...(this.#c.stateSyncMetrics === undefined ? {} : { metrics: this.#c.stateSyncMetrics }) }), abort: new AbortController() })
    const sync = entry
    sync.abort = new AbortController()
    const log = this.#c.logger.child(id.slice(-8))
    sync.running = (async () => {
      await served.driver.stop()
      await served.service.stop()
      const from = served.store.height
      for (let attempt = 1; attempt <= stateSyncAttemptsMax && !sync.abort.signal.aborted; attempt++) {
        try {
          const result = await sync.sync.syncInto(served.store, { signal: sync.abort.signal })
          log.info('state sync done', { subnet: id, from, height: result.manifest.height, chunks: result.chunks, bytes: result.bytes, seconds: Number(result.seconds.toFixed(3)), peers: result.peers.length })
          break
        } catch (error) {
          if (sync.abort.signal.aborted) break
          log.warn('state sync attempt failed', { subnet: id, attempt, error: (error as Error).message })
          await new Promise<void>(resolve => { const cancel = this.#c.clock.setTimer(stateSyncRetryMs, resolve); sync.abort.signal.addEventListener('abort', () => { cancel(); resolve() }, { once: true }) })
        }
      }
      if (sync.abort.signal.aborted || !this.#running) return
      // Synced or not, order again: a driver still too far behind asks for another sync.
      await served.service.start()
      served.driver = this.#c.createDriver(served.subnet, served.store, served.service, this.#driverHooks(id))
      await served.driver.start()
    })().catch(error => { log.error('state sync could not restart the subnet', { subnet: id, error }) }).finally(() => { delete sync.running })
    await sync.running
  }

  /** Serves code by CID to a peer: request { subnet, cid }, answer the bytes (empty when unknown). */
  async #serveCode (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(subnetCodeFetchTimeoutMs)
    const lp = lpStream(stream, { maxDataLength: actorCodeBytesMax })
    const request = decode((await lp.read({ signal })).subarray(), { bytesMax: subnetCodeRequestBytesMax })
    const r = request.ok ? request.value as Record<string, unknown> : undefined
    if (r === undefined || typeof r !== 'object' || r === null || typeof r.subnet !== 'string' || typeof r.cid !== 'string') {
      stream.abort(new Error('bad code request'))
      return
    }
    const service = this.#served.get(r.subnet as SubnetId)?.service
    const bytes = service === undefined ? undefined : await service.getCode(r.cid)
    await lp.write(bytes ?? new Uint8Array(0), { signal })
    await stream.close({ signal })
  }

  /** Answers an API request a non-member relayed, through the subnet routes (never relayed again). */
  async #serveRelay (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(apiRelayTimeoutMs)
    const lp = lpStream(stream, { maxDataLength: apiRelayRequestBytesMax, maxBufferSize: apiRelayRequestBytesMax + 16 })
    try {
      const request = parseRelayRequest((await lp.read({ signal })).subarray())
      let answer: RelayAnswer
      if (!request.ok) answer = { status: 400, json: { ok: false, error: `bad relay request: ${request.error}`, reason: 'malformed' } }
      else if (this.#relayHandler === undefined) answer = { status: 503, json: { ok: false, error: 'this node answers no relayed requests' } }
      else answer = await this.#relayHandler(request.value, signal)
      let bytes: Uint8Array
      try {
        bytes = encode({ status: answer.status, json: answer.json })
      } catch (error) {
        bytes = encode({ status: 500, json: { ok: false, error: `answer does not encode: ${(error as Error).message}` } })
      }
      if (bytes.length > apiRelayAnswerBytesMax) bytes = encode({ status: 502, json: { ok: false, error: `answer too large to relay: ${bytes.length} > ${apiRelayAnswerBytesMax} bytes` } })
      await lp.write(bytes, { signal })
      await stream.close({ signal })
    } catch (error) {
      stream.abort(error as Error)
    }
  }
}

function parseRelayRequest (bytes: Uint8Array): Result<RelayRequest> {
  const decoded = decode(bytes, { bytesMax: apiRelayRequestBytesMax })
  if (!decoded.ok) return err(decoded.error)
  const r = decoded.value as Record<string, unknown>
  if (typeof r !== 'object' || r === null || (r.method !== 'GET' && r.method !== 'POST' && r.method !== 'PUT') || typeof r.path !== 'string' || typeof r.query !== 'string' || !(r.body instanceof Uint8Array)) {
    return err('expected { method: GET|POST|PUT, path, query, body }')
  }
  if (r.path.length > 512 || r.query.length > 512) return err('path or query longer than 512 characters')
  return ok({ method: r.method, path: r.path, query: r.query, body: r.body })
}

/** Asks `peer` for code `cid` of `subnet`; undefined when it has none. */
async function fetchCode (net: Net, peer: NodeId, subnet: SubnetId, cid: string, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  const timeout = AbortSignal.any([AbortSignal.timeout(subnetCodeFetchTimeoutMs), ...(signal === undefined ? [] : [signal])])
  const stream = await net.dial(peer, codeProtocol, { signal: timeout })
  try {
    // The byte buffer must hold a whole component (its default, 4 MiB, is below the code bound).
    const lp = lpStream(stream, { maxDataLength: actorCodeBytesMax, maxBufferSize: actorCodeBytesMax + 16 })
    await lp.write(encode({ subnet, cid }), { signal: timeout })
    const bytes = (await lp.read({ signal: timeout })).subarray()
    await stream.close({ signal: timeout }).catch(() => {})
    return bytes.length === 0 ? undefined : bytes
  } catch (error) {
    stream.abort(error as Error)
    throw error
  }
}

/** Reads and validates a genesis file, bounded in size; never throws. */
export async function readGenesisFile (file: string): Promise<Result<Subnet>> {
  try {
    const info = await stat(file)
    if (info.size > subnetGenesisFileBytesMax) return err(`${file} is ${info.size} bytes > ${subnetGenesisFileBytesMax}`)
    return decodeGenesis(new Uint8Array(await readFile(file)))
  } catch (error) {
    return err(`cannot read ${file}: ${(error as Error).message}`)
  }
}

/** Writes a file so a crash leaves the old or the new content, never a torn one. */
async function writeFileAtomic (file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`
  const handle = await open(tmp, 'w', 0o644)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, file)
  const dir = await open(join(file, '..'), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
