// `pylon actor info|list|upgrade|delete`: managing deployed actors. Upgrade and delete are signed
// envelopes that go through consensus; their outcome is printed only from the CERTIFIED receipt
// (checked like `call`'s). A subnet's refusal (not a controller) is printed as it and exits 1.

import type { Command } from 'commander'
import { parseSubnetId, subnetOfActorId, type ActorId, type Principal, type SubnetId } from '../../../protocol/ids.ts'
import { apiActorsPageMax, clientDeployWaitMs } from '../../../protocol/limits.ts'
import { ApiClient, clientIdentity, noteCreatedIdentity, signEnvelope, verifyIngressResult } from '../client.ts'
import { clientOptions, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { CliError, emit, table } from '../output.ts'
import { uploadReporter } from '../upload-progress.ts'
import { parseActor, settled } from './call.ts'
import { readComponent } from './deploy.ts'

/** GET /v1/actors/:actorId and one entry of GET /v1/subnets/:id/actors (the replicated record). */
export interface ActorJson {
  actor: ActorId
  subnet: SubnetId
  name: string
  codeCid: string
  controllers: Principal[]
  installer: Principal
  installedAt: string
  upgradedAt: string | null
}

/** GET /v1/subnets/:id/actors. */
export interface ActorPage {
  subnet: SubnetId
  height: string
  actors: ActorJson[]
  /** Pass as ?after= for the next page; null on the last page. */
  next: string | null
}

export interface ActorFlags extends ClientOptions {
  identity?: string
  subnet?: string
  after?: string
}

/** What an upgrade or delete came to, every field covered by the certificate (but `codeCid`, which the receipt's request named). */
export interface ManageOutcome {
  ok: boolean
  action: 'upgrade' | 'delete'
  actor: ActorId
  error: string | null
  codeCid?: string
  codeBytes?: number
  height: string
  certified: true
  signers: number
  members: number
  ingressId: string
}

const identityOption = ['--identity <file>', 'client key (default: $PYLON_IDENTITY or ~/.pylon/identity, created if missing)'] as const

export function register (program: Command): void {
  const group = program.command('actor').description('inspect and manage deployed actors (info, list, upgrade, delete)')

  clientOptions(group.command('info')
    .description('print an actor\'s record: name, code, controllers, installer, install and upgrade heights')
    .argument('<actor>', 'ActorId (<subnet>.<index>)'))
    .action(async (actor: string, flags: ActorFlags) => {
      const info = await actorInfo(parseActor(actor), flags)
      emit(flags.json, info, () => [
        `actor        ${info.actor}`,
        `name         ${info.name}`,
        `code         ${info.codeCid}`,
        `controllers  ${info.controllers.join('\n             ')}`,
        `installer    ${info.installer}`,
        `installed    height ${info.installedAt}`,
        `upgraded     ${info.upgradedAt === null ? '(never)' : `height ${info.upgradedAt}`}`
      ].join('\n'))
    })

  clientOptions(group.command('list')
    .description('list the actors installed on a subnet (the node\'s replicated records)')
    .option('--subnet <id>', 'subnet to list (default: the node\'s only subnet)')
    .option('--after <index>', `list actors with an index above this one (pages of ${apiActorsPageMax})`))
    .action(async (flags: ActorFlags) => {
      const page = await listActors(flags)
      emit(flags.json, page, () => [
        page.actors.length === 0
          ? `no actors on subnet ${page.subnet} (height ${page.height})`
          : table(['ACTOR', 'NAME', 'CODE', 'CONTROLLERS', 'UPGRADED'], page.actors.map(a => [a.actor, a.name, a.codeCid, String(a.controllers.length), a.upgradedAt ?? '-'])),
        ...(page.next === null ? [] : [`(${page.actors.length} shown; more with --after ${page.next})`])
      ].join('\n'))
    })

  clientOptions(group.command('upgrade')
    .description('replace an actor\'s code through consensus, keeping its storage (controllers only)')
    .argument('<actor>', 'ActorId (<subnet>.<index>)')
    .argument('<file>', 'the new component (.wasm)')
    .option(...identityOption))
    .action(async (actor: string, file: string, flags: ActorFlags) => {
      printManaged(await upgradeActor(parseActor(actor), file, flags, flags.json === true ? undefined : line => { process.stderr.write(`${line}\n`) }), flags)
    })

  clientOptions(group.command('delete')
    .description('delete an actor and its storage through consensus (controllers only)')
    .argument('<actor>', 'ActorId (<subnet>.<index>)')
    .option(...identityOption))
    .action(async (actor: string, flags: ActorFlags) => {
      printManaged(await deleteActor(parseActor(actor), flags), flags)
    })
}

function printManaged (outcome: ManageOutcome, flags: ActorFlags): void {
  const done = outcome.action === 'upgrade' ? `upgraded to ${outcome.codeCid ?? ''} (storage kept)` : 'deleted (with its storage)'
  emit(flags.json, outcome, () => [
    outcome.ok ? `${outcome.actor} ${done}` : `refused: ${outcome.error ?? 'unknown error'}`,
    `height       ${outcome.height}`,
    `certified    yes: ${outcome.signers} of ${outcome.members} member signatures verified`
  ].join('\n'))
  // The subnet's refusal is certified and printed, and still a failure for scripts.
  if (!outcome.ok) {
    if (flags.json !== true) process.stderr.write(`pylon: ${outcome.action} of ${outcome.actor} refused by subnet ${subnetOfActorId(outcome.actor)}: ${outcome.error ?? 'unknown error'}\n`)
    process.exitCode = 1
  }
}

/** GET /v1/actors/:actorId, with a clear error for an actor that is not (or no longer) installed. */
export async function actorInfo (actor: ActorId, flags: ClientOptions, client?: ApiClient): Promise<ActorJson> {
  const api = client ?? new ApiClient(await resolveApiUrl(flags))
  return await api.request<ActorJson>('GET', `/v1/actors/${encodeURIComponent(actor)}`).catch((error: unknown) => {
    if (error instanceof CliError && error.code === 'unknown-actor') throw new CliError(`unknown actor ${actor} (never installed on its subnet, or deleted)`, 'unknown-actor')
    throw error
  })
}

/** One page (apiActorsPageMax) of a subnet's actors; --subnet, else the node's only subnet. */
export async function listActors (flags: ActorFlags): Promise<ActorPage> {
  const client = new ApiClient(await resolveApiUrl(flags))
  let subnet: SubnetId
  if (flags.subnet !== undefined) {
    const id = parseSubnetId(flags.subnet)
    if (!id.ok) throw new CliError(`--subnet: ${id.error}`)
    subnet = id.value
  } else {
    const served = await client.subnets()
    if (served.length !== 1) throw new CliError(served.length === 0 ? `${client.url} serves no subnet: pass --api of a subnet member` : `${client.url} serves ${served.length} subnets: pick one with --subnet (${served.map(s => s.id).join(', ')})`, served.length === 0 ? 'no-subnet' : 'usage')
    subnet = served[0]!.id
  }
  if (flags.after !== undefined && !/^\d{1,20}$/.test(flags.after)) throw new CliError(`--after must be an actor index (a non-negative integer), got ${JSON.stringify(flags.after.slice(0, 32))}`)
  const after = flags.after === undefined ? '' : `&after=${flags.after}`
  return await client.request<ActorPage>('GET', `/v1/subnets/${encodeURIComponent(subnet)}/actors?limit=${apiActorsPageMax}${after}`)
}

/** Uploads the new code and sends a signed `upgrade`; the outcome is the certified receipt's. */
export async function upgradeActor (actor: ActorId, file: string, flags: ActorFlags, progress?: (line: string) => void): Promise<ManageOutcome> {
  const code = await readComponent(file)
  const client = new ApiClient(await resolveApiUrl(flags))
  await actorInfo(actor, flags, client)
  const identity = await clientIdentity(flags.identity)
  noteCreatedIdentity(identity)
  // --json (no progress callback): nothing is drawn.
  const reporter = uploadReporter(progress === undefined ? undefined : process.stderr)
  const cid = await client.uploadCode(subnetOfActorId(actor), code, { onProgress: reporter.onProgress })
  progress?.(`${reporter.summary(code.length, cid.toString())}; upgrading ${actor} through consensus (every replica loads the component first)…`)
  // The subnet runs nothing at upgrade (the storage is kept as it is), so the argument is empty.
  const ingress = signEnvelope({ kind: 'upgrade', actor, code: cid, arg: new Uint8Array(0) }, identity.signer)
  return { ...await certified('upgrade', actor, ingress, client, clientDeployWaitMs), codeCid: cid.toString(), codeBytes: code.length }
}

/** Sends a signed `delete`; the outcome is the certified receipt's. */
export async function deleteActor (actor: ActorId, flags: ActorFlags): Promise<ManageOutcome> {
  const client = new ApiClient(await resolveApiUrl(flags))
  await actorInfo(actor, flags, client)
  const identity = await clientIdentity(flags.identity)
  noteCreatedIdentity(identity)
  const ingress = signEnvelope({ kind: 'delete', actor }, identity.signer)
  return await certified('delete', actor, ingress, client)
}

async function certified (action: 'upgrade' | 'delete', actor: ActorId, ingress: ReturnType<typeof signEnvelope>, client: ApiClient, waitMs?: number): Promise<ManageOutcome> {
  const answer = settled(await client.submit(ingress, { waitMs }))
  const { subnet } = await client.subnet(subnetOfActorId(actor))
  const verified = verifyIngressResult(answer, subnet, ingress)
  // The receipt must be about this actor and this operation: a node cannot pass off another one.
  if (verified.actor !== actor || verified.method !== `$${action}`) throw new CliError(`certified receipt is for ${verified.method} on ${verified.actor}, not $${action} on ${actor}`, 'untrusted')
  return { ok: verified.ok, action, actor, error: verified.error, height: verified.height.toString(), certified: true, signers: verified.signers, members: subnet.memberIds.length, ingressId: ingress.id }
}
