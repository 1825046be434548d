// Every bound in Pylon, each with the reason for its value. Over a bound is refused, never absorbed
// by growth. Relations between bounds are asserted when this module loads, so a bad edit fails fast.
// Sizes are bytes, times milliseconds, unless the name says otherwise.

import { assert } from './assert.ts'

const KiB = 1024
const MiB = 1024 * KiB

// ── Codec ───────────────────────────────────────────────────────────────────────────────────────
/** Largest dag-cbor value the codec will decode from anyone: a block of ingress plus headroom. */
export const codecBytesMax = 8 * MiB
/** Deepest nesting the codec accepts; real messages nest < 10 levels, a bomb nests thousands. */
export const codecDepthMax = 64
/** Longest domain tag used for signing bytes, e.g. "pylon/vote/v1". */
export const signingDomainBytesMax = 64

// ── Identity ────────────────────────────────────────────────────────────────────────────────────
/** Length of a NodeId / Principal string: base58btc of a 38-byte identity multihash is 52 chars. */
export const nodeIdCharsMax = 64
/** A CID string (base32 sha2-256 dag-cbor) is 59 chars; allow room for other bases. */
export const cidCharsMax = 128

assert(codecBytesMax >= 1 * MiB, 'codecBytesMax must hold at least a 1 MiB payload')
assert(signingDomainBytesMax < 256, 'domain tags are short strings')

// ── Network, discovery and capacity adverts (node/net, node/capacity, node/api) ─────────────────
/** A signed capacity advert on the wire: ~600 B real; room for 16 addresses and long labels. */
export const capacityAdvertBytesMax = 4 * KiB
/** Addresses one advert may list: a node has a handful (tcp, ws, ip4, ip6); more is spam. */
export const advertMultiaddrsMax = 16
/** A multiaddr string: dns names and a /p2p suffix fit well inside this. */
export const multiaddrCharsMax = 256
/** A label (rack, region, operator) or the software version string. */
export const advertLabelCharsMax = 64
/** Subnets one node may advertise membership of. */
export const advertSubnetsMax = 64
/** Longest advert lifetime a node may claim: beyond an hour a dead node lingers in books. */
export const advertTtlMsMax = 60 * 60 * 1000
/** How far an advert's issuedAt may lie ahead of our clock: tolerates unsynchronized racks. */
export const advertClockSkewMsMax = 60 * 1000
/** Adverts a book holds: the whole network up to this size; past it the oldest set is evicted. */
export const advertBookEntriesMax = 10_000
/** Adverts in one /pylon/capacity/1.0.0 answer: enough to seed a newcomer, bounded per request. */
export const capacityExchangeAdvertsMax = 256
/** One /pylon/capacity/1.0.0 frame: a full answer of adverts plus cbor framing. */
export const capacityExchangeBytesMax = capacityExchangeAdvertsMax * capacityAdvertBytesMax + 4 * KiB
/** A capacity exchange (dial, ask, read the answer) must finish in this time or is abandoned. */
export const capacityExchangeTimeoutMs = 10_000
/** Concurrent /pylon/capacity/1.0.0 streams per connection and direction: one is the norm. */
export const capacityExchangeStreamsMax = 2
/** libp2p connections in total; past it libp2p prunes the least valued ones. */
export const netConnectionsMax = 300
/** Inbound connections still in their handshake: bounds work an unauthenticated dialer causes. */
export const netIncomingPendingConnectionsMax = 32
/** New inbound connections per second from one host: a rack behind one NAT, or a loopback testbed. */
export const netInboundConnectionsPerSecondPerHostMax = 64
/** A dial (resolve, connect, upgrade) must finish in this time. */
export const netDialTimeoutMs = 10_000
/** Largest gossipsub message on any topic; each topic's decoder applies its own, smaller, bound. */
export const gossipMessageBytesMax = 1 * MiB
/** Concurrent gossipsub / kad-dht streams per connection and direction. */
export const gossipStreamsMax = 4
export const dhtStreamsMax = 16
/** A DHT put or get of our own advert must finish in this time; it is best effort. */
export const dhtOperationTimeoutMs = 15_000
/** Largest HTTP request body the local API reads; its routes take small JSON or nothing. */
export const apiBodyBytesMax = 64 * KiB
/** Open HTTP connections to the local API: it serves scripts and one operator, not the world. */
export const apiConnectionsMax = 256
/** An HTTP request (headers and body) must arrive within this time: slow-loris bound. */
export const apiRequestTimeoutMs = 10_000
/** Peers one /v1/peers answer lists; equals the connection bound so it is never truncated. */
export const apiPeersMax = 300

assert(capacityExchangeBytesMax >= capacityAdvertBytesMax * capacityExchangeAdvertsMax, 'an exchange frame holds its adverts')
assert(capacityAdvertBytesMax <= gossipMessageBytesMax, 'an advert fits in a gossip message')
assert(capacityExchangeAdvertsMax <= advertBookEntriesMax, 'an exchange answer never exceeds a book')
assert(apiPeersMax >= netConnectionsMax, '/v1/peers shows every connection')

// ── Actor runtime (node/runtime, contracts) ─────────────────────────────────────────────────────

// ── Store, Merkle state and checkpoints (node/store, protocol/state) ────────────────────────────

