// Shared by the runtime and contract tests: the prebuilt example actors (npm test runs
// build:contracts first), one loader over the shared transpile cache, and small helpers.

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { actorIdOf, height, parseSubnetId, type ActorId } from '../../../../protocol/ids.ts'
import type { ActorMessage, BlockContext } from '../../../../protocol/receipt.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { ActorLoader, type CompiledActor } from '../../../../node/runtime/loader.ts'
import type { ExecutionState } from '../../../../node/runtime/executor.ts'
import { MemoryState } from '../../../../node/runtime/state-view.ts'

const buildDir = fileURLToPath(new URL('../../../../contracts/build/', import.meta.url))
export const loader = new ActorLoader({ cacheDir: join(buildDir, '.transpiled'), logger: silentLogger })

const subnet = parseSubnetId('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
if (!subnet.ok) throw new Error(subnet.error)
export const actorA: ActorId = actorIdOf(subnet.value, 1n)
export const actorB: ActorId = actorIdOf(subnet.value, 2n)

/** A built example's bytes; fails clearly when build:contracts has not run. */
export async function exampleCode (name: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(join(buildDir, `${name}.wasm`)))
  } catch {
    throw new Error(`contracts/build/${name}.wasm is missing: run npm run build:contracts`)
  }
}

export async function loadExample (name: string): Promise<CompiledActor> {
  return await loadCode(await exampleCode(name))
}

export async function loadCode (code: Uint8Array, into: ActorLoader = loader): Promise<CompiledActor> {
  const loaded = await into.load(code)
  if (!loaded.ok) throw new Error(loaded.error)
  return loaded.value
}

/** An execution state with the given actors installed over `storage`. */
export function stateWith (actors: Record<string, CompiledActor>, storage = new MemoryState()): ExecutionState & { storage: MemoryState } {
  return { storage, code: actor => actors[actor] }
}

export function blockAt (h: number, seed = 7): BlockContext {
  return { height: height(h), timeNs: 1_700_000_000_000_000_000n + BigInt(h) * 1_000_000_000n, seed: new Uint8Array(32).fill(seed) }
}

const encoder = new TextEncoder()
export const text = (s: string): Uint8Array => encoder.encode(s)
export const json = (v: unknown): Uint8Array => encoder.encode(JSON.stringify(v))
export const utf8 = (b: Uint8Array | null): string => new TextDecoder().decode(b ?? new Uint8Array(0))

export function update (actor: ActorId, method: string, payload: Uint8Array = new Uint8Array(0), caller = 'alice'): ActorMessage {
  return { kind: 'update', actor, caller, method, payload, requestId: null }
}

export function init (actor: ActorId, arg: Uint8Array = new Uint8Array(0)): ActorMessage {
  return { kind: 'init', actor, caller: '', method: '', payload: arg, requestId: null }
}
