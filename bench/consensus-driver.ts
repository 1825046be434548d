// `npm run bench -- consensus-driver [--seconds S]`: four ConsensusDrivers in one process on four
// real libp2p hosts (TCP+Noise+Yamux on loopback), empty payloads. Finalized heights/s with LevelDB
// stores (fsyncs) beside in-memory stores (no fsync), and beside in-process streams (no libp2p),
// with the time spent in WAL syncs, commits and signatures and the process's CPU per height: where a
// height's time goes.

import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { encode, sha256Bytes } from '../protocol/codec.ts'
import { domains } from '../protocol/consensus/messages.ts'
import { peerIdOfPublicKey } from '../protocol/ids.ts'
import { signerFromSeed, verifySignature, type Signer } from '../protocol/signature.ts'
import { type Block, type Certificate, type ConsensusApplication, encodeStoredBlock, encodeStoredCertificate, genesisHashOf, tipFromStore } from '../node/consensus/application.ts'
import { ConsensusDriver } from '../node/consensus/consensus-driver.ts'
import type { ConsensusMetrics } from '../node/consensus/consensus-metrics.ts'
import { systemClock } from '../node/core/clock.ts'
import { silentLogger } from '../node/core/logger.ts'
import { Libp2pNet } from '../node/net/libp2p-net.ts'
import type { Net } from '../node/net/net.ts'
import { FakeNet, FakeNetwork } from '../test/helpers/fake-net.ts'
import { openStore } from '../node/store/level-store.ts'
import { memoryStore } from '../node/store/memory-store.ts'
import type { Store } from '../node/store/store.ts'
import type { Height } from '../protocol/ids.ts'
import { assembleGenesis, genesisOf, signGenesis, type Subnet } from '../protocol/subnet.ts'

const deltaMs = 200

class EmptyApplication implements ConsensusApplication {
  readonly store: Store
  readonly genesisHash: Uint8Array
  finalizeMs = 0
  constructor (store: Store, subnet: Subnet) { this.store = store; this.genesisHash = genesisHashOf(subnet) }
  async propose (): Promise<Uint8Array> { return new Uint8Array(0) }
  async verify (): Promise<boolean> { return true }
  async finalize (height: bigint, block: Block, certificate: Certificate): Promise<void> {
    const started = performance.now()
    await this.store.commitHeight({ height: height as Height, block: encodeStoredBlock(block), certificate: encodeStoredCertificate(certificate), writes: [], receipts: [] })
    this.finalizeMs += performance.now() - started
  }
  async tip () { return await tipFromStore(this.store, this.genesisHash) }
}

class WalTimer implements ConsensusMetrics {
  syncs = 0
  seconds = 0
  refused () {}
  dropped () {}
  finalized () {}
  evidence () {}
  walSynced (_subnet: string, seconds: number): void { this.syncs++; this.seconds += seconds }
}

interface Run { heights: number, seconds: number, walSyncMs: number, walSyncs: number, finalizeMs: number, views: number, signMs: number, signs: number, verifyCalls: number, cpuMs: number }

async function run (kind: 'leveldb' | 'memory', seconds: number, transport: 'libp2p' | 'in-process'): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-bench-driver-'))
  const hosts = await Promise.all([0, 1, 2, 3].map(async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const raw = signerFromSeed(privateKey.raw.subarray(0, 32), peerIdOfPublicKey)
    const net = new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, { privateKey, network: 'local', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, agentVersion: 'pylon-bench' })
    return { raw, net }
  }))
  const timing = { signMs: 0, signs: 0 }
  const signers: Signer[] = hosts.map(h => ({
    publicKey: h.raw.publicKey,
    id: h.raw.id,
    sign: (domain, value) => {
      const started = performance.now()
      const signature = h.raw.sign(domain, value)
      timing.signMs += performance.now() - started
      timing.signs++
      return signature
    }
  }))
  for (const h of hosts) await h.net.start()
  const network = new FakeNetwork()
  const nets: Net[] = hosts.map(h => transport === 'libp2p' ? h.net : new FakeNet(h.net.nodeId, network))
  const addrs = new Map(hosts.map(h => [h.net.nodeId as string, h.net.multiaddrs()]))
  const genesis = genesisOf({ name: 'bench', members: hosts.map(h => ({ nodeId: h.net.nodeId, multiaddrs: addrs.get(h.net.nodeId)! })), createdMs: 1n, params: { deltaMs } })
  const subnet = assembleGenesis(genesis, new Map(hosts.map(h => [h.raw.id, signGenesis(genesis, h.raw)])))
  if (!subnet.ok) throw new Error(subnet.error)
  const wal = new WalTimer()
  const nodes = await Promise.all(hosts.map(async (h, i) => {
    const store = kind === 'leveldb' ? await openStore(join(dir, `n${i}`), { checkpointIntervalHeights: 0 }) : await memoryStore({ checkpointIntervalHeights: 0 })
    const app = new EmptyApplication(store, subnet.value)
    const driver = new ConsensusDriver({ net: nets[i]!, store, clock: systemClock, logger: silentLogger, signer: signers[i]!, application: app, metrics: wal }, { subnet: subnet.value })
    return { driver, store, app }
  }))
  for (const n of nodes) await n.driver.start()
  // Warm up until every node finalized a height (connections dialled), then measure.
  for (let i = 0; i < 1000 && nodes.some(n => n.store.height < 2n); i++) await new Promise(resolve => setTimeout(resolve, 10))
  const startHeight = Number(nodes[0]!.store.height)
  const startView = nodes[0]!.driver.status().view
  const walStart = { syncs: wal.syncs, seconds: wal.seconds }
  const signStart = { ...timing }
  const finalizeStart = nodes.reduce((a, n) => a + n.app.finalizeMs, 0)
  const started = performance.now()
  const cpuStart = process.cpuUsage()
  await new Promise(resolve => setTimeout(resolve, seconds * 1000))
  const elapsed = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuStart)
  const result: Run = {
    heights: Number(nodes[0]!.store.height) - startHeight,
    seconds: elapsed,
    walSyncMs: (wal.seconds - walStart.seconds) * 1000,
    walSyncs: wal.syncs - walStart.syncs,
    finalizeMs: nodes.reduce((a, n) => a + n.app.finalizeMs, 0) - finalizeStart,
    views: Number(nodes[0]!.driver.status().view - startView),
    signMs: timing.signMs - signStart.signMs,
    signs: timing.signs - signStart.signs,
    verifyCalls: 0,
    cpuMs: (cpu.user + cpu.system) / 1000
  }
  for (const n of nodes) await n.driver.stop()
  for (const h of hosts) await h.net.stop()
  for (const n of nodes) await n.store.close()
  rmSync(dir, { recursive: true, force: true })
  return result
}

