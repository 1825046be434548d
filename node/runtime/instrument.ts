// Rewrites one core wasm module so that it can only run deterministically bounded: a fuel check at
// every function entry, loop iteration and return, NaNs canonicalized where their bits escape
// (see _nan.ts), a call-stack budget weighed per frame (see _stack.ts), and memory/table maxima
// capped. It never runs the module; it refuses (Result) modules it cannot bound: shared or 64-bit
// memory, an initial size over the cap, float or relaxed SIMD, tail calls, exception handling, a
// frame heavier than the cap, unknown expression kinds, unparsable bytes.
//
// Fuel lives in ONE imported mutable i64 global, `pylon:fuel`.`remaining`, shared by every core
// module of a component (a JS actor has three), so all of them draw on the same budget. A check
// is `if (remaining <= 0) { remaining = -1; unreachable } remaining -= 1`: the trap is a wasm trap,
// which no wasm exception handler can catch, and -1 tells the host "out of fuel" apart from the
// actor's own traps. Host functions charge the same global (see host.ts).
//
// How checks are placed: binaryen's `log-execution` pass inserts `call $log_execution(id)` at
// function entry, at each loop header and before returns. We replace that import by a small
// internal function holding the check; V8 inlines such leaf calls when it tiers up, which the
// runtime benchmark shows (metered/unmetered ratio). One unit per check: the cost model is "basic
// control-flow steps", deterministic, not a measure of time. Bulk-memory ops (memory.fill/copy)
// also cost one unit per started 64 bytes (actorBulkMemoryBytesPerFuel), charged before they run:
// at one unit whatever their length, a loop of 32 MiB fills ran ~1.1 ms of memset per two units, so
// one message's fuel (2×10^8) could hold every replica for ~30 hours; now at most ~0.4 s of fills.

import binaryen from 'binaryen'
import { actorBulkMemoryBytesPerFuel, actorMemoryPagesMax, actorTableElementsMax } from '../../protocol/limits.ts'
import { err, ok, type Result } from '../../protocol/result.ts'
import { access, canonicalizeNaNs, walk } from './_nan.ts'
import { boundStack } from './_stack.ts'

export const fuelImportModule = 'pylon:fuel'
export const fuelImportName = 'remaining'

export interface InstrumentOptions {
  /** @default actorMemoryPagesMax */
  memoryPagesMax?: number
  /** @default true — false only for the benchmark's unmetered baseline. */
  meter?: boolean
  /** @default actorStackBudget — other values only in tests of the stack bound. */
  stackBudget?: number
  /** @default false — true only to measure the stack weight a run reaches (see _stack.ts). */
  stackPeak?: boolean
}

/**
 * Makes every memory.fill and memory.copy pay for its length: its size operand (evaluated last, after
 * the destination and the value or source) goes through `pylon$charge_len`, which takes one unit per
 * started actorBulkMemoryBytesPerFuel bytes, trapping like a fuel check when that is more than
 * remains, and passes the size on. Runs after log-execution, whose checks it leaves alone.
 */
function chargeBulkMemory (module: binaryen.Module, fuel: string, i64: (value: bigint) => number): Result<{ sites: number }> {
  const charge = 'pylon$charge_len'
  const shift = BigInt(Math.log2(actorBulkMemoryBytesPerFuel))
  const remaining = (): number => module.global.get(fuel, binaryen.i64)
  // ceil(size / 2^shift) = (size + 2^shift - 1) >> shift, on the size widened to 64 bits.
  const cost = (): number => module.i64.shr_u(module.i64.add(module.i64.extend_u(module.local.get(0, binaryen.i32)), i64((1n << shift) - 1n)), i64(shift))
  let sites = 0
  const functions: number[] = []
  for (let i = 0; i < module.getNumFunctions(); i++) functions.push(module.getFunctionByIndex(i))
  for (const func of functions) {
    const info = binaryen.getFunctionInfo(func)
    if (info.module !== '' || info.body === 0) continue
    const walked = walk(info.body, (expr, kind) => {
      if (kind !== 'MemoryFill' && kind !== 'MemoryCopy') return undefined
      access(kind, 'setSize', expr, module.call(charge, [access(kind, 'getSize', expr)], binaryen.i32))
      sites++
      return undefined
    })
    if (!walked.ok) return err(`function ${info.name}: ${walked.error}`)
  }
  if (sites === 0) return ok({ sites })
  module.addFunction(charge, binaryen.createType([binaryen.i32]), binaryen.i32, [], module.block(null, [
    module.if(module.i64.lt_s(remaining(), cost()),
      module.block(null, [module.global.set(fuel, i64(-1n)), module.unreachable()])),
    module.global.set(fuel, module.i64.sub(remaining(), cost())),
    module.local.get(0, binaryen.i32)
  ], binaryen.i32))
  return ok({ sites })
}

