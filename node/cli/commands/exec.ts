// `pylon exec ACTOR.wasm METHOD [PAYLOAD]`: runs one message against a persistent local state
// directory (the LevelDB store in STATE_DIR/store) without a network. Each update is one height
// committed through the store, so `pylon store verify --data-dir STATE_DIR` checks it; a query
// commits nothing. It composes store + runtime for one process and never opens a socket.

import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { cidOf, decode, encode, sha256Bytes } from '../../../protocol/codec.ts'
import { actorIdOf, height as toHeight, parseSubnetId, type ActorId } from '../../../protocol/ids.ts'
import { actorCodeBytesMax, actorFuelPerMessageMax, actorPayloadBytesMax } from '../../../protocol/limits.ts'
import { encodeReceipt, type ActorMessage, type BlockContext, type Receipt } from '../../../protocol/receipt.ts'
import { PylonError } from '../../core/errors.ts'
import { createLogger } from '../../core/logger.ts'
import { executeBlock, executeQuery } from '../../runtime/executor.ts'
import { ActorLoader, type CompiledActor } from '../../runtime/loader.ts'
import { preloadState } from '../../runtime/state-view.ts'
import { openStore } from '../../store/level-store.ts'
import { storeDirIn } from '../../store/store-dir.ts'
import type { Store } from '../../store/store.ts'
import { CliError, emit, printable } from '../output.ts'

interface ExecFlags {
  query?: boolean
  init?: string
  stateDir?: string
  fuel?: string
  caller?: string
  name?: string
  cacheDir?: string
  json?: boolean
}

/** The local subnet every exec actor lives in (a fixed CID): exec never talks to a network. */
const localSubnet = cidOf('pylon/exec/local-subnet/v1').toString()
/** Meta key that maps an actor name to its index and code CID in an exec state dir. */
const metaPrefix = 'exec/actor/'
/** Meta key holding the number of actors installed in an exec state dir. */
const countKey = 'exec/actors'

export function register (program: Command): void {
  program.command('exec')
    .description('run one message against an actor with a local, persistent state directory (no network)')
    .argument('<actor>', 'the actor component (.wasm, e.g. from `pylon build`)')
    .argument('<method>', 'the update (or, with --query, query) method to call')
    .argument('[payload]', 'payload as UTF-8 text', '')
    .option('--query', 'call the query export: read-only, commits nothing')
    .option('--init <arg>', 'argument (UTF-8) for init when this installs the actor', '')
    .option('--state-dir <dir>', 'local state directory (LevelDB in DIR/store)', '.pylon-exec')
    .option('--fuel <units>', `fuel limit for the message (1..${actorFuelPerMessageMax})`)
    .option('--caller <principal>', 'caller the actor sees', 'local')
    .option('--name <name>', 'actor name in the state dir (default: the file name without .wasm); a new file under one name is an upgrade that keeps storage')
    .option('--cache-dir <dir>', 'transpile cache (default: $PYLON_CACHE_DIR or ~/.cache/pylon/actors)')
    .option('--json', 'print { ok, result, error, fuelUsed, … } as JSON')
    .action(async (file: string, method: string, payload: string, flags: ExecFlags) => {
      await execCommand(file, method, payload, flags)
    })
}

async function execCommand (file: string, method: string, payloadText: string, flags: ExecFlags): Promise<void> {
  const fuelLimit = parseFuel(flags.fuel)
  const payload = new TextEncoder().encode(payloadText)
  if (payload.length > actorPayloadBytesMax) throw new CliError(`payload too large: ${payload.length} > ${actorPayloadBytesMax} bytes`)
  const code = await readCode(file)
  const cacheDir = resolve(flags.cacheDir ?? process.env.PYLON_CACHE_DIR ?? join(homedir(), '.cache', 'pylon', 'actors'))
  const loaded = await new ActorLoader({ cacheDir, logger: createLogger('pylon:exec', { level: 'warn' }) }).load(code)
  if (!loaded.ok) throw new CliError(`${file}: ${loaded.error}`, 'actor/refused')
  const name = flags.name ?? basename(file).replace(/\.wasm$/, '')
  const stateDir = resolve(flags.stateDir ?? '.pylon-exec')
  const store = await openStore(storeDirIn(stateDir)).catch((error: unknown) => {
    throw error instanceof PylonError ? new CliError(error.message, error.code) : error
  })
  try {
    const outcome = await runOnStore(store, { name, code, compiled: loaded.value, method, payload, fuelLimit, flags })
    report(outcome, flags.json === true)
  } finally {
    await store.close()
  }
}

interface Outcome {
  receipt: Receipt
  actor: ActorId
  height: bigint
  installed: boolean
  upgraded: boolean
}

interface RunInput {
  name: string
  code: Uint8Array
  compiled: CompiledActor
  method: string
  payload: Uint8Array
  fuelLimit: bigint | undefined
  flags: ExecFlags
}

