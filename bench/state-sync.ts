// State sync benchmark (`npm run bench -- state-sync [--mb N]`): the cost of making a checkpoint
// (what every member pays each K heights), and a member syncing it over real libp2p on loopback
// from three others into a fresh LevelDB store, beside importing the same chunks from the local
// store (no network): MB/s of each and their ratio. Real LevelDB in temp dirs, removed afterwards.

import { generateKeyPair } from '@libp2p/crypto/keys'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { encode } from '../protocol/codec.ts'
import { encodeCertificate, signCertification } from '../protocol/certification.ts'
import { certificateOf } from '../protocol/consensus/certificate.ts'
import { blockHash, domains, voteSigningValue, type Block } from '../protocol/consensus/messages.ts'
import { actorIdOf, peerIdOfPublicKey, type Height, type NodeId } from '../protocol/ids.ts'
import { signerFromSeed, type Signer } from '../protocol/signature.ts'
import { assembleGenesis, genesisOf, signGenesis, type Subnet } from '../protocol/subnet.ts'
import { silentLogger } from '../node/core/logger.ts'
import { encodeStoredBlock, encodeStoredCertificate, genesisHashOf } from '../node/consensus/application.ts'
import { Libp2pNet } from '../node/net/libp2p-net.ts'
import { openStore } from '../node/store/level-store.ts'
import type { Store } from '../node/store/store.ts'
import { handleStateSync } from '../node/subnet/state-sync-protocol.ts'
import { StateSync } from '../node/subnet/state-sync.ts'

const valueBytes = 1024
const writesPerHeight = 2000

export default async function run (args: string[]): Promise<void> {
  const mbIndex = args.indexOf('--mb')
  const mb = mbIndex >= 0 ? Number(args[mbIndex + 1]) : 32
  if (!Number.isInteger(mb) || mb < 1 || mb > 4096) throw new Error(`--mb must be an integer 1..4096, got ${args[mbIndex + 1]}`)
  const dirs: string[] = []
  const nets: Libp2pNet[] = []
  try {
    const hosts = await Promise.all([0, 1, 2, 3].map(async () => {
      const privateKey = await generateKeyPair('Ed25519')
      const net = new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, { privateKey, network: 'local', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, agentVersion: 'pylon-bench' })
      nets.push(net)
      return { net, signer: signerFromSeed(privateKey.raw.subarray(0, 32), peerIdOfPublicKey) }
    }))
    const genesis = genesisOf({ name: 'bench', members: hosts.map(h => ({ nodeId: h.signer.id as NodeId })), createdMs: 1n, params: { deltaMs: 100 } })
    const assembled = assembleGenesis(genesis, new Map(hosts.map(h => [h.signer.id, signGenesis(genesis, h.signer)])))
    if (!assembled.ok) throw new Error(assembled.error)
    const subnet = assembled.value
    hosts.sort((a, b) => subnet.memberIds.indexOf(a.signer.id as NodeId) - subnet.memberIds.indexOf(b.signer.id as NodeId))
    const keys = hosts.map(h => h.signer)

    const source = await openStore(dirs[dirs.push(await mkdtemp(join(tmpdir(), 'pylon-bench-sync-'))) - 1]!, { checkpointIntervalHeights: 0 })
    const entries = Math.ceil(mb * 1024 * 1024 / valueBytes)
    const built = performance.now()
    await fill(source, subnet, keys, entries)
    const fillSeconds = (performance.now() - built) / 1000
    const made = performance.now()
    const manifest = await source.checkpoint()
    const checkpointSeconds = (performance.now() - made) / 1000
    const bytes = manifest.chunks.reduce((sum, c) => sum + c.bytes, 0)

    for (const h of hosts) await h.net.start()
    for (const h of hosts.slice(0, 3)) handleStateSync(h.net, { logger: silentLogger, lookup: id => id === subnet.id ? { subnet, store: source } : undefined })
    for (const h of hosts) for (const other of hosts) if (other !== h) h.net.addPeerAddresses(other.net.nodeId, other.net.multiaddrs())

    const target = await openStore(dirs[dirs.push(await mkdtemp(join(tmpdir(), 'pylon-bench-sync-'))) - 1]!, { checkpointIntervalHeights: 0 })
    const sync = new StateSync(subnet, hosts[3]!.net.nodeId, { net: hosts[3]!.net, logger: silentLogger })
    const synced = await sync.syncInto(target)

    const local = await openStore(dirs[dirs.push(await mkdtemp(join(tmpdir(), 'pylon-bench-sync-'))) - 1]!, { checkpointIntervalHeights: 0 })
    const importStarted = performance.now()
    await local.importCheckpoint(manifest, { chunk: async i => (await source.checkpointChunk(manifest.height, i))! })
    const importSeconds = (performance.now() - importStarted) / 1000
    if (!Buffer.from(target.stateRoot).equals(source.stateRoot) || !Buffer.from(local.stateRoot).equals(source.stateRoot)) throw new Error('roots differ after sync')

    const mib = bytes / 1024 / 1024
    const lines = [
      `state: ${entries} entries of ${valueBytes} B, checkpoint ${mib.toFixed(1)} MiB in ${manifest.chunks.length} chunks (filled in ${fillSeconds.toFixed(1)} s)`,
      `checkpoint make (each K heights, on every member): ${checkpointSeconds.toFixed(2)} s, ${(mib / checkpointSeconds).toFixed(1)} MiB/s`,
      `local import (no network):                        ${importSeconds.toFixed(2)} s, ${(mib / importSeconds).toFixed(1)} MiB/s`,
      `state sync over libp2p from 3 members:            ${synced.seconds.toFixed(2)} s, ${(mib / synced.seconds).toFixed(1)} MiB/s (list, tip proof, ${synced.chunks} chunks, import)`,
      `sync / local import time ratio: ${(synced.seconds / importSeconds).toFixed(2)}`
    ]
    process.stdout.write(lines.join('\n') + '\n')
    await Promise.all([source.close(), target.close(), local.close()])
  } finally {
    for (const net of nets) await net.stop().catch(() => {})
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  }
}

