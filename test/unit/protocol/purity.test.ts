import test from 'ava'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

// protocol/ is what every replica must compute identically: no clock, randomness, timers,
// process state, files or sockets may reach it (STYLE.md "Determinism and limits").
const forbidden = /\b(Date\.now|new Date\(|Math\.random|performance\.now|setTimeout|setInterval|setImmediate|process\.|crypto\.getRandomValues|randomBytes)|from 'node:(fs|net|http|dgram|child_process|os|worker_threads)/

function filesUnder (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [])
}

test('protocol/ uses no clock, randomness, timers, process, files or sockets', t => {
  const files = filesUnder('protocol')
  t.true(files.length > 0)
  const offences = files.flatMap(file => readFileSync(file, 'utf8').split('\n')
    .map((line, i) => ({ line, where: `${file}:${i + 1}` }))
    .filter(({ line }) => !line.trimStart().startsWith('//') && !line.trimStart().startsWith('*') && forbidden.test(line))
    .map(({ where, line }) => `${where}: ${line.trim()}`))
  t.deepEqual(offences, [])
})

test('protocol/ imports nothing from node/, test/ or bench/', t => {
  const offences = filesUnder('protocol').filter(file => /from '\.\.\/+(\.\.\/)*(node|test|bench)\//.test(readFileSync(file, 'utf8')))
  t.deepEqual(offences, [])
})
