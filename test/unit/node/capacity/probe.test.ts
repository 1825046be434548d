import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { measureComputeScore, spinModuleBytes } from '../../../../node/capacity/compute-score.ts'
import { probeMachine } from '../../../../node/capacity/probe.ts'
import { SequenceFile } from '../../../../node/capacity/sequence-file.ts'

test('probeMachine reports cores, memory and free disk of the data directory as integers', async t => {
  const probe = await probeMachine(tmpdir())
  t.true(Number.isInteger(probe.cores) && probe.cores > 0)
  t.true(probe.memoryBytes > 0n)
  t.true(probe.diskFreeBytes > 0n)
  t.true(Number.isInteger(probe.loadPermille) && probe.loadPermille >= 0)
})

test('the compute-score module is valid wasm and the score is a positive rate', t => {
  const wasm = (globalThis as unknown as { WebAssembly: { validate (b: Uint8Array): boolean } }).WebAssembly
  t.true(wasm.validate(spinModuleBytes))
  const score = measureComputeScore({ targetMs: 5 })
  t.true(score > 1_000_000n, `score ${score}`)
})

test('SequenceFile never repeats a number: across instances, with a clock stepping back, and persists it', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-seq-'))
  const a = new SequenceFile(dir)
  const s1 = await a.next(1000)
  const s2 = await a.next(1000)
  const s3 = await a.next(10)
  t.deepEqual([s1, s2, s3], [1000n, 1001n, 1002n])
  t.is(readFileSync(join(dir, 'capacity.seq'), 'utf8'), '1002\n')
  t.is(await new SequenceFile(dir).next(5), 1003n, 'a restart continues after the persisted number')
  writeFileSync(join(dir, 'capacity.seq'), 'garbage')
  await t.throwsAsync(new SequenceFile(dir).next(1), { message: /capacity\.seq is corrupt/ })
})
