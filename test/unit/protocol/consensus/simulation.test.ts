// Runs the deterministic Simplex simulation (test/sim) over 220 seeds as part of `npm test`: every
// seed checks agreement, prefix logs, equal state roots, no conflicting votes after restarts,
// liveness after healing and linearizable client histories. The long soak is `npm run test:sim`.

import test from 'ava'
import { runSimulation, type SimOptions } from '../../../sim/simulator.ts'

const seedsPerTest = 22
const tests = 10
// Shorter phases than the soak keep ~220 seeds near a minute on a busy 2-core machine.
const phases: Partial<SimOptions> = { faultMs: 400, livenessMs: 1500 }

for (let batch = 0; batch < tests; batch++) {
  const first = 1 + batch * seedsPerTest
  test(`Simplex simulation keeps safety and liveness for seeds ${first}..${first + seedsPerTest - 1}`, t => {
    const failures: string[] = []
    let finalized = 0
    for (let seed = first; seed < first + seedsPerTest; seed++) {
      const replicas = seed % 5 === 0 ? 7 : 4
      const result = runSimulation({ seed, replicas, ...phases })
      finalized += result.finalizedHeight
      if (!result.ok) failures.push(`seed ${seed} (${replicas} replicas): ${result.error}\n  replay: ${result.replay} --fault-ms ${phases.faultMs} --liveness-ms ${phases.livenessMs}`)
    }
    t.deepEqual(failures, [])
    t.true(finalized > seedsPerTest * 3, `only ${finalized} blocks finalized over ${seedsPerTest} seeds`)
  })
}

test('Simplex simulation replays a seed exactly (same trace digest twice)', t => {
  // Twelve of the seeds above (3, 22, 41, …; 60 and 155 with 7 replicas), each run a second time.
  for (let seed = 3; seed <= 220; seed += 19) {
    const replicas = seed % 5 === 0 ? 7 : 4
    const a = runSimulation({ seed, replicas, ...phases })
    const b = runSimulation({ seed, replicas, ...phases })
    t.is(a.digest, b.digest, `seed ${seed} is not deterministic`)
    t.is(a.steps, b.steps)
    t.is(a.finalizedHeight, b.finalizedHeight)
    t.is(a.ok, b.ok)
  }
  // And different seeds give different runs (the digest covers the trace, not a constant).
  t.not(runSimulation({ seed: 1, replicas: 4, ...phases }).digest, runSimulation({ seed: 2, replicas: 4, ...phases }).digest)
})
