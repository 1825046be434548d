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
/** A /pylon/capacity/1.0.0 request: a tiny map; anything bigger is garbage. */
export const capacityExchangeRequestBytesMax = 256
/** How often a node checks its own advert for changes (addresses, labels) to republish early. */
export const advertChangeCheckMs = 5_000
/** The compute-score measurement stops after this many loop iterations or ~20 ms, whichever first. */
export const computeScoreIterationsMax = 1 << 30
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
/** Largest component accepted for install: a componentize-js actor (a whole JS engine) is ~12 MB. */
export const actorCodeBytesMax = 32 * MiB
/** Largest core module inside a component after instrumentation: the JS engine module plus fuel checks. */
export const actorCoreModuleBytesMax = 48 * MiB
/** Fuel for one message: one unit per function entry, loop iteration or return; a JS counter call costs ~10^5. */
export const actorFuelPerMessageMax = 200_000_000n
/** Fuel for all messages of one block: bounds a block's execution time whatever its contents. */
export const actorFuelPerBlockMax = 2_000_000_000n
/** Fuel to create an instance (start functions, engine start-up); not charged to any message. */
export const actorInstantiateFuelMax = 50_000_000n
/** Linear memory per instance, in 64 KiB pages (32 MiB): a JS engine needs ~8 MiB; growth past this fails. */
export const actorMemoryPagesMax = 512
/** Bytes of memory.fill / memory.copy one fuel unit pays for (a power of two): a cache line, about what one counted step costs in time, so a bulk op's fuel tracks its CPU. */
export const actorBulkMemoryBytesPerFuel = 64
/** Table elements per table: the JS engine's function table is ~10^4; growth is one cheap instruction, so cap it. */
export const actorTableElementsMax = 100_000
/** Message payload and install argument: what an ingress envelope can carry (ingressPayloadBytesMax; a runtime test checks they agree). */
export const actorPayloadBytesMax = 1 * MiB - 8 * KiB
/** An update's or query's result: returned in a receipt, so well under receiptBytesMax. */
export const actorResultBytesMax = 1 * MiB
/** Longest method name an actor is called with: the ingress bound (ingressMethodCharsMax). */
export const actorMethodCharsMax = 128
/** Storage key and value bounds for actors: those of the state tree (stateKeyBytesMax, stateValueBytesMax), so every write is provable. */
export const actorKeyBytesMax = 1 * KiB
export const actorValueBytesMax = 1 * MiB
/** Sum of key + value bytes one actor may hold: its whole state is preloaded per block, so it must be small. */
export const actorStorageBytesMax = 8 * MiB
/** Entries one storage.range call returns: pages of a bounded size; callers continue from the last key. */
export const actorRangeEntriesMax = 1000
/** Outbox messages (send + schedule) per call: one call cannot fan out into a flood of later work. */
export const actorOutboxPerCallMax = 16
/** Bytes one context.random call returns: enough for keys and nonces; more is a loop in the actor. */
export const actorRandomBytesMax = 1 * KiB
/** Log lines per call and bytes per line: diagnostics travel in the receipt, so they are small. */
export const actorLogLinesMax = 64
export const actorLogLineBytesMax = 1 * KiB
/** Transpiled, compiled actors kept in memory by the runtime (each holds its compiled modules). */
export const actorCompiledCacheEntriesMax = 32
/** Messages the executor runs in one call of executeBlock; the same bound as receipts per height. */
export const actorMessagesPerBlockMax = 100_000

assert(actorFuelPerMessageMax <= actorFuelPerBlockMax, 'one message must fit in a block\'s fuel')
assert(Number.isInteger(Math.log2(actorBulkMemoryBytesPerFuel)) && actorBulkMemoryBytesPerFuel >= 1, 'bulk-memory fuel is charged with a shift')
assert(actorResultBytesMax + actorLogLinesMax * actorLogLineBytesMax < 2 * MiB, 'a receipt (result + logs) must fit receiptBytesMax')
assert(actorStorageBytesMax >= actorKeyBytesMax + actorValueBytesMax, 'an actor can hold its largest single entry')
assert(actorPayloadBytesMax <= codecBytesMax, 'a payload must fit the codec')

// ── Actor call-stack bound (node/runtime/_stack.ts): deterministic, reached before V8's own limit ──
/** Stack weight one call may hold at once: "stack budget exhausted" on every replica alike. The JS examples peak at 9,080-12,699 (an engine frame weighs up to ~9,900): ~2.6x room; JSON.stringify nests 50 deep. */
export const actorStackBudget = 32_768
/** Heaviest single function accepted: V8 reserves a frame before its entry check runs, so one frame past the budget must still fit. */
export const actorStackFrameWeightMax = 16_384
/** Weight of a wasm frame's fixed part (return address, frame pointer, instance, tier markers: 40-56 bytes measured). */
export const actorStackFrameBaseWeight = 4
/** Expressions per extra weight unit: TurboFan's value numbering may keep one pure value per reused expression alive across a call. */
export const actorStackInstructionsPerUnit = 8
/** Weight of a call out to the host: jco glue, host function and the glue re-entering wasm (realloc) measured ~1,300 bytes per cycle. */
export const actorStackHostCallWeight = 256
/** Most native bytes per weight unit measured: 38 adversarial frame shapes up to the frame cap (locals, v128, params, operand stack, value numbering), host re-entry and inlined leaves, under Liftoff, TurboFan and tiering (6.71, TurboFan, v128 locals and value numbering). */
export const actorStackBytesPerUnitMeasured = 7
/** V8's stack on a Node thread (--stack-size default, 984 KiB) left for the caller of the executor and the top host call after the bound, at twice the measured bytes per unit. */
export const actorStackReserveBytes = 984 * KiB - 2 * actorStackBytesPerUnitMeasured * (actorStackBudget + actorStackFrameWeightMax)

