// `pylon query ACTOR METHOD [PAYLOAD]`: a signed, read-only call answered by one replica from its
// latest committed state, without consensus. The answer is that replica's word (not certified).

import type { Command } from 'commander'
import type { ActorId } from '../../../protocol/ids.ts'
import { ApiClient, clientIdentity, noteCreatedIdentity, payloadFrom, signEnvelope, type QueryResult } from '../client.ts'
import { clientOptions, resolveApiUrl } from '../daemon-client.ts'
import { CliError, emit, printable } from '../output.ts'
import { parseActor, type CallFlags } from './call.ts'

export function register (program: Command): void {
  clientOptions(program.command('query')
    .description('run a read-only query on one replica (no consensus, not certified)')
    .argument('<actor>', 'ActorId (<subnet>.<index>)')
    .argument('<method>', 'query method')
    .argument('[payload]', 'payload as UTF-8 text', '')
    .option('--payload-file <file>', 'payload bytes from a file instead of the PAYLOAD argument')
    .option('--identity <file>', 'client key (default: $PYLON_IDENTITY or ~/.pylon/identity, created if missing)'))
    .action(async (actor: string, method: string, payload: string, flags: CallFlags) => {
      const answer = await queryActor(parseActor(actor), method, await payloadFrom(payload, flags.payloadFile), flags)
      const bytes = answer.result === null ? null : Buffer.from(answer.result, 'base64')
      const result = bytes === null ? null : printable(bytes)
      const value = { ok: answer.ok, actor: answer.actor, method: answer.method, result: result?.text ?? null, resultEncoding: result?.encoding ?? null, error: answer.error, height: answer.height, certified: false }
      emit(flags.json, value, () => [
        `ok      ${answer.ok}`,
        answer.ok ? `result  ${result === null ? '(none)' : result.text}${result?.encoding === 'hex' ? ' (hex)' : ''}` : `error   ${answer.error ?? ''}`,
        `height  ${answer.height} (one replica's committed state; not certified)`
      ].join('\n'))
      if (!answer.ok) process.exitCode = 1
    })
}

export async function queryActor (actor: ActorId, method: string, payload: Uint8Array, flags: CallFlags): Promise<QueryResult> {
  const client = new ApiClient(await resolveApiUrl(flags))
  const identity = await clientIdentity(flags.identity)
  noteCreatedIdentity(identity)
  const ingress = signEnvelope({ kind: 'query', actor, method, payload }, identity.signer)
  return await client.query(ingress).catch((error: unknown) => {
    if (error instanceof CliError && error.code === 'unknown-actor') throw new CliError(`unknown actor ${actor} (never installed on its subnet, or deleted)`, 'unknown-actor')
    throw error
  })
}
