// Test harness for SubnetService: real genesis signed by real node keys, real client envelopes, the
// real counter actor, a store of choice, and a fake driver that walks propose → verify → finalize.

import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { rawCidOf } from '../../../../protocol/codec.ts'
import { blockHash, type Block, type Certificate } from '../../../../protocol/consensus/messages.ts'
import { actorIdOf, peerIdOfPublicKey, type ActorId, type NodeId, type Principal } from '../../../../protocol/ids.ts'
import { signIngress, type Ingress, type IngressContent } from '../../../../protocol/ingress.ts'
import { signerFromSeed, type Signer } from '../../../../protocol/signature.ts'
import { assembleGenesis, genesisOf, signGenesis, type Subnet } from '../../../../protocol/subnet.ts'
import { ManualClock, type Clock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { ActorLoader } from '../../../../node/runtime/loader.ts'
import type { Store } from '../../../../node/store/store.ts'
import { SubnetService, type SubnetTransport, type XnetSource } from '../../../../node/subnet/subnet-service.ts'
import { Registry } from 'prom-client'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { subnetRoutes, type SubnetDirectory } from '../../../../node/api/subnet-routes.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { err } from '../../../../protocol/result.ts'

const buildDir = fileURLToPath(new URL('../../../../contracts/build/', import.meta.url))
export const loader = new ActorLoader({ cacheDir: join(buildDir, '.transpiled'), logger: silentLogger })

export async function exampleCode (name: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(join(buildDir, `${name}.wasm`)))
  } catch {
    throw new Error(`contracts/build/${name}.wasm is missing: run npm run build:contracts`)
  }
}

export const newSigner = (): Signer => signerFromSeed(randomBytes(32), peerIdOfPublicKey)

/** A validated subnet of `n` fresh node keys, every member's signature included. */
export function makeSubnet (n: number, clock: ManualClock): { subnet: Subnet, nodes: Signer[] } {
  const nodes = Array.from({ length: n }, newSigner)
  const genesis = genesisOf({ name: 'test', members: nodes.map(s => ({ nodeId: s.id as NodeId })), createdMs: BigInt(clock.now()), params: { deltaMs: 100 } })
  const signatures = new Map(nodes.map(s => [s.id, signGenesis(genesis, s)]))
  const subnet = assembleGenesis(genesis, signatures)
  if (!subnet.ok) throw new Error(subnet.error)
  nodes.sort((a, b) => subnet.value.memberIds.indexOf(a.id as NodeId) - subnet.value.memberIds.indexOf(b.id as NodeId))
  return { subnet: subnet.value, nodes }
}

export interface Replica {
  service: SubnetService
  shares: Uint8Array[]
}

export function makeReplica (subnet: Subnet, signer: Signer, store: Store, clock: ManualClock, transport: Partial<SubnetTransport> = {}, xnet?: XnetSource): Replica {
  const shares: Uint8Array[] = []
  const service = new SubnetService(subnet, {
    store, loader, signer, clock, logger: silentLogger, ...(xnet === undefined ? {} : { xnet }),
    transport: { publishShare: async share => { shares.push(share) }, ...transport }
  }, { proposeIdleWaitMs: 0 })
  return { service, shares }
}

/**
 * What a node leaves in `store` before a restart: the only member of `subnet` installs counter-wat
 * (actor 1) at height 1, runs one `inc` at height 2, and stops. Returns that executed `inc`.
 */
export async function counterIncrementedOnce (subnet: Subnet, signer: Signer, store: Store, clock: ManualClock, client: Client): Promise<{ actor: ActorId, inc: Ingress }> {
  const actor = actorIdOf(subnet.id, 1n)
  const inc = client.update(actor)
  const { service } = makeReplica(subnet, signer, store, clock)
  await service.start()
  const code = await exampleCode('counter-wat')
  await service.putCode(code)
  service.submit(client.install(subnet, code).bytes)
  await runHeight(service, [service])
  service.submit(inc.bytes)
  await runHeight(service, [service])
  await service.stop()
  return { actor, inc }
}

/** Drives one height the way the consensus driver does: leader proposes, everyone verifies, then finalizes. */
export async function runHeight (leader: SubnetService, replicas: SubnetService[], options: { payload?: Uint8Array } = {}): Promise<Block> {
  const height = leader.store.height + 1n
  const tip = await leader.tip()
  const payload = options.payload ?? await leader.propose(tip.tip.hash, height, {})
  const block: Block = { subnet: leader.subnet.id, view: height, height, parent: tip.tip.hash, payload, proposer: leader.subnet.memberIds[0]! }
  for (const replica of replicas) {
    if (!await replica.verify(block, {})) throw new Error(`replica refused block ${height}`)
  }
  const certificate: Certificate = { kind: 'finalization', view: height, block: blockHash(block), signers: [0], signatures: [new Uint8Array(64)] }
  for (const replica of replicas) await replica.finalize(height, block, certificate)
  return block
}