assert(actorStackReserveBytes >= 256 * KiB, 'the stack bound leaves V8 a quarter of its stack for the executor caller and host work')
assert(actorStackFrameWeightMax <= actorStackBudget, 'a function that fits the frame cap can run at least once')

// ── Actor transpile workers (node/runtime/transpile-pool.ts) ────────────────────────────────────
/** Transpile workers one loader runs at once: each takes a whole core for seconds to minutes; one leaves the other core of a 2-core node to consensus and the API. */
export const actorTranspileWorkersMax = 1
/** Distinct components waiting for a transpile worker: first loads are rare (a new code CID); past this the load throws, retryable. */
export const actorTranspileQueueMax = 64
/** One transpile (world check, jco, instrumentation, cache write): a 12 MB JS actor takes ~10 s alone, ~55 s on a machine loaded 10x; past this the worker is stopped. */
export const actorTranspileTimeoutMs = 10 * 60_000
/** Old-generation JS heap of a transpile worker: the 12 MB JS counter needs under 64 MiB (fails in 16); jco's and binaryen's wasm memories are outside it. Past it the worker dies alone, not the node. */
export const actorTranspileHeapMiB = 256
/** Smallest worker heap a pool accepts (tests go low): at 1 MiB V8 aborts the whole process while creating the worker, not just the worker. */
export const actorTranspileHeapMiBMin = 4

assert(actorTranspileHeapMiB >= actorTranspileHeapMiBMin, 'the transpile heap is above the floor')
/** `npm run build:contracts` (and `pretest`) runs at most this often when the build process crashes (a signal, not a failure): V8 aborted once in its wasm code-space bookkeeping while compiling the 12 MB components; the build is idempotent. */
export const contractsBuildAttemptsMax = 3

// ── Actor instance pool (node/runtime/instance-pool.ts): reset instances instead of fresh ones ───
/** Idle reset instances kept per compiled actor: a block holds one per actor, so more than one only serves several actors sharing one code CID in a block. */
export const actorInstancePoolIdleMax = 4
/** Bytes one loader's pools keep alive (each pooled memory twice: live and its initial image, 18 MiB for a JS actor): about 14 JS actors, a fraction of a node's RAM; past it instances are fresh again. */
export const actorInstancePoolBytesMax = 256 * MiB

assert(actorInstancePoolBytesMax >= 2 * actorMemoryPagesMax * 64 * KiB, 'the pool budget holds at least one instance at the memory cap')

// ── Store, Merkle state and checkpoints (node/store, protocol/state) ────────────────────────────
/** Longest storage key: keys name data, they are not data; bounds proofs, chunks and index rows. */
export const stateKeyBytesMax = 1 * KiB
/** Largest storage value: one value must fit in a proof and a checkpoint chunk; blobs span keys. */
export const stateValueBytesMax = 1 * MiB
/** State writes in one height: one height is one LevelDB batch held in memory until it is synced. */
export const stateWritesPerHeightMax = 100_000
/** Receipts in one height: the receipts tree is built in memory per height. */
export const receiptsPerHeightMax = 100_000
/** One encoded receipt: a message's result payload plus its log lines and fuel. */
export const receiptBytesMax = 2 * MiB
/** Entries one `range` read returns: a caller pages with the last key, memory stays bounded. */
export const stateRangeEntriesMax = 10_000
/** Inner nodes on one trie path: a path is 256 bits and each inner node splits at a distinct bit. */
export const stateProofStepsMax = 256
/** An encoded state proof: the value, the leaf and 256 steps of (bit, 32-byte hash), plus framing. */
export const stateProofBytesMax = stateValueBytesMax + stateProofStepsMax * 40 + 1 * KiB
/** Steps of a receipt proof: the receipts tree has at most log2(receiptsPerHeightMax) < 17 levels. */
export const receiptProofStepsMax = 32
/** An encoded receipt proof: index, count and at most receiptProofStepsMax 32-byte hashes. */
export const receiptProofBytesMax = receiptProofStepsMax * 34 + 64
/** Heights between checkpoints: each costs a full state scan; a joining replica replays < K heights. */
export const checkpointIntervalHeights = 1000
/** Checkpoints kept: the latest plus the previous one, so a peer mid-sync of it can finish. */
export const checkpointsRetained = 2
/** A checkpoint chunk is cut once it passes this size: small enough to fetch and check one by one. */
export const checkpointChunkBytesTarget = 1 * MiB
/** Largest chunk accepted: the target plus one whole entry (key and value) and framing. */
export const checkpointChunkBytesMax = checkpointChunkBytesTarget + stateValueBytesMax + stateKeyBytesMax + 4 * KiB
/** Chunks in one checkpoint: ~100 GiB of state at the chunk target; bounds the manifest. */
export const checkpointChunksMax = 100_000
/** An encoded manifest: checkpointChunksMax × (32-byte hash + size) with framing. */
export const checkpointManifestBytesMax = checkpointChunksMax * 48 + 1 * KiB
/** Largest code blob (a component) stored by CID: a componentize-js actor is ~12 MB. */
export const storeCodeBytesMax = 64 * MiB
/** One consensus WAL record: at most one encoded message (a block proposal). */
export const walRecordBytesMax = codecBytesMax
/** Unpruned WAL records: the driver truncates at each finalized height; more means it forgot. */
export const walRecordsMax = 100_000
/** One metadata value: small node-local settings and markers, never state. */
export const storeMetaBytesMax = 64 * KiB
/** Trie nodes cached in memory: the top ~16 levels of a large tree, ~10 MB. */
export const storeNodeCacheEntriesMax = 65_536
/**
 * Trie levels a store keeps decoded between commits, the ones nearly every height walks; trimmed to
 * them past 2^(levels+1) held nodes. Memory: ~60 MB of heap at 16 (measured on a 200k-key state, 12
 * gives ~20 MB) for ~10-15 % less commit CPU than 12-14 on heights of 1,000 updates.
 */
