// Reads README.md for the tests that hold it to account: the tour's ```sh blocks (run verbatim by
// readme-tour.test.ts) and every `pylon <command> [<subcommand>]` the README mentions (checked
// against the tests by readme-commands.test.ts). Reads files only; never writes.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '../helpers/daemon-process.ts'

export const tourHeading = '## Tour: two subnets, ping–pong across them'
/** The folder the tour names; the test runs the tour in a fresh temporary folder instead. */
export const tourDir = '/tmp/pylon-tour'

export function readme (): string {
  return readFileSync(join(repoRoot, 'README.md'), 'utf8')
}

/** The text of one `## ` section: from its heading to the next heading of level 1 or 2. */
export function section (text: string, heading: string): string {
  const lines = text.split('\n')
  const start = lines.indexOf(heading)
  if (start < 0) throw new Error(`README.md has no section ${JSON.stringify(heading)}`)
  let end = start + 1
  let fenced = false
  for (; end < lines.length; end++) {
    if (lines[end]!.startsWith('```')) fenced = !fenced
    if (!fenced && /^##? /.test(lines[end]!)) break
  }
  return lines.slice(start, end).join('\n')
}

/** The bodies of the ```sh fenced blocks, in order (output blocks use other fences). */
export function shBlocks (text: string): string[] {
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map(m => m[1]!)
}

/** The CLI's top-level commands, read from the `groups` list of node/cli/main.ts. */
export function cliGroups (): string[] {
  const main = readFileSync(join(repoRoot, 'node/cli/main.ts'), 'utf8')
  const list = /const groups = \[([\s\S]*?)\]/.exec(main)?.[1]
  if (list === undefined) throw new Error('node/cli/main.ts has no `const groups = [...]`')
  return [...list.matchAll(/'([a-z-]+)'/g)].map(m => m[1]!)
}

/** A group's subcommands (`.command('x')` in node/cli/commands/<group>.ts); empty for a leaf command. */
export function cliSubcommands (group: string): string[] {
  const source = readFileSync(join(repoRoot, 'node/cli/commands', `${group}.ts`), 'utf8')
  return [...source.matchAll(/\.command\('([a-z-]+)'/g)].map(m => m[1]!).filter(name => name !== group)
}

/**
 * Every command the text shows as `pylon <group> [<subcommand>]` with a group the CLI has: "actor
 * upgrade", "deploy", … (a group named without one of its subcommands is not a command and is left out).
 */
export function commandsIn (text: string): Set<string> {
  const groups = new Set(cliGroups())
  const found = new Set<string>()
  for (const m of text.matchAll(/\bpylon ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)) {
    const group = m[1]!
    if (!groups.has(group)) continue
    const subs = cliSubcommands(group)
    if (subs.length === 0) found.add(group)
    else if (m[2] !== undefined && subs.includes(m[2])) found.add(`${group} ${m[2]}`)
  }
  return found
}
