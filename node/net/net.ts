// The network as the rest of the node sees it: stream protocols, gossip topics, DHT records and a
// connection gate. Components depend on this interface, never on libp2p directly, so a test can
// hand them a small fake. It never interprets the bytes it carries.

import type { Stream } from '@libp2p/interface'
import type { NodeId } from '../../protocol/ids.ts'

export type { Stream }

/** What a gossip validator decides: accept (deliver and forward), reject (drop and penalize the sender), ignore (drop). */
export type GossipVerdict = 'accept' | 'reject' | 'ignore'

export interface GossipMessage {
  topic: string
  /** The peer that forwarded the message to us (not necessarily its author). */
  from: NodeId
  data: Uint8Array
}

/** Called for every new message on a subscribed topic; its verdict drives gossipsub's forwarding and peer scores. */
export type GossipValidator = (message: GossipMessage) => GossipVerdict | Promise<GossipVerdict>

/** Serves one inbound stream. Must not throw for bad peer input; the stream is aborted if it does. */
export type ProtocolHandler = (stream: Stream, peer: NodeId) => Promise<void>

export interface ProtocolOptions {
  /** Concurrent inbound streams of this protocol per connection (from protocol/limits.ts). */
  inboundStreamsMax: number
  /** Concurrent outbound streams of this protocol per connection. */
  outboundStreamsMax: number
}

export interface PeerConnection {
  nodeId: NodeId
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  openedAtMs: number
  /** gossipsub's score of the peer: negative after it forwarded messages our validators rejected. */
  gossipScore: number
}

/** A DHT record namespace (`/<namespace>/<key>`): validate throws for a bad record; select picks the best index. */
export interface DhtRecordType {
  validate (key: Uint8Array, value: Uint8Array): void | Promise<void>
  select (key: Uint8Array, values: Uint8Array[]): number
}

/** A hook that may refuse peers: subnet membership plugs in here. */
export interface PeerGate {
  /** True to refuse a connection with `peer` in that direction. Must be fast and never throw. */
  deny (peer: NodeId, direction: 'inbound' | 'outbound'): boolean
}

export interface Net {
  readonly nodeId: NodeId
  /** Addresses peers can dial us on, each ending in /p2p/<nodeId>. Empty before start. */
  multiaddrs (): string[]
  connections (): PeerConnection[]
  /**
   * Serves `protocol`. Registrations made before start are applied before the host listens, so no
   * peer ever sees a half-configured node.
   */
  handle (protocol: string, handler: ProtocolHandler, options: ProtocolOptions): void
  /**
   * Remembers where a peer listens (multiaddrs, with or without /p2p/<id>), so dial() can reach it
   * without a DHT lookup: e.g. subnet members from their genesis. Addresses are hints only — the
   * transport authenticates the peer id. Before or after start.
   */
  addPeerAddresses (peer: NodeId, multiaddrs: readonly string[]): void
  /** Opens a stream to a peer (dialling it if needed). Honours the signal. */
  dial (peer: NodeId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
  /** Subscribes to a gossip topic; the validator sees each message once. Before or after start. */
  subscribe (topic: string, validator: GossipValidator): void
  /** Publishes to a topic; resolves to the number of peers it was sent to (0 is not an error). */
  publish (topic: string, data: Uint8Array): Promise<number>
  /** Called after a peer has connected and told us its protocols (identify). Returns an unsubscribe. */
  onPeerIdentified (listener: (peer: NodeId, protocols: string[]) => void): () => void
  /** Adds a gate consulted for every new connection. Returns a function that removes it. */
  addGate (gate: PeerGate): () => void
  /** Registers a DHT record namespace. Only before start (the DHT is built with its validators). */
  registerRecordType (namespace: string, type: DhtRecordType): void
  /** Stores a record in the DHT, best effort; resolves once the closest peers were asked. */
  putRecord (key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>
  /** The best valid record for a key, or undefined. */
  getRecord (key: Uint8Array, options?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
}