export const storeTrieKeptLevels = 16
/** Rows read per getMany while walking the state (checkpoint, verify): bounds a walk's memory. */
export const storeReadPageRows = 512
/** Ops per unsynced batch when writing a large import or checkpoint: bounds a batch's memory. */
export const storeWriteBatchOps = 4096
/** LevelDB memtable per store (it may hold two while one flushes): fewer flushes and compactions under heavy commits. */
export const storeLevelWriteBufferBytes = 16 * MiB
/** LevelDB block cache per store: trie nodes past the node cache are read from here, not the disk. */
export const storeLevelBlockCacheBytes = 32 * MiB
/** Receipts bytes per stored row: a block's small receipts share one row (one LevelDB op), large ones never make one huge value. */
export const storeReceiptPageBytes = 256 * KiB
/** Longest metadata name: names are short identifiers, not data. */
export const storeMetaNameCharsMax = 128
/** Committed state rows a store keeps after a get (counters, actor records: read every height, ~20 µs of CPU each from LevelDB). */
export const storeRowCacheEntriesMax = 4096
/** Largest value the row cache keeps: small counters and records are what is read again; ≤ 4 MiB in all. */
export const storeRowCacheValueBytesMax = 1 * KiB
/** Key windows a store keeps after range reads (a small actor's whole state, due timers, expired history): each saves an iterator, ~70-200 µs of CPU. */
export const storeRangeCacheWindowsMax = 128
/** Keys + values one kept window holds (past it, it gives up its highest keys): ≤ 8 MiB in all. */
export const storeRangeCacheBytesMax = 64 * KiB
/** Keys a range read with readAheadUntil also reads past its end, so the next ones from that start come from memory. */
export const storeRangeReadAheadRows = 64

assert(checkpointChunkBytesMax <= codecBytesMax, 'a checkpoint chunk must decode under the codec limit')
assert(checkpointManifestBytesMax <= codecBytesMax, 'a checkpoint manifest must decode under the codec limit')
assert(stateProofBytesMax <= codecBytesMax, 'a state proof must decode under the codec limit')
assert(receiptBytesMax <= codecBytesMax, 'a receipt must decode under the codec limit')
assert(2 ** receiptProofStepsMax > receiptsPerHeightMax, 'receipt proofs must reach every receipt of a height')
assert(checkpointsRetained >= 1, 'the latest checkpoint is always kept')

// ── Consensus (protocol/consensus, node/consensus) ──────────────────────────────────────────────
/** Replicas in one subnet: certificates carry one signature each, and votes are all-to-all (n²). */
export const consensusMembersMax = 64
/** A block's opaque payload (a batch of ingress): the IC caps blocks near 4 MiB; we stay below. */
export const consensusPayloadBytesMax = 4 * MiB
/** One consensus message on the wire: a proposal is the block plus ~1 KiB of header and vote. */
export const consensusMessageBytesMax = consensusPayloadBytesMax + 16 * KiB
/** Views ahead of our own whose votes we keep: enough to catch up from votes, too few to flood. */
export const consensusViewsAheadMax = 16
/** Unfinalized views kept behind the current one (nullification chains between a parent and us). */
export const consensusViewsBehindMax = 64
/** Unfinalized blocks held in memory (proposed, notarized, fetched while catching up): a replica
 * further behind than this needs state sync (checkpoints) instead of walking the chain back. */
export const consensusBlocksMax = 1024
/** Payload bytes of those blocks: bounds memory whatever the block sizes (64 full blocks). */
export const consensusBlocksBytesMax = 256 * MiB
/** Block hashes or views one fetch request may name; the answer must fit one message. */
export const consensusFetchItemsMax = 32
/** Hashes a replica waits for at once while walking back a certified chain. */
export const consensusWantedMax = 256
/** Equivocation proofs kept in memory until the driver has stored them. */
export const consensusEvidenceMax = 64
/** Smallest and largest network bound Δ: timers are multiples of it (leader 2Δ, advance 3Δ). */
export const consensusDeltaMsMin = 1
export const consensusDeltaMsMax = 60_000

assert(consensusMessageBytesMax <= codecBytesMax, 'a consensus message must fit the codec')
assert(consensusDeltaMsMin >= 1 && consensusDeltaMsMin < consensusDeltaMsMax, 'Δ range is not empty')
assert(consensusBlocksMax >= consensusViewsAheadMax + consensusViewsBehindMax, 'every retained view can hold its block')
assert(consensusWantedMax >= consensusFetchItemsMax, 'one request never names more than we may wait for')

