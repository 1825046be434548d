// ActorLoader: refuses components outside the Pylon world (listing every offending import),
// oversize and garbage code, and caches transpiled output on disk by CID across restarts.

import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { buildWatActor } from '../../../../node/runtime/builder.ts'
import { ActorLoader, checkWorld } from '../../../../node/runtime/loader.ts'
import { createLogger, silentLogger } from '../../../../node/core/logger.ts'
import { rawCidOf } from '../../../../protocol/codec.ts'
import { actorCodeBytesMax } from '../../../../protocol/limits.ts'
import { exampleCode, loader } from './_fixtures.ts'

const wasiWorld = `
package test:bad;

package wasi:clocks@0.2.3 {
  interface wall-clock {
    record datetime { seconds: u64, nanoseconds: u32 }
    now: func() -> datetime;
  }
}
package wasi:random@0.2.3 {
  interface random { get-random-u64: func() -> u64; }
}
package wasi:filesystem@0.2.3 {
  interface preopens { count: func() -> u32; }
}

world bad {
  import wasi:clocks/wall-clock@0.2.3;
  import wasi:random/random@0.2.3;
  import wasi:filesystem/preopens@0.2.3;
  import peek: func() -> u32;
  export update: func(method: string, payload: list<u8>) -> result<list<u8>, string>;
}
`
const wasiCore = `(module
  (import "wasi:clocks/wall-clock@0.2.3" "now" (func (param i32)))
  (import "wasi:random/random@0.2.3" "get-random-u64" (func (result i64)))
  (import "wasi:filesystem/preopens@0.2.3" "count" (func (result i32)))
  (import "$root" "peek" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64))
  (func (export "update") (param i32 i32 i32 i32) (result i32) (i32.const 0)))`

test('ActorLoader refuses a component importing WASI and lists each offending import', async t => {
  const code = await buildWatActor(wasiCore, { witSource: wasiWorld, world: 'bad' })
  const loaded = await loader.load(code)
  t.false(loaded.ok)
  if (loaded.ok) return
  t.regex(loaded.error, /^imports outside the Pylon world \(4\): /)
  for (const name of ['wasi:clocks/wall-clock@0.2.3', 'wasi:random/random@0.2.3', 'wasi:filesystem/preopens@0.2.3', 'peek: func() -> u32']) {
    t.true(loaded.error.includes(name), `${name} is listed`)
  }
})

test('ActorLoader refuses a look-alike pylon:actor interface with functions the contract lacks', async t => {
  const witSource = `
package test:sneaky;
package pylon:actor@0.1.0 {
  interface storage { wipe-everything: func(); }
}
world sneaky {
  import pylon:actor/storage@0.1.0;
  export init: func(arg: list<u8>) -> result<_, string>;
  export update: func(method: string, payload: list<u8>) -> result<list<u8>, string>;
  export query: func(method: string, payload: list<u8>) -> result<list<u8>, string>;
}`
  const core = `(module
  (import "pylon:actor/storage@0.1.0" "wipe-everything" (func))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64))
  (func (export "init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "update") (param i32 i32 i32 i32) (result i32) (call 0) (i32.const 0))
  (func (export "query") (param i32 i32 i32 i32) (result i32) (i32.const 0)))`
  const loaded = await loader.load(await buildWatActor(core, { witSource, world: 'sneaky' }))
  t.deepEqual(loaded, { ok: false, error: 'imports outside the Pylon world (1): pylon:actor/storage#wipe-everything' })
})

test('ActorLoader refuses a component whose exports differ from the contract, naming each', async t => {
  const witSource = `
package test:odd;
world odd {
  export update: func(method: string, payload: list<u8>) -> u32;
  export query: func(m: string, p: list<u8>) -> result<list<u8>, string>;
}`
  const core = `(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64))
  (func (export "update") (param i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "query") (param i32 i32 i32 i32) (result i32) (i32.const 0)))`
  const loaded = await loader.load(await buildWatActor(core, { witSource, world: 'odd' }))
  t.deepEqual(loaded, {
    ok: false,
    error: 'exports do not match the Pylon world: init must be `func(list<u8>) -> result<_, string>`, found none; update must be `func(string, list<u8>) -> result<list<u8>, string>`, found `func(string, list<u8>) -> u32`'
  })
})

test('ActorLoader refuses garbage and oversize code with the value and the limit', async t => {
  const garbage = await loader.load(new TextEncoder().encode('not wasm at all'))
  t.false(garbage.ok)
  if (!garbage.ok) t.regex(garbage.error, /^not a valid component/)
  const atLimit = await loader.load(new Uint8Array(actorCodeBytesMax))
  t.false(atLimit.ok)
  if (!atLimit.ok) t.regex(atLimit.error, /^not a valid component/, 'at the limit the size passes and the content is judged')
  const big = await loader.load(new Uint8Array(actorCodeBytesMax + 1))
  t.deepEqual(big, { ok: false, error: `component too large: ${actorCodeBytesMax + 1} > ${actorCodeBytesMax} bytes` })
})

test('checkWorld accepts the JS examples: componentize-js with WASI features off imports only the Pylon world', async t => {
  const imports = await checkWorld(await exampleCode('chat'))
  t.deepEqual(imports, { ok: true, value: ['pylon:actor/storage@0.1.0', 'pylon:actor/context@0.1.0', 'pylon:actor/outbox@0.1.0'] })
})

test('ActorLoader caches transpiled output by CID: a new loader (a restart) does not transpile again', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-loader-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const code = await exampleCode('counter-wat')
  const lines: string[] = []
  const logger = createLogger('test', { write: line => { lines.push(line) } })
  const first = await new ActorLoader({ cacheDir: dir, logger }).load(code)
  t.true(first.ok)
  t.is(lines.filter(l => l.includes('actor transpiled')).length, 1)
  const [format] = await readdir(dir)
  t.deepEqual(await readdir(join(dir, format!)), [rawCidOf(code).toString()])
  const second = await new ActorLoader({ cacheDir: dir, logger }).load(code)
  t.true(second.ok && second.value.cid === rawCidOf(code).toString())
  t.is(lines.filter(l => l.includes('actor transpiled')).length, 1, 'the second loader read the cache')
})

test('ActorLoader refuses code whose initial memory exceeds the page cap', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-loader-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const small = new ActorLoader({ cacheDir: dir, logger: silentLogger, memoryPagesMax: 0 })
  const loaded = await small.load(await exampleCode('counter-wat'))
  t.deepEqual(loaded, { ok: false, error: 'core module actor.core.wasm: initial memory too large: 1 > 0 pages' })
})

test('ActorLoader.cached hands back a load it holds by CID, and nothing for code it never loaded or refused', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-loader-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const held = new ActorLoader({ cacheDir: dir, logger: silentLogger })
  const code = await exampleCode('counter-wat')
  const cid = rawCidOf(code).toString()
  t.is(held.cached(cid), undefined, 'nothing before the first load')
  const loaded = await held.load(code)
  const again = await held.cached(cid)
  t.true(loaded.ok && again?.ok === true && again.value === loaded.value, 'the very same compiled actor')
  const garbage = new TextEncoder().encode('not wasm at all')
  t.false((await held.load(garbage)).ok)
  t.is(held.cached(rawCidOf(garbage).toString()), undefined, 'a refusal is not pinned')
})
