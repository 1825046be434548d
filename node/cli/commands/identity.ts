// `pylon identity new|show`: the client key that signs calls and deploys (its peer id is the
// Principal actors see as their caller). Distinct from the node key, which identifies a daemon.

import type { Command } from 'commander'
import { createIdentity, identityEnvVar, identityPath, loadIdentity, type Identity, type IdentityLocation } from '../../identity/identity-file.ts'
import { emit } from '../output.ts'

interface IdentityFlags { identity?: string, json?: boolean, force?: boolean }

function view (identity: Identity, location: IdentityLocation, created: boolean): Record<string, unknown> {
  return { principal: identity.signer.id, publicKey: Buffer.from(identity.signer.publicKey).toString('hex'), path: identity.path, source: location.source, created }
}

function withCommon (command: Command): Command {
  return command
    .option('--identity <file>', `identity file (default: $${identityEnvVar} or ~/.pylon/identity)`)
    .option('--json', 'print JSON')
}

export function register (program: Command): void {
  const group = program.command('identity').description('manage the client identity (the key that signs your calls and deploys)')

  withCommon(group.command('new').description('create a new client identity (refuses to overwrite one)'))
    .option('--force', 'replace an existing identity; its key is lost')
    .action(async (flags: IdentityFlags) => {
      const location = identityPath({ flag: flags.identity })
      const identity = await createIdentity(location.path, { force: flags.force === true })
      emit(flags.json, view(identity, location, true), () =>
        `created identity ${identity.path} (mode 0600)\nprincipal ${identity.signer.id}`)
    })

  withCommon(group.command('show').description('print the principal of the client identity'))
    .action(async (flags: IdentityFlags) => {
      const location = identityPath({ flag: flags.identity })
      const identity = await loadIdentity(location.path)
      emit(flags.json, view(identity, location, false), () => identity.signer.id)
    })
}