// ── Consensus driver (node/consensus) ───────────────────────────────────────────────────────────
/** Peer messages waiting to be stepped into the replica: ~a few views of n = 64 all-to-all votes. */
export const consensusInboundQueueMax = 4_096
/** Of those, from one member: a flooding member fills only its own share, never the others'. */
export const consensusInboundPerPeerMax = 256
/** Local events waiting (timeouts, application answers): a handful per view; more is a bug. */
export const consensusLocalQueueMax = 1_024
/** Frames queued to one member while its stream is down or slow; the oldest are dropped first (timers resend). */
export const consensusOutboxFramesMax = 512
/** Bytes queued to one member: two full proposals, so a dead peer never holds much memory. */
export const consensusOutboxBytesMax = 2 * consensusMessageBytesMax
/** One batched write to a member: a member that stops reading this long has its stream replaced (and the batch dropped). */
export const consensusWriteTimeoutMs = 10_000
/** Wait before re-dialling a member whose dial or stream failed: retries stay cheap while it is down. */
export const consensusRedialMs = 1_000
/** Finalized heights handed to the application but not yet committed: consensus runs ahead of execution by at most this. */
export const consensusCommitsPendingMax = 16
/** Members a catch-up request goes to at once: two answers cover one slow or lying peer. */
export const consensusFetchPeers = 2
/** Lookups (blocks served from the store to a peer) waiting; more are dropped (the asker retries). */
export const consensusLookupQueueMax = 16
/** Finalized heights scanned back from the store to find a requested hash: the replica never walks further. */
export const consensusLookupDepthMax = consensusBlocksMax
/** Prunable WAL records before truncating: one synced delete per this many, not one per height. */
export const consensusWalPruneRecordsMin = 64
/** Positive signature checks remembered: certificates repeat signatures already seen as votes. */
export const consensusVerifyCacheEntriesMax = 8_192
/** Concurrent consensus streams per connection each way: one long-lived stream, one while it is replaced. */
export const consensusStreamsMax = 4
/** Events stepped into one WAL group (one fsync covers their votes): a few views' worth of messages, so the votes of a group wait at most one short burst. */
export const consensusWalGroupEventsMax = 256

assert(consensusInboundPerPeerMax * 2 <= consensusInboundQueueMax, 'one member cannot fill the inbound queue')
assert(consensusOutboxBytesMax >= consensusMessageBytesMax, 'one whole message fits an outbox')
assert(consensusWalPruneRecordsMin < walRecordsMax, 'the WAL is pruned long before it is full')

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
/** Ids remembered against replay until their expiry: 2,000 updates/s (issue #5's goal) for the whole longest expiry (ingressTtlMaxMs, 5 min) is 600,000 ids (about 80 MB of heap); when full, new messages are refused, never remembered-and-forgotten. */
export const mempoolSeenMax = 600_000
/** Principals with a rate bucket; least recently seen are forgotten (a new principal costs nothing, so per-principal limits bound one identity, not a Sybil). */
export const mempoolPrincipalsMax = 10_000
/** Sustained messages per second one principal may submit to one node. */
export const mempoolPrincipalRatePerSecond = 50
/** Burst one principal may submit at once (token-bucket capacity). */
export const mempoolPrincipalBurst = 200
/** Least time between two prunes of expired messages (a scan of the pool) and ids (only the expired ones are visited). */
export const mempoolPruneIntervalMs = 1_000
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
/**
 * Public keys kept ready for verification by peer id (~150 B each with the id; protocol/signature.ts
 * keyOfPeer): parsing a peer id costs a few µs. Room for the active clients of a busy node plus the
 * members of the subnets it serves and talks to.
 */
export const peerKeysCachedMax = 5_120
/** Actor and subnet id strings already parsed (~250 B each; a parse costs 3 µs): the actors clients call. */
export const ingressIdsParsedCachedMax = 4_096
/** Largest client identity file read: a PKCS#8 PEM Ed25519 key is 119 bytes; anything far bigger is not one. */
export const identityFileBytesMax = 4 * KiB
/** A certified response to a client: a receipt (reply up to an ingress's size), its proof and a certificate. */
export const certifiedResponseBytesMax = ingressBytesMax + subnetRecordBytesMax
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

// ── Member channel: ingress and certification shares between members (node/consensus/member-channel.ts) ─
/** One frame: a kind byte and one whole envelope (the largest thing it carries; a share is ~200 bytes). */
export const memberFrameBytesMax = ingressBytesMax + 1
/** Frames queued to one member while its stream is down or slow: two full blocks of envelopes; the oldest go first (every member pools what it relays, and the sender proposes it when it leads). */
export const memberOutboxFramesMax = 4_096
/** Bytes queued to one member: eight largest envelopes, so a dead member never holds much memory. */
export const memberOutboxBytesMax = 8 * ingressBytesMax
/** Concurrent member-channel streams per connection each way: one long-lived stream, one while it is replaced. */
export const memberStreamsMax = 4
/** Largest certification share accepted from a member (a subnet id, a height, two roots, a signer and a signature). */
export const memberShareBytesMax = 1 * KiB
/** Heights one certificate request may name: a member restarted between committing heights and certifying them lacks a few (the crash window is a commit or two); more are refused as malformed. */
export const memberCertificateRequestHeightsMax = 32
/** Largest state certificate one member sends another: its state (subnet id, height, two roots) and an index and a 64-byte signature per member (at most subnetMembersMax). */
export const memberCertificateBytesMax = 16 * KiB
/** Heights of certificate requests one member may have answered per second: a request costs a store read and a send per height, so a member that asks without end is held to this (~1 % of a core); honest asks are a few heights per certified height. */
export const memberCertificateHeightsPerSecond = 256
/** Heights one member may ask for at once after a quiet spell: a restarted member asks for up to subnetCertifyHeightsMax at start, and may ask once more soon after. */
export const memberCertificateHeightsBurst = 512

assert(memberOutboxBytesMax >= memberFrameBytesMax, 'one whole frame fits an outbox')

