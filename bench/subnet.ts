// `npm run bench -- subnet [N]`: what one finalized block of N counter updates costs a replica, split
// into its phases (verify: decode + signature checks; finalize: select, preload, execute, one synced
// LevelDB commit, certification), against a real LevelDB store in a temp directory.

import { actorIdOf } from '../protocol/ids.ts'
import { openStore } from '../node/store/level-store.ts'
import { ManualClock } from '../node/core/clock.ts'
import { blockHash, type Block, type Certificate } from '../protocol/consensus/messages.ts'
import { Client, exampleCode, makeReplica, makeSubnet, runHeight, tempDir } from '../test/unit/node/subnet/_harness.ts'
import { encodePayload } from '../node/subnet/payload.ts'

export default async function main (args: string[]): Promise<void> {
  const n = Number(args[0] ?? 1000)
  const rounds = 5
  const { dir, remove } = await tempDir()
  try {
    const clock = new ManualClock(Date.now())
    const { subnet, nodes } = makeSubnet(1, clock)
    const store = await openStore(dir)
    const { service } = makeReplica(subnet, nodes[0]!, store, clock)
    await service.start()
    const code = await exampleCode('counter-wat')
    await service.putCode(code)
    const installer = new Client(clock)
    service.submit(installer.install(subnet, code).bytes)
    await runHeight(service, [service])
    const actor = actorIdOf(subnet.id, 1n)
    // Many principals, as real load has (one principal is rate-limited by the mempool anyway).
    const clients = Array.from({ length: 50 }, () => new Client(clock))
    const verifyMs: number[] = []
    const finalizeMs: number[] = []
    for (let r = 0; r < rounds; r++) {
      const envelopes = Array.from({ length: n }, (_, i) => clients[i % clients.length]!.update(actor).bytes)
      const height = store.height + 1n
      const tip = await service.tip()
      const block: Block = { subnet: subnet.id, view: height, height, parent: tip.tip.hash, payload: encodePayload({ timeMs: BigInt(clock.now()), ingress: envelopes, xnet: [] }), proposer: nodes[0]!.id }
      const certificate: Certificate = { kind: 'finalization', view: height, block: blockHash(block), signers: [0], signatures: [new Uint8Array(64)] }
      let t0 = performance.now()
      if (!await service.verify(block, {})) throw new Error('block refused')
      verifyMs.push(performance.now() - t0)
      t0 = performance.now()
      await service.finalize(height, block, certificate)
      finalizeMs.push(performance.now() - t0)
      clock.advance(1000)
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const v = median(verifyMs)
    const f = median(finalizeMs)
    process.stdout.write(`subnet block of ${n} counter updates, LevelDB, median of ${rounds}:\n`)
    process.stdout.write(`  verify    ${v.toFixed(1)} ms  (${(v * 1000 / n).toFixed(1)} µs/update)\n`)
    process.stdout.write(`  finalize  ${f.toFixed(1)} ms  (${(f * 1000 / n).toFixed(1)} µs/update; select + execute + synced commit + certify)\n`)
    process.stdout.write(`  => at most ${Math.round(n / ((v + f) / 1000))} updates/s per replica from execution alone (consensus latency not included)\n`)
    await service.stop()
    await store.close()
  } finally {
    await remove()
  }
}
