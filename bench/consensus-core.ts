// Consensus core benchmark: the pure Simplex step function driven by the deterministic simulator
// (4 replicas, no faults) — steps/s, finalized blocks/s, signatures verified and signed per block
// under three verification caches — beside a raw Ed25519 verify/sign rate on the same machine, so
// the share of time spent in crypto is visible. `npm run bench -- consensus-core [blocks]`.

import { sign as nodeSign, generateKeyPairSync } from 'node:crypto'
import { verifyEd25519 } from '../protocol/signature.ts'
import { runSimulation, type SimOptions } from '../test/sim/simulator.ts'

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

function rawEd25519 (minMs = 1_000): { verifyPerSecond: number, signPerSecond: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))
  const message = new Uint8Array(120)
  const signature = nodeSign(null, message, privateKey)
  let n = 0
  let start = performance.now()
  while (performance.now() - start < minMs) {
    for (let i = 0; i < 100; i++) verifyEd25519(raw, message, signature)
    n += 100
  }
  const verifyPerSecond = n / ((performance.now() - start) / 1000)
  n = 0
  start = performance.now()
  while (performance.now() - start < minMs) {
    for (let i = 0; i < 100; i++) nodeSign(null, message, privateKey)
    n += 100
  }
  return { verifyPerSecond, signPerSecond: n / ((performance.now() - start) / 1000) }
}

export default async function main (args: string[]): Promise<void> {
  const blocks = Number(args[0] ?? 300)
  const raw = rawEd25519()
  process.stdout.write(`raw Ed25519 on this machine: verify ${fmt(raw.verifyPerSecond)}/s (libsodium), sign ${fmt(raw.signPerSecond)}/s\n\n`)
  process.stdout.write('4 replicas, no faults, client kv load; one thread runs all replicas and the network\n')
  process.stdout.write('verification cache   wall s   steps/s   blocks/s   verified/block   signed/block   msgs/block   crypto share\n')
  for (const verification of ['none', 'per-replica', 'shared'] as const) {
    const options: SimOptions = { seed: 42, replicas: 4, calm: true, faultMs: 0, livenessMs: 600_000, progressBlocks: blocks, verification }
    const start = performance.now()
    const result = runSimulation(options)
    const seconds = (performance.now() - start) / 1000
    if (!result.ok) throw new Error(`bench run failed: ${result.error}`)
    const perBlock = (n: number): number => n / result.finalizedHeight
    const cryptoSeconds = result.cryptoMs / 1000
    process.stdout.write([
      verification.padEnd(19), fmt(seconds, 2).padStart(7), fmt(result.steps / seconds).padStart(9), fmt(result.finalizedHeight / seconds, 1).padStart(10),
      fmt(perBlock(result.signaturesVerified), 1).padStart(16), fmt(perBlock(result.signaturesSigned), 1).padStart(14),
      fmt(perBlock(result.messagesSent), 1).padStart(12), `${fmt(100 * cryptoSeconds / seconds)}%`.padStart(14)
    ].join('  ') + '\n')
  }
  process.stdout.write('\nverified/block and signed/block count all 4 replicas together; per replica divide by 4.\n')
  // The soak's own figure: faulty scenarios per second (drops, partitions, crashes, Byzantine).
  const start = performance.now()
  let steps = 0
  for (let seed = 1; seed <= 20; seed++) steps += runSimulation({ seed, replicas: seed % 5 === 0 ? 7 : 4 }).steps
  const seconds = (performance.now() - start) / 1000
  process.stdout.write(`faulty scenarios (seeds 1..20, default phases): ${fmt(20 / seconds, 1)} seeds/s, ${fmt(steps / seconds)} steps/s\n`)
}