// ── Local devnet and API clients (node/cli/commands/devnet|deploy|call|query, node/cli/client.ts) ─
/** Most nodes `pylon devnet up` starts: each is a whole daemon process; a laptop runs a few dozen at most. */
export const devnetNodesMax = 31
/** Wait for every devnet daemon's API to answer: ~1 s to load the stack each, many sharing few cores. */
export const devnetReadyTimeoutMs = 90_000
/** Wait for devnet daemons to exit after SIGTERM before SIGKILL: above the daemon's own 8 s stop deadline. */
export const devnetStopTimeoutMs = 12_000
/** Default Simplex Δ of a devnet subnet: loopback is fast, but a loaded laptop stalls a process for 100s of ms. */
export const devnetDeltaMs = 500
/** One HTTP request from a CLI client to a daemon (not counting an update's wait for certification). */
export const clientRequestTimeoutMs = 10_000
/** How long `pylon call`/`deploy` wait for the certified response: a few views of a loaded subnet. */
export const clientCertifyWaitMs = 30_000
/** Pause before a client sends an unanswered envelope again (its node restarting, busy, or its own wait over): a daemon restarts in seconds, so a few tries a second find it soon without flooding it. */
export const clientResubmitDelayMs = 250
/** Certificates an IngressStream remembers as verified: answers come height by height, each height's under one certificate; a few dozen heights cover any burst in flight. */
export const clientCertificatesMemoMax = 64
/** Subnets `pylon deploy` without --subnet compares for room (one actor listing each): enough for a devnet or a small network; name one with --subnet beyond. */
export const clientDeployCandidatesMax = 32
/** How long `pylon deploy` waits for the certified install: every replica transpiles the component first (a 12 MB JS actor takes tens of seconds on a loaded machine). */
export const clientDeployWaitMs = 110_000
/** Lifetime a client gives its envelopes: long enough to cross a busy mempool, well under the TTL bound. */
export const clientIngressTtlMs = 2 * 60_000

assert(devnetNodesMax <= subnetMembersMax, 'a devnet subnet holds every devnet node')
assert(devnetDeltaMs >= subnetDeltaMinMs && devnetDeltaMs <= subnetDeltaMaxMs, 'the devnet Δ is a valid subnet Δ')
assert(clientIngressTtlMs < ingressTtlMaxMs, 'client envelopes must be accepted by the expiry rule')
assert(clientDeployWaitMs < clientIngressTtlMs, 'a deploy stops waiting before its envelope could still run unseen')

// ── Subnet service (node/subnet, node/api subnet routes) ──────────────────────────────────────
/** Envelopes one block payload carries: ~a second of a busy subnet; keeps one block's execution to seconds. */
export const subnetBlockIngressMax = 2_000
/** A block payload (time + envelopes): what consensus carries, with room for its own framing. */
export const subnetBlockPayloadBytesMax = consensusPayloadBytesMax
/** How far a proposed block time may be from the verifier's clock: a leader cannot push time far ahead (expiring every message and replay entry) or hold it back. */
export const subnetBlockTimeDriftMs = 30_000
/**
 * An idle leader waits at most this share of Δ for a first envelope before proposing an empty
 * block (it proposes as soon as one arrives). It must stay inside the 2Δ leader timeout, with a Δ
 * of margin, so an idle leader is never nullified. A whole Δ rather than half of it halved an idle
 * 4-node devnet's empty heights (2.2 → 1.2 per second) and its CPU (0.21–0.22 → 0.11–0.13 cores);
 * at 3 updates/s the p50 stayed 27–29 ms (the leader proposes when the first envelope comes) while
 * the CPU fell 0.36 → 0.22 cores.
 */
export const subnetProposeIdleWaitPercentOfDelta = 100
/** Outbox messages delivered per block: bounds the extra work a block inherits from earlier ones. */
export const subnetOutboxDeliverPerBlockMax = 1_000
/** Outbox messages queued in replicated state: beyond it new sends are dropped (and logged in the receipt's logs). */
export const subnetOutboxQueueMax = 100_000
/**
 * Expired replay-history ROWS removed per block. A row holds one block's executed requests (≤
 * subnetBlockIngressMax, 40 bytes each) and a block adds at most one, so pruning more than one
 * per block keeps up with any load and drains a backlog (a block time that jumps after a halt
 * expires many rows at once) at 15 rows per block net: 16 trie leaf deletes, and ≤ 32,000 ids
 * dropped from the in-memory index, bound a block's prune work. (Per-request rows needed 2,000 here.)
 */
export const subnetHistoryPrunePerBlockMax = 16
assert(subnetBlockIngressMax * 40 <= stateValueBytesMax, 'a block\'s replay-history row (40 bytes a request, node/subnet/system-state.ts) must fit one state value')
assert(subnetHistoryPrunePerBlockMax > 1, 'history pruning must outpace the one row a block adds')
/** Heights whose certification shares are buffered while they await quorum or the local commit. */
export const subnetCertifyHeightsMax = 256
assert(memberCertificateHeightsBurst >= subnetCertifyHeightsMax, 'a restarted member\'s first ask (up to subnetCertifyHeightsMax heights) is answered whole')
/**
 * Committed heights whose roots and encoded receipts stay in memory until certified, so that
 * certifying and answering the waiting clients read nothing back from the store (a big height's
 * receipts are ~150 KiB; a height is normally certified a few ms after its commit).
 */
export const subnetUncertifiedHeightsCachedMax = 32
/**
 * A height committed here and still uncertified when the height this many above it is certified
 * gets no shares any more (they reached this node while it was down or behind, and were dropped):
 * its certificate is asked from the members. Heights certify a few ms apart and nearly in order, so
 * a live height is not asked for; asking needlessly costs a few small frames.
 */
export const subnetCertifyOrphanLagHeights = 3
/**
 * How often a replica asks for one height's certificate: the request or its answers can be lost on a
 * link that broke while the replica was down (the first write on a dead stream fails), so a height
 * still uncertified subnetCertifyOrphanLagHeights certified heights after an ask is asked for again.
 */