/** Frames/s from one host to another: all on one long-lived stream, or a new stream per frame. */
async function streamCost (): Promise<{ longLived: number, perMessage: number, failed: number }> {
  const host = async (): Promise<Libp2pNet> => new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, { privateKey: await generateKeyPair('Ed25519'), network: 'local', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, agentVersion: 'pylon-bench' })
  const a = await host()
  const b = await host()
  let got = 0
  b.handle('/pylon/bench-frames/1', async stream => {
    const lp = lpStream(stream)
    try { for (;;) { await lp.read(); got++ } } catch {}
  }, { inboundStreamsMax: 64, outboundStreamsMax: 64 })
  await a.start()
  await b.start()
  a.addPeerAddresses(b.nodeId, b.multiaddrs())
  const frame = new Uint8Array(150) // about one vote
  const until = async (n: number): Promise<void> => { for (let i = 0; got < n && i < 100_000; i++) await new Promise(resolve => setImmediate(resolve)) }
  const warm = await a.dial(b.nodeId, '/pylon/bench-frames/1')
  await lpStream(warm).write(frame)
  await until(1)
  got = 0
  let started = performance.now()
  const lp = lpStream(await a.dial(b.nodeId, '/pylon/bench-frames/1'))
  for (let i = 0; i < 2000; i++) await lp.write(frame)
  await until(2000)
  const longLived = 2000 / ((performance.now() - started) / 1000)
  got = 0
  started = performance.now()
  let failed = 0
  for (let i = 0; i < 300; i++) {
    try {
      const stream = await a.dial(b.nodeId, '/pylon/bench-frames/1')
      await lpStream(stream).write(frame)
      await stream.close()
    } catch {
      failed++ // e.g. the receiver's per-protocol inbound stream limit: one more cost of this pattern
    }
  }
  await until(300 - failed)
  const perMessage = (300 - failed) / ((performance.now() - started) / 1000)
  await a.stop()
  await b.stop()
  return { longLived, perMessage, failed }
}

function verifyCost (): number {
  const signer = signerFromSeed(sha256Bytes(encode(['bench'])), peerIdOfPublicKey)
  const value = ['subnet', 1n, new Uint8Array(32)]
  const signature = signer.sign(domains.notarize, value)
  const n = 2000
  const started = performance.now()
  for (let i = 0; i < n; i++) verifySignature(signer.publicKey, domains.notarize, value, signature)
  return (performance.now() - started) / n
}

export default async function consensusDriverBench (args: string[]): Promise<void> {
  const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 5) || 5
  const lines: string[] = [`4 ConsensusDrivers in one process, libp2p TCP loopback, empty payloads, Δ = ${deltaMs} ms, ${seconds} s each`]
  for (const [kind, transport] of [['leveldb', 'libp2p'], ['memory', 'libp2p'], ['memory', 'in-process']] as const) {
    const r = await run(kind, seconds, transport)
    const perHeight = (ms: number): string => (r.heights > 0 ? ms / r.heights : NaN).toFixed(2)
    lines.push(`${kind.padEnd(8)} ${transport.padEnd(10)} ${(r.heights / r.seconds).toFixed(1)} heights/s (${r.heights} heights, ${r.views} views)` +
      ` | per height, summed over 4 nodes: WAL ${perHeight(r.walSyncMs)} ms in ${(r.walSyncs / Math.max(1, r.heights)).toFixed(1)} appends,` +
      ` commit ${perHeight(r.finalizeMs)} ms, signing ${perHeight(r.signMs)} ms in ${(r.signs / Math.max(1, r.heights)).toFixed(1)} signatures;` +
      ` this process's CPU ${perHeight(r.cpuMs)} ms per height (${(r.cpuMs / 1000 / r.seconds).toFixed(2)} cores)`)
    process.stdout.write(lines.at(-1)! + '\n')
  }
  const streams = await streamCost()
  lines.push(`frames of 150 B between two hosts: ${Math.round(streams.longLived)}/s on one long-lived stream, ${Math.round(streams.perMessage)}/s with a stream per frame (${streams.failed} of 300 refused; the driver keeps one stream per member)`)
  process.stdout.write(lines.at(-1)! + '\n')
  lines.push(`ed25519 verify: ${verifyCost().toFixed(3)} ms each (each height verifies ~3 notarize + 3 finalize votes per node)`)
  process.stdout.write(lines.at(-1)! + '\n')
}