/** The instrumented module bytes, or why the module cannot be bounded. */
export function instrumentCoreModule (bytes: Uint8Array, options: InstrumentOptions = {}): Result<Uint8Array> {
  // Limits first: it also checks the section structure and drops custom sections (names, producers),
  // which carry nothing the actor needs and only make binaryen warn.
  const capped = capLimits(bytes, options.memoryPagesMax ?? actorMemoryPagesMax)
  if (!capped.ok || options.meter === false) return capped
  return addFuelChecks(capped.value, options)
}

function addFuelChecks (bytes: Uint8Array, options: InstrumentOptions): Result<Uint8Array> {
  let module: binaryen.Module
  try {
    module = binaryen.readBinary(bytes)
  } catch (error) {
    return err(`core module does not parse: ${(error as Error).message}`)
  }
  // binaryen reads any feature but marks the module MVP, and then writes no DataCount section: a
  // module using memory.init or data.drop (passive data segments) came out invalid ("invalid data
  // segment index") and was refused at install.
  module.setFeatures(module.getFeatures() | binaryen.Features.BulkMemory)
  try {
    if (importedFunctionNames(module).size === module.getNumFunctions()) {
      // No functions of its own (jco's fixup modules): nothing to meter, but its state is still reset.
      exportState(module, definedMemories(bytes))
      return ok(module.emitBinary())
    }
    const canonical = canonicalizeNaNs(module)
    if (!canonical.ok) return canonical
    const before = importedFunctionNames(module)
    module.runPasses(['log-execution'])
    const added = [...importedFunctionNames(module)].filter(name => !before.has(name))
    if (added.length === 0) return err('fuel instrumentation added no check import')
    if (added.length !== 1) return err(`fuel instrumentation added ${added.length} imports, expected 1`)
    const checkName = added[0]!
    const fuel = 'pylon$fuel'
    module.setFeatures(module.getFeatures() | binaryen.Features.MutableGlobals)
    // binaryen 132 takes a bigint for i64.const although its typings say number.
    const i64 = (value: bigint): number => (module.i64.const as unknown as (v: bigint) => number)(value)
    module.addGlobalImport(fuel, fuelImportModule, fuelImportName, binaryen.i64, true)
    module.removeFunction(checkName)
    const get = (): number => module.global.get(fuel, binaryen.i64)
    const body = module.block(null, [
      module.if(module.i64.le_s(get(), i64(0n)),
        module.block(null, [module.global.set(fuel, i64(-1n)), module.unreachable()])),
      module.global.set(fuel, module.i64.sub(get(), i64(1n)))
    ], binaryen.none)
    module.addFunction(checkName, binaryen.createType([binaryen.i32]), binaryen.none, [], body)
    const charged = chargeBulkMemory(module, fuel, i64)
    if (!charged.ok) return charged
    // Last, so that it wraps whole bodies (fuel checks included) and weighs the final frames.
    const bounded = boundStack(module, new Set([checkName, 'pylon$charge_len']), { budget: options.stackBudget, peak: options.stackPeak })
    if (!bounded.ok) return bounded
    exportState(module, definedMemories(bytes))
    // No module.validate(): on failure it prints the whole module; compiling the output (the
    // loader does) is the check, and it reports an error instead.
    return ok(module.emitBinary())
  } finally {
    module.dispose()
  }
}