export const subnetCertificateAsksMax = 5
/** Clients waiting (HTTP ?wait=1) for a result per subnet. */
export const subnetWaitersMax = 10_000
/** Finalized results remembered per subnet for GET /v1/ingress/:id and late waiters. */
export const subnetResultsMax = 20_000
/** Longest an HTTP client waits for a certified result before getting "pending". */
export const apiIngressWaitMs = 30_000
/** Largest code upload over HTTP: the largest component the runtime loads. */
export const apiCodeBytesMax = actorCodeBytesMax
/** One chunk of a PUT /v1/code/:cid upload: small enough that a slow link shows progress and a retry resends little. */
export const apiCodeChunkBytesMax = 1 * MiB
/** Chunked code uploads staged at once per node: a few clients deploying in parallel, not a disk-filling swarm. */
export const apiCodeUploadsMax = 8
/** Bytes reserved by all staged uploads (each reserves its declared total up front): two largest components. */
export const apiCodeStagedBytesMax = 2 * actorCodeBytesMax
/** A staged upload with no chunk for this long is dropped, freeing its reservation for others. */
export const apiCodeUploadIdleMs = 60_000
/** Actor records in one page of GET /v1/subnets/:id/actors: ~1 KiB each, so one answer stays near 1 MiB. */
export const apiActorsPageMax = 1_000
/** Longest a code fetch from one member may take (32 MiB over a slow link). */
export const subnetCodeFetchTimeoutMs = 60_000
/** Concurrent code-fetch streams per connection, each way. */
export const subnetCodeStreamsMax = 2
/**
 * Concurrent API-relay streams (/pylon/api-relay/1.0.0) per connection, each way. A node that is
 * not a member hands each client request for a subnet (a call, a query, a result) to a member on a
 * stream of its own, so this is how many requests one gateway may have in flight to one member;
 * past it the gateway tries the next member, then answers 502. It was 2 (the code-fetch bound) and
 * lost 5-10 % of calls at 16 in flight (npm run bench -- lifecycle).
 */
export const apiRelayStreamsMax = 32
/** A relayed request: one ingress envelope or one code-upload chunk (the largest bodies relayed) plus its method, path and query. */
export const apiRelayRequestBytesMax = Math.max(ingressBytesMax, apiCodeChunkBytesMax) + 4 * KiB
/** A relayed answer: a certified response carries a 1 MiB result as base64 plus its proof and certificate. */
export const apiRelayAnswerBytesMax = 4 * MiB
/** One relay exchange: the member may hold a call up to apiIngressWaitMs for its certified result. */
export const apiRelayTimeoutMs = apiIngressWaitMs + 15_000
/** A code-fetch request: { subnet, cid } as dag-cbor. */
export const subnetCodeRequestBytesMax = 512
/** Subnets one node serves at once: each has its own store, replica and mempool. */
export const subnetsServedMax = 64
/** Largest genesis.cbor read at start (a signed genesis is at most subnetRecordBytesMax). */
export const subnetGenesisFileBytesMax = subnetRecordBytesMax

assert(subnetBlockIngressMax * 64 <= subnetBlockPayloadBytesMax, 'a block can hold its envelope count of small envelopes')
assert(ingressBytesMax < subnetBlockPayloadBytesMax, 'a block can hold one full envelope')
assert(subnetOutboxDeliverPerBlockMax <= actorMessagesPerBlockMax, 'deliveries fit the executor bound')

// ── Placement and subnet formation (protocol/placement.ts, node/subnet-formation) ───────────────
/** Least memory a node must advertise to be placed in a subnet: a store, a replica and a few actor instances. */
export const placementMemoryBytesMinDefault = 256n * BigInt(MiB)
/** Least free disk a node must advertise to be placed: room for a subnet's LevelDB store and WAL to grow. */
export const placementDiskFreeBytesMinDefault = 1024n * BigInt(MiB)
/** Label constraints one placement request may carry: adverts have three labels, a few more keys are typos to report. */
export const placementLabelsMax = 8
/** A proposal or commit frame on /pylon/subnet-propose/1.0.0: one genesis record plus a small envelope. */
export const subnetProposalBytesMax = subnetRecordBytesMax + 1 * KiB
/** One proposal exchange with one member (dial, ask, read the answer): a member checks and signs in milliseconds. */
export const subnetProposalTimeoutMs = 10_000
/** A member commit exchange: includes starting the subnet's store and replica on the member. */
export const subnetCommitTimeoutMs = 20_000
/** Concurrent /pylon/subnet-propose/1.0.0 streams per connection and direction: a proposer asks once per subnet. */
export const subnetProposalStreamsMax = 2
/** How far a proposal's createdMs may lie from the member's clock: tolerates unsynchronized racks, refuses stale replays. */
export const subnetProposalClockSkewMs = 5 * 60_000
/** Signed-but-uncommitted proposals a node holds capacity for: bounds what a flood of proposals can reserve. */
export const subnetReservationsMax = 32
/** How long a signature reserves a subnet slot awaiting its commit; after it the slot is free again. */
export const subnetReservationTtlMs = 60_000
/** Subnets a node's directory knows (id → genesis): the whole network's subnets up to this size; the oldest learned are evicted. */
export const subnetDirectoryEntriesMax = 10_000
/** Geneses in one /pylon/subnets/1.0.0 answer: seeds a newcomer; more arrive over gossip and the DHT. */
export const subnetDirectoryExchangeMax = 256
/** One /pylon/subnets/1.0.0 answer frame: a 4-member genesis is ~1.5 KiB; the sender stops adding before this. */
export const subnetDirectoryExchangeBytesMax = 2 * MiB
/** A directory exchange or DHT lookup of one subnet must finish in this time. */
export const subnetDirectoryTimeoutMs = 10_000

