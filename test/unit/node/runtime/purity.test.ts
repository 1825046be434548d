// The actor execution path (executor, host imports, storage layers, instrumentation) computes the
// same thing on every replica: no clock, randomness, timers, process state, files or sockets.

import { readFileSync } from 'node:fs'
import test from 'ava'

const executionPath = ['executor.ts', 'host.ts', 'actor-storage.ts', 'actor-trap.ts', 'state-view.ts', 'instrument.ts', '_nan.ts']
const forbidden = /\b(Date\.now|new Date\(|Math\.random|performance\.now|setTimeout|setInterval|setImmediate|process\.|crypto\.getRandomValues|randomBytes|randomUUID)|from 'node:(fs|fs\/promises|net|http|dgram|child_process|os|worker_threads|crypto)'/

test('the actor execution path uses no clock, randomness, timers, process, files or sockets', t => {
  const offences = executionPath.flatMap(name => {
    const file = `node/runtime/${name}`
    return readFileSync(file, 'utf8').split('\n')
      .map((line, i) => ({ line, where: `${file}:${i + 1}` }))
      .filter(({ line }) => !line.trimStart().startsWith('//') && !line.trimStart().startsWith('*') && forbidden.test(line))
      .map(({ where, line }) => `${where}: ${line.trim()}`)
  })
  t.deepEqual(offences, [])
})
