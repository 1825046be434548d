// Moves signed geneses between directories: the gossip topic pylon/subnets/1, the request/response
// protocol /pylon/subnets/1.0.0 (a newly identified peer is asked for its directory, so a new node
// learns the existing subnets), and DHT records /pylon-subnet/<SubnetId> for lookups on demand.
// Everything received goes through SubnetDirectory.offerBytes; nothing here trusts a peer.

import type { NodeId, SubnetId } from '../../protocol/ids.ts'
import { subnetDirectoryExchangeBytesMax, subnetDirectoryExchangeMax, subnetDirectoryTimeoutMs, subnetProposalStreamsMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { decodeGenesis } from '../../protocol/subnet.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import type { GossipVerdict, Net, Stream } from '../net/net.ts'
import { exchange, isRecord, serve } from './_frames.ts'
import type { FormationMetrics } from './formation-metrics.ts'
import type { DirectoryEntry, SubnetDirectory } from './subnet-directory.ts'

/** Gossip topic of signed geneses. */
export const subnetsTopic = 'pylon/subnets/1'
/** Request/response: "send me the subnets you know". */
export const subnetsProtocol = '/pylon/subnets/1.0.0'
export const subnetRecordNamespace = 'pylon-subnet'
/** A directory request is a tiny map; anything larger is garbage. */
const requestBytesMax = 256

/** The DHT key of a subnet's signed genesis. */
export function subnetRecordKey (id: SubnetId): Uint8Array {
  return new TextEncoder().encode(`/${subnetRecordNamespace}/${id}`)
}

export interface DirectorySyncComponents {
  net: Net
  directory: SubnetDirectory
  logger: Logger
  metrics: FormationMetrics
}

export class DirectorySync implements Startable {
  readonly #c: DirectorySyncComponents
  #registered = false
  #unlisten: (() => void) | undefined

  constructor (components: DirectorySyncComponents) {
    this.#c = components
  }

  /** Registers topic, protocol and DHT record type; runs before the net starts (see daemon.ts). */
  async start (): Promise<void> {
    const { net } = this.#c
    if (!this.#registered) {
      this.#registered = true
      net.registerRecordType(subnetRecordNamespace, {
        validate: (key, value) => { this.#validateRecord(key, value) },
        // Every valid record under one key has the same bytes (the key is their hash).
        select: () => 0
      })
      net.subscribe(subnetsTopic, message => this.#onGossip(message.data))
      net.handle(subnetsProtocol, async (stream) => { await this.#serve(stream) },
        { inboundStreamsMax: subnetProposalStreamsMax, outboundStreamsMax: subnetProposalStreamsMax })
    }
    this.#unlisten = net.onPeerIdentified((peer, protocols) => {
      if (protocols.includes(subnetsProtocol)) void this.pull(peer)
    })
  }

  async stop (): Promise<void> {
    this.#unlisten?.()
    this.#unlisten = undefined
  }

  /** Publishes a subnet on gossip and stores it in the DHT. Best effort: peers also pull. */
  async announce (entry: DirectoryEntry, options: { signal?: AbortSignal } = {}): Promise<void> {
    const recipients = await this.#c.net.publish(subnetsTopic, entry.bytes).catch(() => 0)
    const signal = AbortSignal.any([AbortSignal.timeout(subnetDirectoryTimeoutMs), ...(options.signal === undefined ? [] : [options.signal])])
    await this.#c.net.putRecord(subnetRecordKey(entry.subnet.id), entry.bytes, { signal })
      .catch(error => { this.#c.logger.debug('subnet DHT put failed', { subnet: entry.subnet.id, error: (error as Error).message }) })
    this.#c.logger.info('subnet announced', { subnet: entry.subnet.id, recipients })
  }

  /** The subnet from the directory, else from the DHT (validated, then added to the directory). */
  async lookup (id: SubnetId, options: { signal?: AbortSignal } = {}): Promise<DirectoryEntry | undefined> {
    const known = this.#c.directory.get(id)
    if (known !== undefined) return known
    const signal = AbortSignal.any([AbortSignal.timeout(subnetDirectoryTimeoutMs), ...(options.signal === undefined ? [] : [options.signal])])
    const bytes = await this.#c.net.getRecord(subnetRecordKey(id), { signal }).catch(() => undefined)
    if (bytes === undefined) return undefined
    const offered = this.#c.directory.offerBytes(bytes, 'dht')
    return offered.ok && offered.value.entry.subnet.id === id ? offered.value.entry : undefined
  }

  /** Asks `peer` for the subnets it knows and offers each to our directory; returns how many were new. */
  async pull (peer: NodeId): Promise<Result<number>> {
    const answer = await exchange(this.#c.net, peer, subnetsProtocol, { op: 'list' }, { bytesMax: subnetDirectoryExchangeBytesMax, timeoutMs: subnetDirectoryTimeoutMs })
    if (!answer.ok) {
      this.#c.logger.debug('subnet directory pull failed', { peer, error: answer.error })
      return answer
    }
    const geneses = isRecord(answer.value) ? answer.value.geneses : undefined
    if (!Array.isArray(geneses) || geneses.length > subnetDirectoryExchangeMax || !geneses.every(g => g instanceof Uint8Array)) {
      this.#c.metrics.directoryRejected.inc({ source: 'exchange' })
      return err(`bad directory answer from ${peer}: geneses must be a list of at most ${subnetDirectoryExchangeMax} byte strings`)
    }
    let learned = 0
    for (const bytes of geneses as Uint8Array[]) {
      const offered = this.#c.directory.offerBytes(bytes, 'exchange')
      if (offered.ok && offered.value.outcome === 'added') learned++
    }
    return ok(learned)
  }

  #onGossip (data: Uint8Array): GossipVerdict {
    const offered = this.#c.directory.offerBytes(data, 'gossip')
    // A forged or malformed genesis is something no honest relay forwards: penalize the sender.
    // One we already hold is dropped quietly so re-announcements do not flood the mesh.
    if (!offered.ok) {
      this.#c.logger.warn('refused a subnet genesis from gossip', { error: offered.error })
      return 'reject'
    }
    return offered.value.outcome === 'added' ? 'accept' : 'ignore'
  }

  async #serve (stream: Stream): Promise<void> {
    await serve(stream, { bytesMax: requestBytesMax, timeoutMs: subnetDirectoryTimeoutMs }, async request => {
      if (!request.ok || !isRecord(request.value) || request.value.op !== 'list' || Object.keys(request.value).length !== 1) {
        this.#c.metrics.directoryRejected.inc({ source: 'exchange' })
        return { error: 'expected { op: "list" }' }
      }
      // The newest subnets first, until the answer would pass its byte bound.
      const geneses: Uint8Array[] = []
      let bytes = 64
      for (const entry of this.#c.directory.list().reverse()) {
        if (geneses.length === subnetDirectoryExchangeMax || bytes + entry.bytes.length + 8 > subnetDirectoryExchangeBytesMax) break
        geneses.push(entry.bytes)
        bytes += entry.bytes.length + 8
      }
      return { geneses }
    })
  }

  #validateRecord (key: Uint8Array, value: Uint8Array): void {
    const decoded = decodeGenesis(value)
    if (!decoded.ok) {
      this.#c.metrics.directoryRejected.inc({ source: 'dht' })
      throw new Error(decoded.error)
    }
    if (new TextDecoder().decode(key) !== new TextDecoder().decode(subnetRecordKey(decoded.value.id))) throw new Error('genesis stored under another subnet\'s key')
  }
}