/** Heights of writesPerHeight writes each, with blocks, finalizations and a certified last height. */
async function fill (store: Store, subnet: Subnet, keys: Signer[], entries: number): Promise<void> {
  const actor = actorIdOf(subnet.id, 1n)
  let parent = genesisHashOf(subnet)
  const heights = Math.ceil(entries / writesPerHeight)
  for (let h = 1; h <= heights; h++) {
    const block: Block = { subnet: subnet.id, view: BigInt(h), height: BigInt(h), parent, payload: encode({ h }), proposer: subnet.memberIds[0]! }
    const hash = blockHash(block)
    const votes = new Map(keys.slice(0, subnet.quorum).map((k, i) => [i, k.sign(domains.finalize, voteSigningValue(subnet.id, 'finalize', block.view, hash))]))
    const count = Math.min(writesPerHeight, entries - (h - 1) * writesPerHeight)
    const writes = Array.from({ length: count }, (_, i) => ({ actor, key: new TextEncoder().encode(`key-${(h - 1) * writesPerHeight + i}`), value: new Uint8Array(valueBytes).fill((h + i) & 0xff) }))
    const commit = await store.commitHeight({ height: BigInt(h) as Height, block: encodeStoredBlock(block), certificate: encodeStoredCertificate(certificateOf('finalization', block.view, hash, votes)), writes, receipts: [] })
    if (h === heights) {
      const state = { subnet: subnet.id, height: BigInt(h) as Height, stateRoot: commit.stateRoot, receiptsRoot: commit.receiptsRoot }
      await store.putCertification(state.height, encodeCertificate({ state, signers: keys.slice(0, subnet.quorum).map((_, i) => i), signatures: keys.slice(0, subnet.quorum).map(k => signCertification(state, k)) }))
    }
    parent = hash
  }
}
