// The WebAssembly JS API as Node provides it. TypeScript ships these types only in lib "dom",
// which this project does not load; this declares the subset the runtime and its tests use.

declare namespace WebAssembly {
  type ImportValue = Function | Global | Memory | Table | number | bigint
  type Imports = Record<string, Record<string, ImportValue>>
  type Exports = Record<string, Function | Global | Memory | Table>
  interface GlobalDescriptor { value: 'i32' | 'i64' | 'f32' | 'f64', mutable?: boolean }
  class Global {
    constructor (descriptor: GlobalDescriptor, value?: number | bigint)
    value: number | bigint
  }
  class Memory {
    constructor (descriptor: { initial: number, maximum?: number })
    readonly buffer: ArrayBuffer
    grow (delta: number): number
  }
  class Table {
    readonly length: number
  }
  class Module {
    constructor (bytes: BufferSource)
    static imports (module: Module): Array<{ module: string, name: string, kind: string }>
    static exports (module: Module): Array<{ name: string, kind: string }>
  }
  class Instance {
    constructor (module: Module, imports?: Imports)
    readonly exports: Exports
  }
  class RuntimeError extends Error {}
  class CompileError extends Error {}
  class LinkError extends Error {}
  function compile (bytes: BufferSource): Promise<Module>
  function validate (bytes: BufferSource): boolean
}