assert(subnetsServedMax <= advertSubnetsMax, 'a node can advertise every subnet it serves (placement counts them against subnetsServedMax)')
assert(subnetProposalBytesMax <= gossipMessageBytesMax && subnetRecordBytesMax <= gossipMessageBytesMax, 'a signed genesis fits one gossip message')
assert(subnetDirectoryExchangeBytesMax >= subnetRecordBytesMax, 'one answer holds at least the largest genesis')
assert(subnetCommitTimeoutMs >= subnetProposalTimeoutMs, 'a commit does more than a proposal')

// ── Watch: streaming an actor's committed changes (node/watch, `pylon watch`) ─────────────────────
/** Open watch streams on one actor: a few dashboards and scripts; past this one actor cannot take every API connection. */
export const watchSubscribersPerActorMax = 16
/** Open watch streams on one node: each holds an API connection, so they stay well under apiConnectionsMax. */
export const watchSubscribersMax = 64
/** Event bytes a watcher may leave unsent before it is cut off: ~30 worst-case events; a slow client never holds up a commit. */
export const watchBufferedBytesMax = 1 * MiB
/** Changed keys one event lists (hex); the rest are counted in changedKeyCount, so one event stays ≤ ~32 KiB. */
export const watchEventKeysMax = 16
/** Largest frame a watch client may send: the stream is one-way, so anything but a control frame ends it. */
export const watchClientFrameBytesMax = 1 * KiB
/** A watcher that answers no ping within this time is dropped: a dead TCP peer otherwise holds its slot forever. */
export const watchPingIntervalMs = 30_000
/** How long `pylon watch` waits for the node to accept the WebSocket upgrade. */
export const watchConnectTimeoutMs = 10_000

assert(watchSubscribersMax < apiConnectionsMax / 2, 'watch streams leave most API connections to requests')
assert(watchSubscribersPerActorMax <= watchSubscribersMax, 'one actor cannot need more than the node allows')
assert(watchBufferedBytesMax >= watchEventKeysMax * 2 * actorKeyBytesMax * 4, 'the buffer holds several worst-case events')
assert(subnetProposeIdleWaitPercentOfDelta >= 0 && subnetProposeIdleWaitPercentOfDelta <= 100, 'an idle leader must propose a Δ before its own 2Δ leader timeout')
assert(apiCodeStagedBytesMax >= apiCodeBytesMax, 'one upload of the largest component fits the staging area')

// ── Messages between actors and subnets (protocol/xnet.ts, node/subnet, node/xnet) ──────────────
/** Timers (outbox.schedule) fired per block: a burst of due timers spreads over blocks instead of making one block huge. */
export const subnetTimersPerBlockMax = 1_000
/** Unacknowledged messages in one subnet's stream to another: past it a send is rejected at once, so a dead or unknown receiver cannot grow the sender's state without bound. */
export const xnetStreamMessagesMax = 10_000
/** Messages in one slice: one block's worth from one sender; more follow in later blocks. */
export const xnetSliceMessagesMax = 500
/** Bytes of one slice: one largest message (a 1 MiB reply and its proof) plus the genesis and certificate, with room for smaller ones. */
export const xnetSliceBytesMax = 2 * MiB
/** Slices one block carries: one per sending subnet, so a block stays a bounded amount of work. */
export const xnetSlicesPerBlockMax = 16
/** Acknowledged messages removed from a stream per block: pruning cost per block stays bounded. */
export const xnetAckPrunePerBlockMax = 5_000
/** How long a member holds a slice request waiting for news before answering with what it has. */
export const xnetLongPollMs = 10_000
/** How long a server waits for the certificate of the height it proved a slice at (certification follows a commit within milliseconds; a height may never get one after catch-up). */
export const xnetCertificateWaitMs = 5_000
/** Concurrent /pylon/xnet/1.0.0 streams per connection and direction: one long poll per (sending, receiving) subnet pair, a few pairs per node pair. */
export const xnetStreamsMax = 16
/** A slice exchange (dial, ask, wait, read) must finish in this time beyond the long poll itself. */
export const xnetRequestTimeoutMs = 30_000
/** Pause before asking another member after a failed slice request: a down member is not hammered. */
export const xnetRetryMs = 1_000
/** Other subnets one served subnet keeps a long poll open to: each poll holds a stream to one of their members. Past it, subnets the directory learns later are not polled (a push hint would lift this). */
export const xnetPolledSubnetsMax = 256
/** How often a served subnet looks for subnets to poll that the directory learned since: a new subnet is polled within seconds. */
export const xnetDirectoryScanMs = 2_000

assert(xnetSliceBytesMax >= stateProofBytesMax + subnetRecordBytesMax + 64 * KiB, 'a slice holds at least one largest message with its proof, the genesis and a certificate')
assert(xnetSliceMessagesMax <= subnetOutboxDeliverPerBlockMax, 'one slice is within a block\'s delivery bound')
/** Payload bytes a proposer gives to slices: at most half a block, so a busy stream never starves client envelopes. */
export const xnetBlockBytesMax = subnetBlockPayloadBytesMax / 2
assert(xnetSliceBytesMax <= xnetBlockBytesMax, 'one largest slice fits a block\'s share for slices')

