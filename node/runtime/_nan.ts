// NaN canonicalization for one binaryen module, and the expression walker it and the bulk-memory fuel charge use (private to node/runtime: instrument.ts calls it).
// Wasm arithmetic may produce NaNs whose sign and payload differ by CPU (x86 makes a negative
// quiet NaN where arm64 makes a positive one), and V8 does not canonicalize them. Such bits only
// become observable where a float turns into bits or lends its sign: f32/f64 stores, reinterpret
// to an integer, and copysign's sign operand. At exactly those points we replace any NaN by the
// canonical quiet NaN (0x7fc00000 / 0x7ff8000000000000), so replicas on any CPU agree. Float
// SIMD arithmetic and relaxed-SIMD (non-deterministic by design) are refused; so is every
// expression kind we do not know how to walk (GC, strings, atomics, stack switching…).

import binaryen from 'binaryen'
import { err, ok, type Result } from '../../protocol/result.ts'

type Expr = number
type AnyClass = Record<string, ((...args: number[]) => number) | undefined>

/** Child fields per expression kind: single children by name, lists by their accessor stem. */
const children: Record<string, { one?: string[], many?: 'Child' | 'Operand' | 'CatchBody' }> = {
  Block: { many: 'Child' },
  If: { one: ['Condition', 'IfTrue', 'IfFalse'] },
  Loop: { one: ['Body'] },
  Break: { one: ['Condition', 'Value'] },
  Switch: { one: ['Condition', 'Value'] },
  Call: { many: 'Operand' },
  CallIndirect: { one: ['Target'], many: 'Operand' },
  LocalGet: {},
  LocalSet: { one: ['Value'] },
  GlobalGet: {},
  GlobalSet: { one: ['Value'] },
  Load: { one: ['Ptr'] },
  Store: { one: ['Ptr', 'Value'] },
  Const: {},
  Unary: { one: ['Value'] },
  Binary: { one: ['Left', 'Right'] },
  Select: { one: ['IfTrue', 'IfFalse', 'Condition'] },
  Drop: { one: ['Value'] },
  Return: { one: ['Value'] },
  MemorySize: {},
  MemoryGrow: { one: ['Delta'] },
  Nop: {},
  Unreachable: {},
  SIMDExtract: { one: ['Vec'] },
  SIMDReplace: { one: ['Vec', 'Value'] },
  SIMDShuffle: { one: ['Left', 'Right'] },
  SIMDTernary: { one: ['A', 'B', 'C'] },
  SIMDShift: { one: ['Vec', 'Shift'] },
  SIMDLoad: { one: ['Ptr'] },
  SIMDLoadStoreLane: { one: ['Ptr', 'Vec'] },
  MemoryInit: { one: ['Dest', 'Offset', 'Size'] },
  DataDrop: {},
  MemoryCopy: { one: ['Dest', 'Source', 'Size'] },
  MemoryFill: { one: ['Dest', 'Value', 'Size'] },
  RefNull: {},
  RefIsNull: { one: ['Value'] },
  RefFunc: {},
  RefEq: { one: ['Left', 'Right'] },
  RefAs: { one: ['Value'] },
  TableGet: { one: ['Index'] },
  TableSet: { one: ['Index', 'Value'] },
  TableSize: {},
  TableGrow: { one: ['Value', 'Delta'] },
  Try: { one: ['Body'], many: 'CatchBody' },
  Throw: { many: 'Operand' },
  Rethrow: {},
  TupleMake: { many: 'Operand' },
  TupleExtract: { one: ['Tuple'] },
  Pop: {}
}

/** Calls binaryen.js's per-kind accessor (Store.getValue, Binary.setRight…), untyped in its typings. */
export function access (kind: string, accessor: string, ...args: number[]): number {
  const fn = (binaryen as unknown as Record<string, AnyClass | undefined>)[kind]?.[accessor]
  if (fn === undefined) throw new Error(`binaryen has no ${kind}.${accessor}`)
  return fn(...args)
}

const idNames = new Map<number, string>()
for (const name of Object.keys(children)) {
  const id = (binaryen as unknown as Record<string, unknown>)[`${name}Id`]
  if (typeof id === 'number') idNames.set(id, name)
}

const b = binaryen as unknown as Record<string, number>
// Unary, binary and ternary ops are separate enums whose numbers overlap, so one set per kind.
const opsNamed = (pattern: RegExp): Set<number> => new Set(Object.keys(binaryen)
  .filter(k => /^[A-Z]/.test(k) && pattern.test(k)).map(k => b[k]!).filter(v => typeof v === 'number'))
