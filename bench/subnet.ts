// `npm run bench -- subnet [N] [--heights H] [--sizes 0,1,10] [--base DIR]`: what a finalized block costs a replica,
// against real LevelDB stores in a temp directory. Two parts:
//  1. one replica, a block of N counter updates, split into its phases (verify: decode + signature
//     checks; finalize: select, preload, execute, one synced commit, certification);
//  2. per height: four replicas of one subnet in this process, each with its own LevelDB store,
//     shares passed between them as the member channel would (every share to every other member,
//     on a later macrotask), a client waiting on every update's certified answer. The leader rotates;
//     it proposes, the other three verify, all four finalize and certify. The figure is the process
//     CPU (process.cpuUsage: every thread, LevelDB's included) per height and per replica, for blocks
//     of 0, 1 and 10 updates: the per-height cost the consensus driver does not see.
// With --base DIR (a checkout of another commit with node_modules and contracts/build linked in),
// part 2 runs that tree's code too, alternating rounds in this one process, and prints both.

import { actorIdOf, type NodeId } from '../protocol/ids.ts'
import { ManualClock } from '../node/core/clock.ts'
import { blockHash, type Block, type Certificate } from '../protocol/consensus/messages.ts'
import * as harness from '../test/unit/node/subnet/_harness.ts'
import * as levelStore from '../node/store/level-store.ts'
import { encodePayload } from '../node/subnet/payload.ts'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { countVerifications } from '../test/helpers/verify-counter.ts'

type Harness = typeof harness
interface Impl { name: string, harness: Harness, openStore: typeof levelStore.openStore }

export default async function main (args: string[]): Promise<void> {
  const flag = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined }
  const positional = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'))
  const n = Number(positional[0] ?? 1000)
  const heights = Number(flag('--heights') ?? 60)
  const baseDir = flag('--base')
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(heights) || heights < 0) throw new Error(`usage: subnet [N >= 1] [--heights H >= 0 (0: part 1 only)] [--sizes 0,1,10 (part 2 only)] [--base DIR], got N=${positional[0]} H=${flag('--heights')}`)
  const sizes = (flag('--sizes') ?? '0,1,10').split(',').map(Number)
  if (sizes.some(s => !Number.isInteger(s) || s < 0)) throw new Error(`--sizes must be a comma-separated list of block sizes >= 0, got ${flag('--sizes')}`)
  if (flag('--sizes') === undefined) await perUpdate(n)
  const impls: Impl[] = [{ name: 'this tree', harness, openStore: levelStore.openStore }]
  if (baseDir !== undefined) {
    const root = pathToFileURL(resolve(baseDir) + '/').href
    impls.push({
      name: `base (${baseDir})`,
      harness: await import(new URL('test/unit/node/subnet/_harness.ts', root).href) as Harness,
      openStore: (await import(new URL('node/store/level-store.ts', root).href) as typeof levelStore).openStore
    })
  }
  if (heights > 0) await perHeight(impls, heights, sizes)
}

async function perUpdate (n: number): Promise<void> {
  const { Client, exampleCode, makeReplica, makeSubnet, runHeight, tempDir } = harness
  // Small blocks are cheap: more rounds make their medians steadier on a shared box.
  const rounds = n <= 100 ? 15 : 5
  const { dir, remove } = await tempDir()
  try {
    const clock = new ManualClock(Date.now())
    const { subnet, nodes } = makeSubnet(1, clock)
    const store = await levelStore.openStore(dir)
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
    const finalizeCpuMs: number[] = []
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
      const cpu = process.cpuUsage()
      await service.finalize(height, block, certificate)
      finalizeMs.push(performance.now() - t0)
      const used = process.cpuUsage(cpu)
      finalizeCpuMs.push((used.user + used.system) / 1000)
      clock.advance(1000)
    }
    const v = median(verifyMs)
    const f = median(finalizeMs)
    process.stdout.write(`subnet block of ${n} counter updates, one replica, LevelDB, median of ${rounds}:\n`)
    process.stdout.write(`  verify    ${v.toFixed(1)} ms  (${(v * 1000 / n).toFixed(1)} µs/update)\n`)
    process.stdout.write(`  finalize  ${f.toFixed(1)} ms  (${(f * 1000 / n).toFixed(1)} µs/update; select + execute + synced commit + certify)\n`)
    process.stdout.write(`  finalize  ${median(finalizeCpuMs).toFixed(2)} ms of CPU (process.cpuUsage: LevelDB's threads and the fsyncs' kernel time included)\n`)
    process.stdout.write(`  => at most ${Math.round(n / ((v + f) / 1000))} updates/s per replica from execution alone (consensus latency not included)\n`)
    await service.stop()
    await store.close()
  } finally {
    await remove()
  }
}

/** Part 2: rounds of `heights` heights per block size, alternating between the trees given. */
async function perHeight (impls: Impl[], heights: number, sizes: number[]): Promise<void> {
  const rounds = 3
  const cpu = new Map<string, number[]>() // `${impl}/${size}` → CPU ms per height per replica, one per round
  const wall = new Map<string, number[]>()
  const checks = new Map<string, number[]>()
  for (let r = 0; r < rounds; r++) {
    for (const size of sizes) {
      // Alternate which tree goes first, so a drift in the box's load does not favour one.
      const order = r % 2 === 0 ? impls : [...impls].reverse()
      for (const impl of order) {
        const m = await fourReplicas(impl, size, heights)
        const key = `${impl.name}/${size}`
        cpu.set(key, [...cpu.get(key) ?? [], m.cpuMs])
        wall.set(key, [...wall.get(key) ?? [], m.wallMs])
        checks.set(key, [...checks.get(key) ?? [], m.verifies])
      }
    }
  }
  process.stdout.write(`\nper height, 4 replicas in one process (LevelDB each), ${heights} heights a round, median of ${rounds} rounds:\n`)
  process.stdout.write(`  CPU ms per height per replica [Ed25519 verifications per height per replica] (wall ms per height for the four)\n`)
  process.stdout.write(`  ${'updates/block'.padEnd(14)}${impls.map(i => i.name.padEnd(32)).join('')}\n`)
  for (const size of sizes) {
    const cells = impls.map(i => `${median(cpu.get(`${i.name}/${size}`)!).toFixed(2)} [${median(checks.get(`${i.name}/${size}`)!).toFixed(2)}] (${median(wall.get(`${i.name}/${size}`)!).toFixed(1)})`.padEnd(32))
    process.stdout.write(`  ${String(size).padEnd(14)}${cells.join('')}\n`)
  }
}