// ── State sync (node/subnet/state-sync*.ts) ─────────────────────────────────────────────────────
/** Concurrent /pylon/state-sync/1.0.0 streams per connection and direction: a syncing member fetches one chunk at a time per peer. */
export const stateSyncStreamsMax = 8
/** One request frame (list, chunk or tip): a kind, a SubnetId and two integers. */
export const stateSyncRequestBytesMax = 1 * KiB
/** One listed checkpoint on the wire: its manifest plus the state certificate of its height. */
export const stateSyncCheckpointBytesMax = checkpointManifestBytesMax + subnetRecordBytesMax + 1 * KiB
/** Blocks in a tip proof (the checkpoint height's block up to the first one its finalization names): a longer gap is refused and another peer asked. */
export const stateSyncTipBlocksMax = 32
/** One tip proof frame: its blocks and one finalization, within one decodable message. */
export const stateSyncTipBytesMax = codecBytesMax
/** One request's round trip (dial, ask, read up to a 1 MiB chunk): a slow peer is dropped for the next one. */
export const stateSyncRequestTimeoutMs = 30_000
/** Chunks fetched ahead of the import (spread over the members offering them): overlaps network and disk; bounds memory to this many chunks. */
export const stateSyncChunksInFlightMax = 4
/** Bad answers (failed hash, garbage, timeout) before a peer is skipped for the rest of a sync attempt. */
export const stateSyncPeerFailuresMax = 3
/** Pause between sync attempts when no certified checkpoint ahead was found or every peer failed. */
export const stateSyncRetryMs = 2_000
/** Sync attempts before the subnet gives up and halts with an error (an operator must look). */
export const stateSyncAttemptsMax = 30
/** Smallest checkpoint interval a genesis may set: each checkpoint is a full state scan on every member. */
export const subnetCheckpointIntervalHeightsMin = 4
/** Smallest catch-up window a genesis may set: it must hold a checkpoint interval plus the heights made during a sync. */
export const subnetCatchUpBlocksMin = 16

assert(stateSyncTipBlocksMax <= consensusFetchItemsMax, 'a tip proof is no longer than one catch-up answer')
assert(stateSyncTipBytesMax >= consensusMessageBytesMax + 1 * KiB, 'a tip proof holds at least one largest block and its finalization')
assert(checkpointIntervalHeights < consensusBlocksMax, 'the newest checkpoint is always inside the catch-up window, so a synced replica catches up block by block')
assert(subnetCheckpointIntervalHeightsMin < subnetCatchUpBlocksMin && subnetCatchUpBlocksMin <= consensusBlocksMax, 'genesis bounds of the checkpoint interval and catch-up window are consistent')

// ── Ingress stream: many envelopes over one WebSocket (node/api/ingress-stream-routes.ts, IngressStream in node/cli/client.ts) ─
/** Open ingress streams on one node: each holds an API connection; with the watchers they leave most of apiConnectionsMax to plain requests. */
export const ingressStreamConnectionsMax = 32
/** Envelopes one stream may have unanswered: 1,024 keep a subnet busy at ~5,000/s with 200 ms to certify; past it the client broke the contract and is cut off (its client queues instead). */
export const ingressStreamInFlightMax = 1_024
/** Envelopes unanswered across all streams of a node: past it each new one is refused as `busy` (503) on its stream, so streams never take every subnet waiter from HTTP clients. */
export const ingressStreamInFlightNodeMax = 8_192
/** One client frame is one envelope, exactly what POST /v1/ingress takes: larger frames end the stream (1009). */
export const ingressStreamFrameBytesMax = ingressBytesMax
/** Answer bytes a stream may leave unsent before it is cut off: a client that does not read its answers never holds the node's memory. */
export const ingressStreamBufferedBytesMax = 16 * MiB
/** A stream that answers no ping within this time is dropped: a dead TCP peer otherwise holds its slot and its waits. */
export const ingressStreamPingIntervalMs = 30_000
/** How long a client waits for the node to accept the WebSocket upgrade. */
export const ingressStreamConnectTimeoutMs = 10_000
/** Largest answer frame a client takes: a certified response (a 1 MiB result, its proof and certificate) and the receipt beside it, with room. */
export const ingressStreamAnswerBytesMax = 2 * certifiedResponseBytesMax + 64 * KiB
/** Submissions a client holds while its stream has ingressStreamInFlightMax in flight: a caller that outruns the node gets refused, not a growing queue. */
export const ingressStreamClientQueueMax = 65_536

assert(ingressStreamConnectionsMax + watchSubscribersMax < apiConnectionsMax / 2, 'streams and watchers leave most API connections to requests')
assert(ingressStreamInFlightNodeMax < subnetWaitersMax, 'streams alone cannot take every waiter of a subnet')
assert(ingressStreamInFlightMax <= ingressStreamInFlightNodeMax, 'one stream can use its whole in-flight bound on an idle node')
assert(ingressStreamBufferedBytesMax >= 8 * certifiedResponseBytesMax, 'several worst-case answers fit before a slow reader is cut off')

// ── Equivocation evidence (protocol/consensus/evidence.ts, the store's evidence space, GET /v1/subnets/:id/evidence) ─
/** One encoded record: two votes and the subnet id come to ~370 B; larger bytes are refused as not evidence. */
export const evidenceBytesMax = 1 * KiB
/** Records a subnet's store keeps; beyond it the oldest views go first. An honest subnet has none; 1,024 keep a few members' misbehaviour over many views (~380 KiB). */
export const evidenceStoredMax = 1_024
/** Records one API answer (and `pylon subnet evidence`) lists: each is verified (two Ed25519 checks, ~0.2 ms) while the request waits. */
export const apiEvidencePageMax = 256

assert(consensusEvidenceMax <= evidenceStoredMax, 'the store keeps at least what the replica holds in memory')
assert(apiEvidencePageMax <= evidenceStoredMax, 'one page never asks for more than the store keeps')
