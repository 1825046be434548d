// The libp2p 3 host behind the Net interface: TCP + WebSockets, Noise, Yamux, identify, ping,
// Kademlia DHT, gossipsub, bootstrap and (local networks only) mDNS, every limit from
// protocol/limits.ts. It moves bytes and never interprets them: validation belongs to callers.

import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { asCrypto, defaultCrypto, nodeCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import { createTopicScoreParams, type PeerScoreParams } from '@libp2p/gossipsub/score'
import { identify, identifyPush } from '@libp2p/identify'
import type { PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { createSecretKey, type KeyObject } from 'node:crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { parseNodeId, type NodeId } from '../../protocol/ids.ts'
import {
  dhtStreamsMax, gossipMessageBytesMax, gossipStreamsMax, netConnectionsMax, netDialTimeoutMs,
  netInboundConnectionsPerSecondPerHostMax, netIncomingPendingConnectionsMax
} from '../../protocol/limits.ts'
import { assert } from '../core/assert.ts'
import { decodeUint16Length } from './frames.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/startable.ts'
import type {
  DhtRecordType, GossipValidator, GossipVerdict, Net, PeerConnection, PeerGate, ProtocolHandler, ProtocolOptions
} from './net.ts'

export type NetworkKind = 'local' | 'public'

export interface Libp2pNetComponents {
  logger: Logger
  /** libp2p's own metrics land in this registry, next to Pylon's. */
  metricsRegistry: Registry
}

export interface Libp2pNetInit {
  privateKey: PrivateKey
  /** local: loopback/LAN addresses are kept in the DHT and mDNS may run; public: only public addresses. */
  network: NetworkKind
  listen: string[]
  /** Multiaddrs ending in /p2p/<id> to dial at start. */
  bootstrap: string[]
  /** Multicast discovery on the LAN; only allowed with network 'local'. */
  mdns: boolean
  /** Sent in identify so operators can see which software a peer runs. */
  agentVersion: string
}

type Services = { identify: unknown, identifyPush: unknown, ping: unknown, dht: KadDHT, pubsub: GossipSub }

/** The kad-dht protocol id: Pylon's own DHT, never the public IPFS one. */
export const dhtProtocol = '/pylon/kad/1.0.0'

export class Libp2pNet implements Net, Startable {
  readonly nodeId: NodeId
  readonly #c: Libp2pNetComponents
  readonly #init: Libp2pNetInit
  readonly #log: Logger
  #node: Libp2p<Services> | undefined
  readonly #handlers = new Map<string, { handler: ProtocolHandler, options: ProtocolOptions }>()
  readonly #topics = new Map<string, GossipValidator>()
  readonly #recordTypes = new Map<string, DhtRecordType>()
  readonly #identifiedListeners = new Set<(peer: NodeId, protocols: string[]) => void>()
  readonly #gates = new Set<PeerGate>()
  readonly #peerAddresses = new Map<NodeId, Multiaddr[]>()

  constructor (components: Libp2pNetComponents, init: Libp2pNetInit) {
    assert(!(init.mdns && init.network === 'public'), 'mDNS is only for local networks')
    this.#c = components
    this.#init = init
    this.#log = components.logger
    this.nodeId = nodeIdOf(init.privateKey.publicKey.toString())
  }

  async start (): Promise<void> {
    if (this.#node !== undefined) return
    const node = await this.#create()
    try {
      for (const [protocol, { handler, options }] of this.#handlers) await this.#register(node, protocol, handler, options)
      node.addEventListener('peer:identify', (event) => {
        const peer = parseNodeId(event.detail.peerId.toString())
        if (!peer.ok) return // not an Ed25519 peer: it cannot speak Pylon's signed protocols
        for (const listener of this.#identifiedListeners) listener(peer.value, event.detail.protocols)
      })
      await node.start()
      for (const [peer, addrs] of this.#peerAddresses) this.#mergeAddresses(node, peer, addrs)
      // gossipsub accepts subscriptions only once started; messages cannot arrive before the
      // subscription is announced, so nothing is lost by subscribing here.
      for (const [topic, validator] of this.#topics) this.#subscribeOn(node, topic, validator)
      // On a local network every node is reachable, so serve DHT queries instead of waiting for
      // libp2p to prove a public address (which loopback never is).
      if (this.#init.network === 'local') await node.services.dht.setMode('server')
    } catch (error) {
      await Promise.resolve(node.stop()).catch(() => {})
      throw error
    }
    this.#node = node
    this.#log.info('libp2p started', { nodeId: this.nodeId, multiaddrs: this.multiaddrs(), network: this.#init.network })
  }

  async stop (): Promise<void> {
    const node = this.#node
    if (node === undefined) return
    this.#node = undefined
    await node.stop()
    this.#log.info('libp2p stopped')
  }

  async #create (): Promise<Libp2p<Services>> {
    const init = this.#init
    const validators: Record<string, DhtRecordType['validate']> = {}
    const selectors: Record<string, DhtRecordType['select']> = {}
    for (const [namespace, type] of this.#recordTypes) {
      validators[namespace] = async (key, value) => { await type.validate(key, value) }
      selectors[namespace] = (key, values) => type.select(key, values)
    }
    const peerDiscovery: Array<ReturnType<typeof bootstrap> | ReturnType<typeof mdns>> = []
    if (init.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: init.bootstrap, timeout: 100 }))
    if (init.mdns) peerDiscovery.push(mdns())
    return await createLibp2p({
      start: false,
      privateKey: init.privateKey,
      nodeInfo: { userAgent: init.agentVersion },
      addresses: { listen: init.listen },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noiseWithQuietFraming()],
      streamMuxers: [yamux()],
      peerDiscovery,
      connectionManager: {
        maxConnections: netConnectionsMax,
        maxIncomingPendingConnections: netIncomingPendingConnectionsMax,
        inboundConnectionThreshold: netInboundConnectionsPerSecondPerHostMax,
        dialTimeout: netDialTimeoutMs
      },
      connectionGater: {
        denyDialPeer: (peer: PeerId) => this.#denied(peer, 'outbound'),
        denyInboundEncryptedConnection: (peer: PeerId) => this.#denied(peer, 'inbound')
      },
      metrics: prometheusMetrics({ registry: this.#c.metricsRegistry, preserveExistingMetrics: true, collectDefaultMetrics: false }),
      services: {
        identify: identify(),
        identifyPush: identifyPush(),
        ping: ping(),
        dht: kadDHT({
          protocol: dhtProtocol,
          clientMode: false,
          validators,
          selectors,
          peerInfoMapper: init.network === 'local' ? passthroughMapper : removePrivateAddressesMapper,
          maxInboundStreams: dhtStreamsMax,
          maxOutboundStreams: dhtStreamsMax
        }),
        pubsub: gossipsub({
          // Our first adverts go out before the mesh forms; the capacity exchange covers them.
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          emitSelf: false,
          maxInboundDataLength: gossipMessageBytesMax,
          maxInboundStreams: gossipStreamsMax,
          maxOutboundStreams: gossipStreamsMax
        })
      }
    }) as unknown as Libp2p<Services>
  }

  #denied (peer: PeerId, direction: 'inbound' | 'outbound'): boolean {
    const id = parseNodeId(peer.toString())
    if (!id.ok) return false
    for (const gate of this.#gates) {
      if (gate.deny(id.value, direction)) return true
    }
    return false
  }

  multiaddrs (): string[] {
    return this.#node?.getMultiaddrs().map(ma => ma.toString()) ?? []
  }

  connections (): PeerConnection[] {
    const node = this.#node
    if (node === undefined) return []
    return node.getConnections().flatMap(connection => {
      const id = parseNodeId(connection.remotePeer.toString())
      if (!id.ok) return []
      return [{
        nodeId: id.value,
        remoteAddr: connection.remoteAddr.toString(),
        direction: connection.direction,
        openedAtMs: connection.timeline.open,
        gossipScore: (node.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(connection.remotePeer.toString())
      }]
    })
  }

  handle (protocol: string, handler: ProtocolHandler, options: ProtocolOptions): void {
    assert(!this.#handlers.has(protocol), `protocol ${protocol} is already handled`)
    this.#handlers.set(protocol, { handler, options })
    if (this.#node !== undefined) {
      this.#register(this.#node, protocol, handler, options).catch(error => {
        this.#log.error('could not register protocol', { protocol, error })
      })
    }
  }

  async #register (node: Libp2p<Services>, protocol: string, handler: ProtocolHandler, options: ProtocolOptions): Promise<void> {
    await node.handle(protocol, async (stream: Stream, connection) => {
      const peer = parseNodeId(connection.remotePeer.toString())
      if (!peer.ok) {
        stream.abort(new Error('only Ed25519 peers speak Pylon protocols'))
        return
      }
      try {
        await handler(stream, peer.value)
      } catch (error) {
        // A handler that throws met bad input it did not expect: drop the stream, keep the node.
        this.#log.debug('protocol handler failed', { protocol, peer: peer.value, error })
        stream.abort(error as Error)
      }
    }, { maxInboundStreams: options.inboundStreamsMax, maxOutboundStreams: options.outboundStreamsMax })
  }

  addPeerAddresses (peer: NodeId, multiaddrs: readonly string[]): void {
    const addrs = multiaddrs.flatMap(text => {
      try {
        const ma = multiaddr(text)
        // The peer store keys addresses by peer: keep the transport part only.
        return [ma.getComponents().some(c => c.name === 'p2p') ? ma.decapsulateCode(421) : ma]
      } catch {
        this.#log.debug('ignoring a malformed peer address', { peer, address: text.slice(0, 200) })
        return []
      }
    })
    if (addrs.length === 0) return
    this.#peerAddresses.set(peer, addrs)
    const node = this.#node
    if (node !== undefined) this.#mergeAddresses(node, peer, addrs)
  }

  #mergeAddresses (node: Libp2p<Services>, peer: NodeId, addrs: Multiaddr[]): void {
    node.peerStore.merge(peerIdFromString(peer), { multiaddrs: addrs }).catch(error => {
      this.#log.debug('could not store peer addresses', { peer, error: (error as Error).message })
    })
  }

  async dial (peer: NodeId, protocol: string, options: { signal?: AbortSignal } = {}): Promise<Stream> {
    const node = this.#node
    if (node === undefined) throw new Error('net is not started')
    try {
      return await node.dialProtocol(peerIdFromString(peer), protocol, { signal: options.signal })
    } catch (error) {
      // libp2p sometimes rejects with a stream 'close' event rather than an Error; callers get an Error.
      if (error instanceof Error) throw error
      throw new Error(`dial ${peer} ${protocol} failed: the connection closed during negotiation`)
    }
  }

  subscribe (topic: string, validator: GossipValidator): void {
    assert(!this.#topics.has(topic), `topic ${topic} already has a subscriber`)
    this.#topics.set(topic, validator)
    if (this.#node !== undefined) this.#subscribeOn(this.#node, topic, validator)
  }

  #subscribeOn (node: Libp2p<Services>, topic: string, validator: GossipValidator): void {
    const pubsub = node.services.pubsub
    // Score only invalid messages (P4): a 'reject' verdict then costs the forwarder, so a peer that
    // keeps sending forged or malformed messages is pruned from the mesh and finally graylisted.
    // Delivery-rate penalties stay off: Pylon topics are quiet by design.
    const score = (pubsub as unknown as { score: { params: PeerScoreParams } }).score
    score.params.topics[topic] = createTopicScoreParams({
      topicWeight: 1,
      timeInMeshWeight: 0,
      firstMessageDeliveriesWeight: 0,
      meshMessageDeliveriesWeight: 0,
      meshFailurePenaltyWeight: 0,
      invalidMessageDeliveriesWeight: -100,
      invalidMessageDeliveriesDecay: 0.9
    })
    pubsub.topicValidators.set(topic, async (from, message) => {
      const peer = parseNodeId(from.toString())
      if (!peer.ok) return TopicValidatorResult.Reject
      let verdict: GossipVerdict
      try {
        verdict = await validator({ topic, from: peer.value, data: message.data })
      } catch (error) {
        this.#log.warn('gossip validator threw; message rejected', { topic, error })
        verdict = 'reject'
      }
      return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    pubsub.subscribe(topic)
  }

  async publish (topic: string, data: Uint8Array): Promise<number> {
    const node = this.#node
    if (node === undefined) throw new Error('net is not started')
    const result = await node.services.pubsub.publish(topic, data)
    return result.recipients.length
  }

  onPeerIdentified (listener: (peer: NodeId, protocols: string[]) => void): () => void {
    this.#identifiedListeners.add(listener)
    return () => { this.#identifiedListeners.delete(listener) }
  }

  addGate (gate: PeerGate): () => void {
    this.#gates.add(gate)
    return () => { this.#gates.delete(gate) }
  }

  registerRecordType (namespace: string, type: DhtRecordType): void {
    assert(this.#node === undefined, 'record types must be registered before the net starts')
    assert(/^[a-z0-9-]+$/.test(namespace), `bad record namespace ${namespace}`)
    this.#recordTypes.set(namespace, type)
  }

  async putRecord (key: Uint8Array, value: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    const node = this.#node
    if (node === undefined) throw new Error('net is not started')
    for await (const _event of node.services.dht.put(key, value, { signal: options.signal })) {
      // Draining the query drives it; the events are progress we do not need.
    }
  }

  async getRecord (key: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    const node = this.#node
    if (node === undefined) throw new Error('net is not started')
    let best: Uint8Array | undefined
    for await (const event of node.services.dht.get(key, { signal: options.signal })) {
      if (event.name === 'VALUE') best = event.value
    }
    return best
  }
}

function nodeIdOf (peerId: string): NodeId {
  const id = parseNodeId(peerId)
  assert(id.ok, `the node key must be Ed25519, got peer id ${peerId}`)
  return id.value
}

/**
 * noise() without the two Error allocations (stack traces and all) it made per message:
 * - its secured connections decode their frame lengths with decodeUint16Length instead of Noise's
 *   own decoder, which throws a new RangeError at the end of every TCP read. The secured connection
 *   keeps its LengthPrefixedDecoder in a public `decoder` field; if a later Noise release has none,
 *   connections keep Noise's decoder (slower, still correct), and the test of this wrapper fails so
 *   the upgrade is noticed;
 * - its ChaCha20-Poly1305 runs with noiseCrypto (below).
 */
export function noiseWithQuietFraming (): ReturnType<typeof noise> {
  const factory = noise({ crypto: noiseCrypto })
  return components => {
    const encrypter = factory(components)
    const inbound = encrypter.secureInbound.bind(encrypter)
    const outbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = (async (...args: Parameters<typeof inbound>) => quietFraming(await inbound(...args))) as typeof encrypter.secureInbound
    encrypter.secureOutbound = (async (...args: Parameters<typeof outbound>) => quietFraming(await outbound(...args))) as typeof encrypter.secureOutbound
    return encrypter
  }
}

function quietFraming<T extends { connection: unknown }> (secured: T): T {
  const decoder = (secured.connection as { decoder?: { lengthDecoder?: unknown } }).decoder
  if (decoder !== undefined && typeof decoder.lengthDecoder === 'function') decoder.lengthDecoder = decodeUint16Length
  return secured
}

/**
 * Noise's default crypto seals messages under 1,200 bytes with its wasm ChaCha20-Poly1305 and larger
 * ones with node:crypto, handing createCipheriv the raw session key; node then tells bytes from a
 * KeyObject by catching two thrown Errors (isKeyObject, isCryptoKey) per call: 1.2 % of a replica's
 * CPU at saturation. This keeps that split but hands node:crypto a KeyObject, made once per session
 * key (a CipherState keeps one key object for its whole session).
 */
const sessionKeys = new WeakMap<Uint8Array, KeyObject>()
function sessionKey (k: Uint8Array): Uint8Array {
  let key = sessionKeys.get(k)
  if (key === undefined) sessionKeys.set(k, key = createSecretKey(k))
  return key as unknown as Uint8Array // createCipheriv takes a KeyObject where Noise's types say bytes
}
export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: (plaintext, nonce, ad, k) => plaintext.byteLength < 1200
    ? asCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    : nodeCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, sessionKey(k)),
  chaCha20Poly1305Decrypt: (ciphertext, nonce, ad, k, dst) => ciphertext.byteLength < 1200
    ? asCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    : nodeCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, sessionKey(k), dst)
}