// ── Consensus (protocol/consensus, node/consensus) ──────────────────────────────────────────────
/** Replicas in one subnet: certificates carry one signature each, and votes are all-to-all (n²). */
export const consensusMembersMax = 64
/** A block's opaque payload (a batch of ingress): the IC caps blocks near 4 MiB; we stay below. */
export const consensusPayloadBytesMax = 2 * MiB
/** One consensus message on the wire: a proposal is the block plus ~1 KiB of header and vote. */
export const consensusMessageBytesMax = consensusPayloadBytesMax + 16 * KiB
/** Views ahead of our own whose votes we keep: enough to catch up from votes, too few to flood. */
export const consensusViewsAheadMax = 16
/** Unfinalized views kept behind the current one (nullification chains between a parent and us). */
export const consensusViewsBehindMax = 64
/** Blocks held in memory (notarized, proposed, fetched); beyond this a replica needs state sync. */
export const consensusBlocksMax = 512
/** Block hashes or views one fetch request may name; the answer must fit one message. */
export const consensusFetchItemsMax = 32
/** Hashes a replica waits for at once while walking back a certified chain. */
export const consensusWantedMax = 256
/** Equivocation proofs kept in memory until the driver has stored them. */
export const consensusEvidenceMax = 64
/** Smallest and largest network bound Δ: timers are multiples of it (leader 2Δ, advance 3Δ). */
export const consensusDeltaMsMin = 1
export const consensusDeltaMsMax = 60_000
/** WAL records a recovery reads: own votes and certificates of the unfinalized window only. */
export const consensusWalRecordsMax = 16 * (consensusViewsAheadMax + consensusViewsBehindMax) * 4

// ── Ingress, subnets and certification (protocol/ingress.ts, protocol/subnet.ts) ────────────────
/** Whole signed envelope: 1 MiB fits one gossip message and ~8 per block (IC caps ingress at 2 MB and warns bigger ones let a bad leader stall finalization). */
export const ingressBytesMax = 1 * MiB
/** Largest call payload or install argument: the envelope less room for method, nonce, ids, controllers and signature. */
export const ingressPayloadBytesMax = ingressBytesMax - 8 * KiB
/** Longest method name; real exports are identifiers of a few dozen characters. */
export const ingressMethodCharsMax = 128
/** Longest human name given to an actor at install. */
export const ingressActorNameCharsMax = 64
/** Most controllers (principals allowed to upgrade/delete) an actor may list. */
export const ingressControllersMax = 10
/** Longest nonce: 32 random bytes make collisions impossible; more only adds bytes to every block. */
export const ingressNonceBytesMax = 32
/** Furthest an expiry may lie ahead of the receiver's clock: the IC's MAX_INGRESS_TTL (5 minutes). It also bounds how long replay memory must remember a message. */
export const ingressTtlMaxMs = 5 * 60_000
/** Clock drift allowed on top of the TTL between a client and a node (the IC permits 60 s). */
export const ingressExpiryDriftMs = 60_000
/** Messages a mempool holds: ~10 full blocks; beyond it clients get "mempool full" and retry. */
export const mempoolCountMax = 10_000
/** Bytes a mempool holds: bounds its memory whatever the message sizes. */
export const mempoolBytesMax = 64 * MiB
/** Ids remembered against replay until their expiry: ≥ mempool turnover over TTL + drift at the sustained rate the subnet can finalize (~4,700 msgs/s bound × headroom); when full, new messages are refused, never remembered-and-forgotten. */
export const mempoolSeenMax = 200_000
/** Principals with a rate bucket; least recently seen are forgotten (a new principal costs nothing, so per-principal limits bound one identity, not a Sybil). */
export const mempoolPrincipalsMax = 10_000
/** Sustained messages per second one principal may submit to one node. */
export const mempoolPrincipalRatePerSecond = 50
/** Burst one principal may submit at once (token-bucket capacity). */
export const mempoolPrincipalBurst = 200
/** Largest subnet: certificates carry one signature per member, and n² votes per view must stay cheap. */
export const subnetMembersMax = 64
/** Longest subnet name. */
export const subnetNameCharsMax = 64
/** Multiaddrs listed per genesis member. */
export const subnetMultiaddrsMax = 8
/** Longest multiaddr string in a genesis record. */
export const subnetMultiaddrCharsMax = 256
/** Shortest Simplex Δ (message delay bound): below a loopback round trip plus fsync nothing finalizes. */
export const subnetDeltaMinMs = 10
/** Longest Simplex Δ: a minute; slower networks should not host a subnet. */
export const subnetDeltaMaxMs = 60_000
/** Largest genesis or certificate encoding: 64 members × (id + addrs + signature) fits easily. */
export const subnetRecordBytesMax = 256 * KiB
/** Longest ActorId string: "<subnet CID>.<u64 index>" is at most 128 + 1 + 20 characters. */
export const actorIdCharsMax = 160

assert(ingressBytesMax <= codecBytesMax, 'an ingress message must fit the codec')
assert(ingressPayloadBytesMax < ingressBytesMax, 'the envelope must hold its payload')
assert(mempoolBytesMax >= ingressBytesMax, 'a mempool must hold at least one full message')
assert(mempoolSeenMax >= mempoolCountMax, 'every pooled message must be rememberable against replay')
assert(mempoolPrincipalBurst >= 1 && mempoolPrincipalRatePerSecond > 0, 'a principal must be able to send something')
assert(ingressExpiryDriftMs < ingressTtlMaxMs, 'drift allowance is small beside the TTL')
assert(subnetMembersMax >= 4 && (subnetMembersMax - 1) % 3 === 0, 'subnetMembersMax is 3f+1 for some f ≥ 1')
assert(subnetDeltaMinMs < subnetDeltaMaxMs, 'Δ range is not empty')
assert(actorIdCharsMax >= cidCharsMax + 21, 'an ActorId holds a subnet CID and a u64 index')