/**
 * One round: a fresh 4-member subnet, counter-wat installed, then `heights` heights of `size`
 * updates each, every update submitted (already verified, as the API hands it) to all four pools.
 */
async function fourReplicas (impl: Impl, size: number, heights: number): Promise<{ cpuMs: number, wallMs: number, verifies: number }> {
  const { Client, exampleCode, makeReplica, makeSubnet, tempDir } = impl.harness
  const { dir, remove } = await tempDir()
  const clock = new ManualClock(Date.now())
  const { subnet, nodes } = makeSubnet(4, clock)
  const stores: Array<Awaited<ReturnType<Impl['openStore']>>> = []
  const replicas: Array<ReturnType<Harness['makeReplica']>> = []
  try {
    for (const [i, node] of nodes.entries()) {
      const store = await impl.openStore(join(dir, `r${i}`))
      stores.push(store)
      const self = i
      replicas.push(makeReplica(subnet, node, store, clock, {
        publishShare: async share => {
          // As the member channel delivers them (receiveMemberShare; a tree without it: receiveShare).
          for (const [j, other] of replicas.entries()) {
            if (j === self) continue
            const service = other.service as Service & { receiveMemberShare?: (bytes: Uint8Array) => Promise<boolean> }
            setImmediate(() => { void (service.receiveMemberShare ?? service.receiveShare).call(service, share) })
          }
        }
      }))
    }
    for (const { service } of replicas) await service.start()
    const code = await exampleCode('counter-wat')
    for (const { service } of replicas) await service.putCode(code)
    const installer = new Client(clock)
    const install = installer.install(subnet, code)
    for (const { service } of replicas) service.submitVerified(install)
    let parent = (await replicas[0]!.service.tip()).tip.hash
    parent = await height(replicas.map(r => r.service), 1n, [], parent)
    const actor = actorIdOf(subnet.id, 1n)
    const clients = Array.from({ length: 50 }, () => new Client(clock))
    let cpuUs = 0
    let wallMs = 0
    let verifies = 0
    for (let h = 2n; h < BigInt(heights) + 2n; h++) {
      clock.advance(10)
      const updates = Array.from({ length: size }, (_, i) => clients[(Number(h) * size + i) % clients.length]!.update(actor))
      const counter = countVerifications()
      const started = process.cpuUsage()
      const t0 = performance.now()
      try {
        parent = await height(replicas.map(r => r.service), h, updates, parent)
      } finally {
        counter.restore()
      }
      wallMs += performance.now() - t0
      const used = process.cpuUsage(started)
      cpuUs += used.user + used.system
      verifies += counter.count
    }
    return { cpuMs: cpuUs / 1000 / heights / replicas.length, wallMs: wallMs / heights, verifies: verifies / heights / replicas.length }
  } finally {
    for (const { service } of replicas) await service.stop()
    for (const store of stores) await store.close()
    await remove()
  }
}

type Service = ReturnType<Harness['makeReplica']>['service']

/**
 * One height as the driver and the API run it: updates reach every pool, each is awaited by a
 * client on one replica, the leader (rotating) proposes, the others verify, all finalize; done once
 * every client has its certified answer and every replica has certified the height. Returns the
 * block's hash (the next height's parent; the driver keeps it in memory, it does not ask tip()).
 */
async function height (services: Service[], h: bigint, updates: Array<ReturnType<harness.Client['update']>>, parent: Uint8Array): Promise<Uint8Array> {
  for (const service of services) for (const u of updates) service.submitVerified(u)
  const answers = updates.map(async (u, i) => await services[i % services.length]!.wait(u.id, 60_000))
  const leader = services[Number(h) % services.length]!
  if (leader.store.height + 1n !== h) throw new Error(`leader at ${leader.store.height}, expected ${h - 1n}`)
  const payload = await leader.propose(parent, h, {})
  const block: Block = { subnet: leader.subnet.id, view: h, height: h, parent, payload, proposer: leader.subnet.memberIds[Number(h) % services.length] as NodeId }
  for (const service of services) if (service !== leader && !await service.verify(block, {})) throw new Error(`a replica refused block ${h}`)
  const certificate: Certificate = { kind: 'finalization', view: h, block: blockHash(block), signers: [0, 1, 2], signatures: [new Uint8Array(64), new Uint8Array(64), new Uint8Array(64)] }
  await Promise.all(services.map(async service => { await service.finalize(h, block, certificate) }))
  for (const answer of await Promise.all(answers)) if (answer?.status !== 'certified') throw new Error(`an update of height ${h} was not certified: ${answer?.status}`)
  for (let spins = 0; services.some(s => s.info().certifiedHeight < h); spins++) {
    if (spins > 10_000) throw new Error(`height ${h} not certified by every replica`)
    await new Promise(resolve => setTimeout(resolve, 0))
  }
  return blockHash(block)
}

function median (xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
}