/** Export-name prefix of the module state a pooled instance is reset to (instance-pool.ts reads it). */
export const stateExportPrefix = 'pylon$state$'
/**
 * An immutable i32 global exported only when EVERY piece of the module's mutable state that outlives
 * a call is exported under stateExportPrefix, so that restoring those exports makes the instance
 * exactly a fresh one. Without it, instances of the component are never reused.
 */
export const stateMarkerExport = 'pylon$state'

/**
 * Exports the module's defined memory, tables and mutable globals under stateExportPrefix and adds
 * the marker, unless some state could not be restored from JS: more than one memory, a mutable
 * global of a type JS cannot read (v128), instructions that change state invisible to JS (the
 * dropped flag of a data segment: memory.init, data.drop) or that change tables (table.set,
 * table.grow; table.fill/copy/init and elem.drop are refused outright by the walk). Imported state
 * is exported by the core instance that defines it, or is ours (fuel, stack).
 */
function exportState (module: binaryen.Module, memories: number): void {
  for (let i = 0; i < module.getNumExports(); i++) {
    if (binaryen.getExportInfo(module.getExportByIndex(i)).name.startsWith(stateMarkerExport)) return
  }
  if (memories > 1) return
  module.setFeatures(module.getFeatures() | binaryen.Features.MutableGlobals)
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i))
    if (info.module !== '' || info.body === 0) continue
    const walked = walk(info.body, (_expr, kind) => resetBlockers.has(kind) ? kind : undefined)
    if (!walked.ok) return
  }
  const globals: string[] = []
  for (let i = 0; i < module.getNumGlobals(); i++) {
    const info = binaryen.getGlobalInfo(module.getGlobalByIndex(i))
    if (isImport(info) || !info.mutable) continue
    if (!resettableGlobalTypes().has(info.type)) return
    globals.push(info.name)
  }
  for (const [i, name] of globals.entries()) module.addGlobalExport(name, `${stateExportPrefix}global$${i}`)
  for (let i = 0; i < module.getNumTables(); i++) {
    const info = binaryen.getTableInfo(module.getTableByIndex(i))
    if (!isImport(info)) module.addTableExport(info.name, `${stateExportPrefix}table$${i}`)
  }
  if (memories === 1) module.addMemoryExport('0', `${stateExportPrefix}memory$0`)
  module.addGlobal(stateMarkerExport, binaryen.i32, false, module.i32.const(1))
  module.addGlobalExport(stateMarkerExport, stateMarkerExport)
}

/** Whether a global or table is imported (its import module may be "", as in jco's fixup modules). */
function isImport (info: { module: string | null, base: string | null }): boolean {
  return (info.module ?? '') !== '' || (info.base ?? '') !== ''
}

/** Instruction kinds whose effect a reset from JS could not undo (see exportState). */
const resetBlockers = new Set(['MemoryInit', 'DataDrop', 'TableSet', 'TableGrow'])

/** Global types JS reads and writes back bit-exactly (a NaN float is refused when the snapshot is taken). */
function resettableGlobalTypes (): Set<number> {
  return new Set([binaryen.i32, binaryen.i64, binaryen.f32, binaryen.f64, binaryen.funcref, binaryen.externref])
}

/** Memories the module defines (not imports), from its memory section; capLimits has checked the sections. */
function definedMemories (bytes: Uint8Array): number {
  let at = 8
  while (at < bytes.length) {
    const id = bytes[at]!
    const size = readU32(bytes, at + 1)
    if (size === undefined) return 0
    if (id === 5) return readU32(bytes, size.next)?.value ?? 0
    at = size.next + size.value
  }
  return 0
}

function importedFunctionNames (module: binaryen.Module): Set<string> {
  const names = new Set<string>()
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i))
    // By its missing body: an import's module name may be "" (jco's fixup modules import from "").
    if (info.body === 0) names.add(info.name)
  }
  return names
}

// ── Limits rewrite: a tiny section walker, so memory/table maxima are set without re-encoding ──

/**
 * Drops custom sections and sets every defined memory's maximum to min(declared, pagesMax) and every table's to
 * min(declared, actorTableElementsMax); refuses shared or 64-bit memories and initial sizes over
 * the caps. Growth past a maximum returns -1 in wasm: a deterministic failure, not a crash.
 */
