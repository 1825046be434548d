// `pylon call ACTOR METHOD [PAYLOAD]`: a signed update through consensus. Prints the outcome only
// after checking its certificate against the subnet's genesis (fetched, and checked to hash to the
// subnet id inside the ActorId); it never prints an answer it could not verify.

import type { Command } from 'commander'
import { parseActorId, subnetOfActorId, type ActorId } from '../../../protocol/ids.ts'
import { ApiClient, clientIdentity, noteCreatedIdentity, payloadFrom, signEnvelope, verifyIngressResult, type IngressResult } from '../client.ts'
import { clientOptions, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { CliError, emit, printable } from '../output.ts'

export interface CallFlags extends ClientOptions {
  identity?: string
  payloadFile?: string
}

export function register (program: Command): void {
  clientOptions(program.command('call')
    .description('send a signed update to an actor and print its certified result')
    .argument('<actor>', 'ActorId (<subnet>.<index>, as `pylon deploy` printed it)')
    .argument('<method>', 'update method')
    .argument('[payload]', 'payload as UTF-8 text', '')
    .option('--payload-file <file>', 'payload bytes from a file instead of the PAYLOAD argument')
    .option('--identity <file>', 'client key (default: $PYLON_IDENTITY or ~/.pylon/identity, created if missing)'))
    .action(async (actor: string, method: string, payload: string, flags: CallFlags) => {
      const outcome = await callActor(parseActor(actor), method, await payloadFrom(payload, flags.payloadFile), flags)
      const result = outcome.result === null ? null : printable(outcome.result)
      emit(flags.json, { ...outcome, result: result?.text ?? null, resultEncoding: result?.encoding ?? null }, () => [
        `ok         ${outcome.ok}`,
        outcome.ok ? `result     ${result === null ? '(none)' : result.text}${result?.encoding === 'hex' ? ' (hex)' : ''}` : `error      ${outcome.error ?? ''}`,
        `height     ${outcome.height}`,
        `certified  yes: ${outcome.signers} of ${outcome.members} member signatures verified (subnet ${subnetOfActorId(outcome.actor)})`
      ].join('\n'))
      // An actor's refusal is certified and printed, and still a failure for scripts.
      if (!outcome.ok) process.exitCode = 1
    })
}

export function parseActor (text: string): ActorId {
  const actor = parseActorId(text)
  if (!actor.ok) throw new CliError(`${actor.error} (an ActorId looks like <subnet>.<index>)`, 'usage')
  return actor.value
}

export interface CallOutcome {
  ok: boolean
  actor: ActorId
  method: string
  result: Uint8Array | null
  error: string | null
  height: string
  certified: true
  signers: number
  members: number
  ingressId: string
}

export async function callActor (actor: ActorId, method: string, payload: Uint8Array, flags: CallFlags): Promise<CallOutcome> {
  const client = new ApiClient(await resolveApiUrl(flags))
  const identity = await clientIdentity(flags.identity)
  noteCreatedIdentity(identity)
  await client.request('GET', `/v1/actors/${encodeURIComponent(actor)}`).catch((error: unknown) => {
    if (error instanceof CliError && error.code === 'unknown-actor') throw new CliError(`unknown actor ${actor} (never installed on its subnet, or deleted)`, 'unknown-actor')
    throw error
  })
  const ingress = signEnvelope({ kind: 'update', actor, method, payload }, identity.signer)
  const answer = settled(await client.submit(ingress))
  const { subnet } = await client.subnet(subnetOfActorId(actor))
  const verified = verifyIngressResult(answer, subnet, ingress)
  return { ok: verified.ok, actor, method, result: verified.result, error: verified.error, height: verified.height.toString(), certified: true, signers: verified.signers, members: subnet.memberIds.length, ingressId: ingress.id }
}

/** A result that has run, or a clear error for one still pending or left out of its block. */
export function settled (answer: IngressResult): IngressResult {
  if (answer.status === 'pending') throw new CliError(`no certified result for ${answer.ingressId} yet${answer.reason === undefined ? '' : ` (last: ${answer.reason})`}: the subnet may be stalled (poll GET /v1/ingress/${answer.ingressId})`, 'timeout')
  if (answer.status === 'skipped') throw new CliError(`the subnet did not execute ${answer.ingressId}: ${answer.reason ?? 'skipped'}`, answer.reason ?? 'skipped')
  return answer
}
