#!/usr/bin/env node
// The `pylon` command. Each command group registers itself from node/cli/commands/; this file
// only assembles them and turns errors into one clear line and a non-zero exit code.

import { Command, CommanderError } from 'commander'
import { failAndExit } from './output.ts'

const program = new Command('pylon')
  .description('Pylon: an open compute node. Replicated WebAssembly actors on BFT subnets over libp2p.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()

// Command groups: each file registers the one top-level command it is named after. Only the group
// the command line names is imported, so `pylon status` does not load the runtime (binaryen, jco:
// ~90 MiB and ~1 s per process); help, version and unknown names load them all.
const groups = [
  'init', 'daemon', 'id', 'status', 'peers', 'capacity', 'quickstart',
  'identity', 'store', 'build', 'exec',
  'devnet', 'deploy', 'call', 'query', 'subnet', 'actor', 'watch'
]
const named = process.argv.slice(2).find(arg => !arg.startsWith('-'))
for (const name of named !== undefined && groups.includes(named) ? [named] : groups) {
  const group = await import(`./commands/${name}.ts`) as { register: (program: Command) => void }
  group.register(program)
}

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not failures; usage errors were already printed by commander.
    process.exit(error.exitCode === 0 ? 0 : 2)
  }
  failAndExit(error, process.argv.includes('--json'))
}