const refusedUnary = opsNamed(/^((Sqrt|Ceil|Floor|Trunc|Nearest)Vec(F32x4|F64x2)|DemoteZeroVec.*|PromoteLowVec.*|RelaxedTrunc.*)$/)
const refusedBinary = opsNamed(/^((Add|Sub|Mul|Div|Min|Max)Vec(F32x4|F64x2)|RelaxedMin.*|RelaxedMax.*|RelaxedSwizzle.*|RelaxedQ15.*|RelaxedDotI8x16I7x16SToVecI16x8)$/)
const refusedTernary = opsNamed(/^(RelaxedMadd.*|RelaxedNmadd.*|RelaxedLaneselect.*|RelaxedDotI8x16I7x16AddS.*)$/)
const reinterpretOps = new Set([b.ReinterpretFloat32!, b.ReinterpretFloat64!])
const copySignOps = new Set([b.CopySignFloat32!, b.CopySignFloat64!])

/** Canonicalizes NaNs at their escape points in every defined function; refuses what it cannot. */
export function canonicalizeNaNs (module: binaryen.Module): Result<{ sites: number }> {
  let sites = 0
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const func = module.getFunctionByIndex(i)
    const info = binaryen.getFunctionInfo(func)
    if (info.module !== '' || info.body === 0) continue
    const scratch = new Map<number, number>()
    const local = (type: number): number => {
      let index = scratch.get(type)
      if (index === undefined) {
        index = (binaryen as unknown as { _BinaryenFunctionAddVar: (f: number, t: number) => number })._BinaryenFunctionAddVar(func, type)
        scratch.set(type, index)
      }
      return index
    }
    const canon = (value: Expr): Expr => {
      sites++
      const type = binaryen.getExpressionType(value)
      const t = local(type)
      const f = type === binaryen.f32 ? module.f32 : module.f64
      const nan = type === binaryen.f32 ? module.f32.const_bits(0x7fc00000) : module.f64.const_bits(0x7ff8000000000000n)
      return module.select(f.ne(module.local.get(t, type), module.local.get(t, type)), nan, module.local.tee(t, value, type))
    }
    const walked = walk(info.body, (expr, kind) => {
      if (kind === 'Store') {
        const value = access('Store', 'getValue', expr)
        const type = binaryen.getExpressionType(value)
        if (type === binaryen.f32 || type === binaryen.f64) access('Store', 'setValue', expr, canon(value))
      } else if (kind === 'Unary') {
        const op = access('Unary', 'getOp', expr)
        if (refusedUnary.has(op)) return `float SIMD or relaxed-SIMD unary operation ${op} is refused: its NaNs or results differ by CPU`
        if (reinterpretOps.has(op)) access('Unary', 'setValue', expr, canon(access('Unary', 'getValue', expr)))
      } else if (kind === 'Binary') {
        const op = access('Binary', 'getOp', expr)
        if (refusedBinary.has(op)) return `float SIMD or relaxed-SIMD binary operation ${op} is refused: its NaNs or results differ by CPU`
        if (copySignOps.has(op)) access('Binary', 'setRight', expr, canon(access('Binary', 'getRight', expr)))
      } else if (kind === 'SIMDTernary' && refusedTernary.has(access('SIMDTernary', 'getOp', expr))) {
        return 'relaxed-SIMD operation is refused: its results differ by CPU'
      }
      return undefined
    })
    if (!walked.ok) return err(`function ${info.name}: ${walked.error}`)
  }
  return ok({ sites })
}

/**
 * Visits every expression under `root` once (parents before children, iteratively: bodies can
 * nest deeper than the JS stack). `visit` may rewrite an expression's own children; the walk
 * then descends into the new children, which only ever wrap the old ones.
 */
export function walk (root: Expr, visit: (expr: Expr, kind: string) => string | undefined): Result<void> {
  const stack: Expr[] = [root]
  while (stack.length > 0) {
    const expr = stack.pop()!
    if (expr === 0) continue
    const id = binaryen.getExpressionId(expr)
    const kind = idNames.get(id)
    if (kind === undefined) return err(`unsupported wasm expression kind ${id} (GC, strings, atomics and other proposals are refused)`)
    const refusal = visit(expr, kind)
    if (refusal !== undefined) return err(refusal)
    stack.push(...childrenOf(expr, kind))
  }
  return ok(undefined)
}

/** The expression kind's name (as in binaryen.js: 'Block', 'Call'…), or undefined for a kind we do not walk. */
export function kindOf (expr: Expr): string | undefined {
  return idNames.get(binaryen.getExpressionId(expr))
}

/**
 * The children of `expr` (of kind `kind`, from kindOf), absent ones (0) left out. Single children
 * come first in the order of the table above, then the list; for every kind but CallIndirect (whose
 * target is evaluated last) that is evaluation order.
 */
export function childrenOf (expr: Expr, kind: string): Expr[] {
  const out: Expr[] = []
  const shape = children[kind]!
  for (const field of shape.one ?? []) {
    const child = access(kind, `get${field}`, expr)
    if (child !== 0) out.push(child)
  }
  if (shape.many !== undefined) {
    const count = access(kind, `getNum${shape.many === 'Child' ? 'Children' : shape.many === 'Operand' ? 'Operands' : 'CatchBodies'}`, expr)
    for (let i = 0; i < count; i++) out.push(access(kind, `get${shape.many}At`, expr, i))
  }
  return out
}