async function runOnStore (store: Store, input: RunInput): Promise<Outcome> {
  const { actor, known } = await resolveActor(store, input.name)
  const installed = known === undefined
  const upgraded = known !== undefined && known.cid !== input.compiled.cid
  const storage = await preloadState(store, [actor])
  const state = { storage, code: (id: ActorId) => (id === actor ? input.compiled : undefined) }
  const next = BigInt(store.height) + 1n
  const block: BlockContext = {
    height: toHeight(next),
    // exec is a local tool, not consensus: its "consensus time" is this machine's clock.
    timeNs: BigInt(Date.now()) * 1_000_000n,
    seed: sha256Bytes(encode(['pylon/exec-seed/v1', store.stateRoot, next]))
  }
  const caller = input.flags.caller ?? 'local'
  if (input.flags.query === true && installed) throw new CliError(`actor ${input.name} is not installed in this state dir: run an update first`, 'actor/missing')
  if (input.flags.query === true) {
    const receipt = executeQuery(state, { actor, caller, method: input.method, payload: input.payload, fuelLimit: input.fuelLimit }, block)
    return { receipt, actor, height: BigInt(store.height), installed, upgraded }
  }
  const messages: ActorMessage[] = []
  // A local run executes no signed envelope, so its receipts answer no request (requestId null),
  // which also keeps them byte-identical across processes (the determinism test compares them).
  if (installed) messages.push({ kind: 'init', actor, caller: '', method: '', payload: new TextEncoder().encode(input.flags.init ?? ''), requestId: null })
  messages.push({ kind: 'update', actor, caller, method: input.method, payload: input.payload, fuelLimit: input.fuelLimit, requestId: null })
  const outcome = executeBlock(state, messages, block)
  const initReceipt = installed ? outcome.receipts[0]! : undefined
  if (initReceipt !== undefined && !initReceipt.ok) throw new CliError(`init refused the install: ${initReceipt.error}`, 'actor/init')
  const receipt = outcome.receipts.at(-1)!
  await store.commitHeight({
    height: block.height,
    writes: outcome.writes,
    receipts: outcome.receipts.map(encodeReceipt),
    code: installed || upgraded ? [{ cid: input.compiled.cid, bytes: input.code }] : []
  })
  // Metadata after the height: a crash in between leaves state committed and the name unknown,
  // so the next exec installs afresh under a new index (a local tool's acceptable failure).
  if (installed) await store.metaPut(countKey, new TextEncoder().encode(indexOf(actor).toString()))
  if (installed || upgraded) await store.metaPut(metaPrefix + input.name, encode({ index: indexOf(actor), cid: input.compiled.cid }))
  return { receipt, actor, height: next, installed, upgraded }
}

/** The actor a name denotes in this state dir, allocating the next index for a new name. */
async function resolveActor (store: Store, name: string): Promise<{ actor: ActorId, known: { index: bigint, cid: string } | undefined }> {
  const subnet = parseSubnetId(localSubnet)
  if (!subnet.ok) throw new Error(subnet.error)
  const stored = await store.metaGet(metaPrefix + name)
  if (stored !== undefined) {
    const decoded = decode(stored)
    const value = decoded.ok ? decoded.value as { index?: unknown, cid?: unknown } : {}
    if (typeof value.index !== 'bigint' && typeof value.index !== 'number') throw new CliError(`corrupt exec metadata for ${name}`, 'store/corrupt')
    const known = { index: BigInt(value.index), cid: String(value.cid) }
    return { actor: actorIdOf(subnet.value, known.index), known }
  }
  const count = await store.metaGet(countKey)
  const index = (count === undefined ? 0n : BigInt(new TextDecoder().decode(count))) + 1n
  return { actor: actorIdOf(subnet.value, index), known: undefined }
}

function indexOf (actor: ActorId): bigint {
  return BigInt(actor.slice(actor.lastIndexOf('.') + 1))
}

async function readCode (file: string): Promise<Uint8Array> {
  let code: Buffer
  try {
    code = await readFile(file)
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (code.length > actorCodeBytesMax) throw new CliError(`${file} too large: ${code.length} > ${actorCodeBytesMax} bytes`)
  return new Uint8Array(code)
}

function parseFuel (value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined
  if (!/^[0-9]{1,20}$/.test(value) || BigInt(value) < 1n || BigInt(value) > actorFuelPerMessageMax) {
    throw new CliError(`--fuel must be an integer in 1..${actorFuelPerMessageMax}, got ${JSON.stringify(value)}`)
  }
  return BigInt(value)
}

/** UTF-8 when the bytes are valid UTF-8, else hex: what a person can read. */
function report (outcome: Outcome, json: boolean): void {
  const { receipt } = outcome
  const result = receipt.result === null ? null : printable(receipt.result)
  for (const line of receipt.logs) if (!json) process.stderr.write(`log: ${line}\n`)
  if (json) {
    emit(true, {
      ok: receipt.ok, result: result?.text ?? null, resultEncoding: result?.encoding ?? null, error: receipt.error,
      fuelUsed: receipt.fuelUsed, logs: receipt.logs, actor: outcome.actor, height: outcome.height,
      installed: outcome.installed, upgraded: outcome.upgraded
    }, () => '')
    if (!receipt.ok) process.exitCode = 1
    return
  }
  if (!receipt.ok) throw new CliError(`actor error: ${receipt.error} (fuel used ${receipt.fuelUsed})`, 'actor/error')
  emit(false, undefined, () => result?.text ?? '')
}