export class Client {
  readonly signer = newSigner()
  readonly clock: Pick<Clock, 'now'>
  #nonce = 0
  constructor (clock: Pick<Clock, 'now'>) { this.clock = clock }
  get id (): Principal { return this.signer.id as Principal }

  sign (content: Record<string, unknown>): Ingress {
    return signIngress({ expiryMs: BigInt(this.clock.now() + 60_000), nonce: Uint8Array.of(this.#nonce++ & 0xff, this.#nonce >> 8), sender: this.id, ...content } as unknown as IngressContent, this.signer)
  }

  install (subnet: Subnet, code: Uint8Array, controllers: Principal[] = []): Ingress {
    return this.sign({ kind: 'install', subnet: subnet.id, code: rawCidOf(code), arg: new Uint8Array(0), name: 'counter', controllers })
  }

  update (actor: ActorId, method = 'inc', payload = new Uint8Array(0)): Ingress {
    return this.sign({ kind: 'update', actor, method, payload })
  }

  query (actor: ActorId, method = 'get'): Ingress {
    return this.sign({ kind: 'query', actor, method, payload: new Uint8Array(0) })
  }
}

export async function tempDir (): Promise<{ dir: string, remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-subnet-'))
  return { dir, remove: async () => { await rm(dir, { recursive: true, force: true }) } }
}

export const utf8 = (bytes: Uint8Array | null | undefined): string => new TextDecoder().decode(bytes ?? new Uint8Array(0))

/**
 * What every hand-written test actor needs after its imports and data: memory, a bump allocator
 * from 1024, $ok_empty (an ok result with no bytes at 16) and an init that succeeds.
 */
export const watBasics = `(memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get 3) (i32.const 8))))
    (local.get $ptr))
  (func $ok_empty (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.const 16))
  (func (export "init") (param i32 i32) (result i32) (call $ok_empty))`

/** A hand-written actor whose update sends its payload to the actor it names, method "inc" (outbox tests). */
export const relayWat = `(module
  (import "pylon:actor/outbox@0.1.0" "send" (func $send (param i32 i32 i32 i32 i32 i32)))
  (data (i32.const 32) "inc")
  ${watBasics}
  (func (export "update") (param $m i32) (param $mlen i32) (param $p i32) (param $plen i32) (result i32)
    (call $send (local.get $p) (local.get $plen) (i32.const 32) (i32.const 3) (i32.const 0) (i32.const 0))
    (call $ok_empty))
  (func (export "query") (param i32 i32 i32 i32) (result i32) (call $ok_empty)))`

/** A real HTTP API (loopback, free port) serving one replica of a one-member subnet, no relay; both stopped at teardown. */
export async function oneReplicaApi (t: { teardown: (fn: () => Promise<void>) => void }, clock: ManualClock): Promise<{ subnet: Subnet, service: SubnetService, url: string }> {
  const { subnet, nodes } = makeSubnet(1, clock)
  const { service } = makeReplica(subnet, nodes[0]!, await memoryStore(), clock)
  await service.start()
  t.teardown(async () => { await service.stop() })
  const { url } = await replicaApi(t, service, clock)
  return { subnet, service, url }
}

/**
 * A real HTTP API (loopback, free port) with the subnet routes over one started replica, no relay.
 * Stopped at teardown, before whatever the caller registered earlier (ava runs teardowns last first).
 */
export async function replicaApi (t: { teardown: (fn: () => Promise<void>) => void }, service: SubnetService, clock: ManualClock): Promise<{ url: string, directory: SubnetDirectory }> {
  const subnet = service.subnet
  const directory: SubnetDirectory = {
    list: () => [service],
    get: id => (id === subnet.id ? service : undefined),
    known: id => (id === subnet.id ? subnet : undefined),
    relay: async () => err('no relay in this test')
  }
  const api = new ApiServer({
    logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [],
    routes: subnetRoutes(directory, clock)
  }, { host: '127.0.0.1', port: 0 })
  await api.start()
  t.teardown(async () => { await api.stop() })
  return { url: api.url, directory }
}
