#!/usr/bin/env node
// The `pylon` command. Each command group registers itself from node/cli/commands/; this file
// only assembles them and turns errors into one clear line and a non-zero exit code.

import { Command, CommanderError } from 'commander'
import { failAndExit } from './output.ts'
import * as build from './commands/build.ts'
import * as call from './commands/call.ts'
import * as capacity from './commands/capacity.ts'
import * as daemon from './commands/daemon.ts'
import * as deploy from './commands/deploy.ts'
import * as devnet from './commands/devnet.ts'
import * as exec from './commands/exec.ts'
import * as id from './commands/id.ts'
import * as identity from './commands/identity.ts'
import * as init from './commands/init.ts'
import * as peers from './commands/peers.ts'
import * as query from './commands/query.ts'
import * as quickstart from './commands/quickstart.ts'
import * as status from './commands/status.ts'
import * as store from './commands/store.ts'
import * as subnet from './commands/subnet.ts'

const program = new Command('pylon')
  .description('Pylon: an open compute node. Replicated WebAssembly actors on BFT subnets over libp2p.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()

// Command groups. Each file exports `register(program)`.
const groups: Array<{ register: (program: Command) => void }> = [
  init, daemon, id, status, peers, capacity, quickstart,
  identity,
  store,
  build, exec,
  devnet, deploy, call, query,
  subnet,
]
for (const group of groups) group.register(program)

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are not failures; usage errors were already printed by commander.
    process.exit(error.exitCode === 0 ? 0 : 2)
  }
  failAndExit(error, process.argv.includes('--json'))
}
