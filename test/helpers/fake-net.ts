// An in-memory Net for unit tests: several FakeNets joined by a FakeNetwork deliver gossip to each
// other's validators and connect streams with @libp2p/utils' streamPair. No sockets, no libp2p host.

import { streamPair } from '@libp2p/utils'
import type { NodeId } from '../../protocol/ids.ts'
import type { DhtRecordType, GossipValidator, GossipVerdict, Net, PeerConnection, PeerGate, ProtocolHandler, ProtocolOptions, Stream } from '../../node/net/net.ts'

export class FakeNetwork {
  readonly nets = new Map<NodeId, FakeNet>()
}

export class FakeNet implements Net {
  readonly nodeId: NodeId
  readonly network: FakeNetwork
  readonly handlers = new Map<string, ProtocolHandler>()
  readonly topics = new Map<string, GossipValidator>()
  readonly published: Array<{ topic: string, data: Uint8Array, verdicts: GossipVerdict[] }> = []
  readonly records = new Map<string, Uint8Array>()
  readonly recordTypes = new Map<string, DhtRecordType>()
  readonly identified = new Set<(peer: NodeId, protocols: string[]) => void>()
  addresses: string[] = ['/ip4/127.0.0.1/tcp/1']

  constructor (nodeId: NodeId, network = new FakeNetwork()) {
    this.nodeId = nodeId
    this.network = network
    network.nets.set(nodeId, this)
  }

  multiaddrs (): string[] { return this.addresses.map(a => `${a}/p2p/${this.nodeId}`) }
  connections (): PeerConnection[] {
    return [...this.network.nets.keys()].filter(id => id !== this.nodeId)
      .map(nodeId => ({ nodeId, remoteAddr: '/ip4/127.0.0.1/tcp/1', direction: 'outbound' as const, openedAtMs: 0, gossipScore: 0 }))
  }

  handle (protocol: string, handler: ProtocolHandler, _options: ProtocolOptions): void { this.handlers.set(protocol, handler) }

  readonly peerAddresses = new Map<NodeId, readonly string[]>()
  addPeerAddresses (peer: NodeId, multiaddrs: readonly string[]): void { this.peerAddresses.set(peer, multiaddrs) }

  async dial (peer: NodeId, protocol: string): Promise<Stream> {
    const handler = this.network.nets.get(peer)?.handlers.get(protocol)
    if (handler === undefined) throw new Error(`${peer} does not handle ${protocol}`)
    const [outbound, inbound] = await streamPair()
    void handler(inbound, this.nodeId).catch(error => { inbound.abort(error as Error) })
    return outbound
  }

  subscribe (topic: string, validator: GossipValidator): void { this.topics.set(topic, validator) }

  /** Delivers to every other net's validator, synchronously awaited; records the verdicts. */
  async publish (topic: string, data: Uint8Array): Promise<number> {
    const verdicts: GossipVerdict[] = []
    for (const net of this.network.nets.values()) {
      const validator = net.topics.get(topic)
      if (net === this || validator === undefined) continue
      verdicts.push(await validator({ topic, from: this.nodeId, data }))
    }
    this.published.push({ topic, data, verdicts })
    return verdicts.length
  }

  onPeerIdentified (listener: (peer: NodeId, protocols: string[]) => void): () => void {
    this.identified.add(listener)
    return () => { this.identified.delete(listener) }
  }

  /** Tells this net's listeners that `peer` connected and speaks its registered protocols. */
  identify (peer: FakeNet): void {
    for (const listener of this.identified) listener(peer.nodeId, [...peer.handlers.keys()])
  }

  addGate (_gate: PeerGate): () => void { return () => {} }
  registerRecordType (namespace: string, type: DhtRecordType): void { this.recordTypes.set(namespace, type) }

  async putRecord (key: Uint8Array, value: Uint8Array): Promise<void> {
    const namespace = new TextDecoder().decode(key).split('/')[1]!
    await this.recordTypes.get(namespace)?.validate(key, value)
    this.records.set(new TextDecoder().decode(key), value)
  }

  async getRecord (key: Uint8Array): Promise<Uint8Array | undefined> { return this.records.get(new TextDecoder().decode(key)) }
}
