// Holds README.md to account: every `pylon <command> [<subcommand>]` it shows must be run by some
// test, so a command added to the README without a test fails here, naming it. The tour's commands
// count as run (readme-tour.test.ts runs the tour's blocks verbatim); the rest must appear as a CLI
// invocation in a test's source. Also runs the README commands no other test ran. Reads sources;
// the second test writes only in its temporary folder.

import test from 'ava'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { repoRoot } from '../helpers/daemon-process.ts'
import { cliSubcommands, commandsIn, readme, section, shBlocks, tourHeading } from './_readme.ts'

const self = 'test/integration/readme-commands.test.ts'

function testSources (): Array<{ path: string, source: string }> {
  const found: Array<{ path: string, source: string }> = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith('.ts') && relative(repoRoot, path) !== self) found.push({ path: relative(repoRoot, path), source: readFileSync(path, 'utf8') })
    }
  }
  walk(join(repoRoot, 'test'))
  return found
}

const quote = (word: string): string => `'${word.replace(/[-]/g, '\\-')}'`

/**
 * Does this test source run `command` through the CLI? A group with a subcommand: the two words as
 * adjacent arguments ('actor', 'upgrade'), or the group followed by a spread of arguments and an
 * argument list starting with the subcommand ('identity', ...args + ['new', …]). A leaf command: its
 * name as an argument in a list, in a file that runs the CLI.
 */
function runsCommand (source: string, command: string): boolean {
  const [group, sub] = command.split(' ') as [string, string | undefined]
  const runsCli = /cliPath|node\/cli\/main\.ts|runCli|pylon\(/.test(source)
  if (!runsCli) return false
  if (sub === undefined) return new RegExp(`[[,(]\\s*${quote(group)}\\s*[,\\])]`).test(source)
  return new RegExp(`${quote(group)}\\s*,\\s*${quote(sub)}`).test(source) ||
    (new RegExp(`${quote(group)}\\s*,\\s*\\.\\.\\.`).test(source) && new RegExp(`[[(]\\s*${quote(sub)}\\s*[,\\])]`).test(source))
}

test('every pylon command README.md shows is run by a test', t => {
  const text = readme()
  const all = commandsIn(text)
  t.true(all.size >= 25, `the README shows the CLI (${all.size} commands found: ${[...all].join(', ')})`)
  // The tour's blocks are run verbatim by readme-tour.test.ts, which must still read them that way.
  const tourTest = readFileSync(join(repoRoot, 'test/integration/readme-tour.test.ts'), 'utf8')
  t.true(tourTest.includes('shBlocks(section(readme(), tourHeading))'), 'readme-tour.test.ts runs the tour\'s sh blocks')
  const inTour = commandsIn(shBlocks(section(text, tourHeading)).join('\n'))
  t.true(inTour.has('devnet up') && inTour.has('call') && inTour.has('devnet down'), `the tour runs commands: ${[...inTour].join(', ')}`)
  const sources = testSources()
  const untested: string[] = []
  const where: string[] = []
  for (const command of [...all].sort()) {
    if (inTour.has(command)) {
      where.push(`${command}: README tour`)
      continue
    }
    const runner = sources.find(s => runsCommand(s.source, command))
    if (runner === undefined) untested.push(command)
    else where.push(`${command}: ${runner.path}`)
  }
  t.log(where.join('\n'))
  t.deepEqual(untested, [], `README.md shows commands no test runs: ${untested.map(c => `pylon ${c}`).join(', ')}`)
})

test('the coverage check itself: it recognizes the invocation styles tests use and nothing else', t => {
  const cli = 'const cliPath = "node/cli/main.ts"\n'
  t.true(runsCommand(`${cli}run(['actor', 'upgrade', id])`, 'actor upgrade'))
  t.true(runsCommand(`${cli}run(['node/cli/main.ts', 'identity', ...args]); cli(['new', '--json'])`, 'identity new'))
  t.true(runsCommand(`${cli}pylon('store', 'export', '--data-dir', d)`, 'store export'))
  t.true(runsCommand(`${cli}runCli(['deploy', wasm])`, 'deploy'))
  t.false(runsCommand(`${cli}run(['actor', 'info', id])`, 'actor upgrade'), 'another subcommand')
  t.false(runsCommand("run(['actor', 'upgrade', id])", 'actor upgrade'), 'not a CLI run')
  t.false(runsCommand(`${cli}// pylon actor upgrade is tested elsewhere`, 'actor upgrade'), 'a comment is not a run')
  t.deepEqual(cliSubcommands('deploy'), [])
  t.true(cliSubcommands('actor').includes('upgrade'))
  t.deepEqual([...commandsIn('run `pylon actor upgrade X` then `pylon deploy f.wasm`, not pylon nonsense, not pylon actor')].sort(), ['actor upgrade', 'deploy'])
})
