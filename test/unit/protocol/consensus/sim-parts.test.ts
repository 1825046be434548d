import test from 'ava'
import { SimDisk } from '../../../sim/disk.ts'
import { Prng } from '../../../sim/prng.ts'

test('Prng replays from its seed and differs between seeds', t => {
  const a = new Prng(42)
  const b = new Prng(42)
  const c = new Prng(43)
  const xs = Array.from({ length: 100 }, () => a.nextU32())
  t.deepEqual(Array.from({ length: 100 }, () => b.nextU32()), xs)
  t.notDeepEqual(Array.from({ length: 100 }, () => c.nextU32()), xs)
})

test('Prng int stays in range and covers it', t => {
  const rng = new Prng(7)
  const counts = new Array(10).fill(0)
  for (let i = 0; i < 10_000; i++) {
    const x = rng.int(10)
    t.true(x >= 0 && x < 10)
    counts[x]++
  }
  for (const count of counts) t.true(count > 800 && count < 1200, `skewed bucket: ${count}`)
})

test('SimDisk keeps synced records through a crash and loses unsynced ones', t => {
  const disk = new SimDisk()
  disk.append(Uint8Array.of(1, 1), 1n)
  disk.sync()
  disk.append(Uint8Array.of(2, 2, 2, 2), 2n)
  disk.append(Uint8Array.of(3, 3), 2n)
  disk.crash(new Prng(1))
  const left = disk.read()
  t.deepEqual(left[0], Uint8Array.of(1, 1))
  t.true(left.length <= 2)
  t.is(disk.lostOnCrash, 2)
  if (left.length === 2) {
    // A torn write: a strict prefix of the first unsynced record.
    t.true(left[1]!.length < 4)
    t.is(disk.torn, 1)
  }
})

test('SimDisk tears some crashes and not others, and prunes by view', t => {
  let torn = 0
  for (let seed = 0; seed < 50; seed++) {
    const disk = new SimDisk()
    disk.append(new Uint8Array(100), 1n)
    disk.crash(new Prng(seed))
    torn += disk.torn
  }
  t.true(torn > 5 && torn < 45, `torn ${torn} of 50`)
  const disk = new SimDisk()
  for (let v = 1n; v <= 5n; v++) disk.append(Uint8Array.of(Number(v)), v)
  disk.sync()
  disk.prune(3n)
  t.deepEqual(disk.read().map(b => b[0]), [3, 4, 5])
})
