// Measures this machine's compute speed with a fixed WebAssembly loop, so adverts from different
// racks compare like for like. Never runs on a hot path: once at start, ~20 ms.

import { computeScoreIterationsMax } from '../../protocol/limits.ts'

// A hand-assembled module exporting spin(n: i32) -> i32: `acc = acc * 31 + n` while --n != 0.
// Written as bytes so the score does not depend on a toolchain's output changing.
const body = [
  0x01, 0x01, 0x7f, // one local: acc i32
  0x03, 0x40, // loop (no result)
  0x20, 0x01, 0x41, 0x1f, 0x6c, // acc * 31
  0x20, 0x00, 0x6a, 0x21, 0x01, // + n -> acc
  0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, // n = n - 1 (kept on the stack)
  0x0d, 0x00, // br_if loop
  0x0b, // end loop
  0x20, 0x01, 0x0b // return acc; end function
]
const section = (id: number, content: number[]): number[] => [id, content.length, ...content]
export const spinModuleBytes = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f]), // type: (i32) -> i32
  ...section(3, [0x01, 0x00]), // one function of type 0
  ...section(7, [0x01, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x00]), // export "spin" = func 0
  ...section(10, [0x01, body.length, ...body])
])

// The project's TypeScript lib has no DOM/WebAssembly typings; name only the two constructors used.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: Record<string, unknown> }
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

export interface ComputeScoreOptions {
  /** @default 20 — long enough to swamp timer resolution, short enough not to delay start. */
  targetMs?: number
}

/** Loop iterations per second of spin(); doubles the work until one run takes targetMs. */
export function measureComputeScore (options: ComputeScoreOptions = {}): bigint {
  const targetNs = BigInt(options.targetMs ?? 20) * 1_000_000n
  const instance = new wasm.Instance(new wasm.Module(spinModuleBytes))
  const spin = instance.exports.spin as (n: number) => number
  spin(100_000) // let the engine tier up before timing
  for (let iterations = 1 << 16; ; iterations *= 2) {
    const started = process.hrtime.bigint()
    spin(iterations)
    const elapsedNs = process.hrtime.bigint() - started
    if (elapsedNs >= targetNs || iterations >= computeScoreIterationsMax) {
      return (BigInt(iterations) * 1_000_000_000n) / (elapsedNs > 0n ? elapsedNs : 1n)
    }
  }
}