export function capLimits (bytes: Uint8Array, pagesMax: number): Result<Uint8Array> {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) return err('not a core wasm module')
  const parts: Uint8Array[] = [bytes.subarray(0, 8)]
  let at = 8
  while (at < bytes.length) {
    const headerStart = at
    const id = bytes[at]!
    const size = readU32(bytes, at + 1)
    if (size === undefined) return err('truncated section header')
    const start = size.next
    const end = start + size.value
    if (end > bytes.length) return err('section runs past the end of the module')
    const section = bytes.subarray(start, end)
    at = end
    if (id === 0) continue
    if (id !== 4 && id !== 5) {
      parts.push(bytes.subarray(headerStart, end))
      continue
    }
    const body = id === 5 ? rewriteMemories(section, pagesMax) : rewriteTables(section)
    if (!body.ok) return body
    parts.push(Uint8Array.from([id, ...writeU32(body.value.length), ...body.value]))
  }
  return ok(Buffer.concat(parts))
}

function rewriteMemories (section: Uint8Array, pagesMax: number): Result<number[]> {
  const count = readU32(section, 0)
  if (count === undefined) return err('bad memory section')
  const out = writeU32(count.value)
  let at = count.next
  for (let i = 0; i < count.value; i++) {
    const limits = readLimits(section, at)
    if (!limits.ok) return limits
    const { flags, min, max, next } = limits.value
    if ((flags & 0x02) !== 0) return err('shared memory is refused: actors are single-threaded')
    if ((flags & 0x04) !== 0) return err('64-bit memory is refused')
    if (min > pagesMax) return err(`initial memory too large: ${min} > ${pagesMax} pages`)
    out.push(0x01, ...writeU32(min), ...writeU32(Math.min(max ?? pagesMax, pagesMax)))
    at = next
  }
  return at === section.length ? ok(out) : err('trailing bytes in memory section')
}

function rewriteTables (section: Uint8Array): Result<number[]> {
  const count = readU32(section, 0)
  if (count === undefined) return err('bad table section')
  const out = writeU32(count.value)
  let at = count.next
  for (let i = 0; i < count.value; i++) {
    // Only the plain form `reftype limits` (funcref/externref); tables with init expressions are refused.
    const refType = section[at]
    if (refType !== 0x70 && refType !== 0x6f) return err(`unsupported table type 0x${(refType ?? 0).toString(16)}`)
    const limits = readLimits(section, at + 1)
    if (!limits.ok) return limits
    const { flags, min, max, next } = limits.value
    if ((flags & ~0x01) !== 0) return err('unsupported table limits')
    if (min > actorTableElementsMax) return err(`initial table too large: ${min} > ${actorTableElementsMax} elements`)
    out.push(refType, 0x01, ...writeU32(min), ...writeU32(Math.min(max ?? actorTableElementsMax, actorTableElementsMax)))
    at = next
  }
  return at === section.length ? ok(out) : err('trailing bytes in table section')
}

function readLimits (bytes: Uint8Array, at: number): Result<{ flags: number, min: number, max: number | undefined, next: number }> {
  const flags = bytes[at]
  if (flags === undefined) return err('truncated limits')
  const min = readU32(bytes, at + 1)
  if (min === undefined) return err('truncated limits')
  if ((flags & 0x01) === 0) return ok({ flags, min: min.value, max: undefined, next: min.next })
  const max = readU32(bytes, min.next)
  if (max === undefined) return err('truncated limits')
  return ok({ flags, min: min.value, max: max.value, next: max.next })
}

function readU32 (bytes: Uint8Array, at: number): { value: number, next: number } | undefined {
  let value = 0
  for (let shift = 0, i = at; shift < 35; shift += 7, i++) {
    const b = bytes[i]
    if (b === undefined) return undefined
    value += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return value <= 0xffffffff ? { value, next: i + 1 } : undefined
  }
  return undefined
}

function writeU32 (value: number): number[] {
  const out: number[] = []
  do {
    let b = value & 0x7f
    value = Math.floor(value / 128)
    if (value !== 0) b |= 0x80
    out.push(b)
  } while (value !== 0)
  return out
}
