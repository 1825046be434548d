// `pylon deploy ACTOR.wasm`: uploads a component to a node of a subnet and installs it through
// consensus with a signed envelope; prints the new ActorId taken from the CERTIFIED install receipt.
// It never prints an id a node merely claims.

import { readFile, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Command } from 'commander'
import { parsePrincipal, parseSubnetId, type ActorId, type Principal, type SubnetId } from '../../../protocol/ids.ts'
import { actorCodeBytesMax, apiActorsPageMax, clientDeployCandidatesMax, clientDeployWaitMs, ingressActorNameCharsMax, ingressControllersMax } from '../../../protocol/limits.ts'
import { ApiClient, clientIdentity, noteCreatedIdentity, payloadOf, signEnvelope, verifyIngressResult } from '../client.ts'
import { clientOptions, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { CliError, emit } from '../output.ts'
import { uploadReporter } from '../upload-progress.ts'
import { settled } from './call.ts'

export interface DeployFlags extends ClientOptions {
  subnet?: string
  init: string
  name?: string
  identity?: string
  /** Extra controllers (principals) besides the deployer. */
  controller?: string[]
}

export interface DeployOutcome {
  actor: ActorId
  subnet: SubnetId
  name: string
  controllers: Principal[]
  codeCid: string
  codeBytes: number
  height: string
  certified: true
  signers: number
  members: number
}

export function register (program: Command): void {
  clientOptions(program.command('deploy')
    .description('install an actor component on a subnet (through consensus) and print its ActorId')
    .argument('<file>', 'the actor component (.wasm, e.g. contracts/build/counter.wasm)')
    .option('--subnet <id>', 'subnet to install on (default: the node\'s subnet; of several, the one with the fewest actors)')
    .option('--init <arg>', 'argument (UTF-8) for the actor\'s init', '')
    .option('--name <name>', 'actor name (default: the file name without .wasm)')
    .option('--controller <principal>', 'another principal that may upgrade and delete the actor (repeatable; the deployer always may)', collect, [])
    .option('--identity <file>', 'client key (default: $PYLON_IDENTITY or ~/.pylon/identity, created if missing)'))
    .action(async (file: string, flags: DeployFlags) => {
      const outcome = await deploy(file, flags, flags.json === true ? undefined : line => { process.stderr.write(`${line}\n`) })
      emit(flags.json, outcome, () => [
        `actor        ${outcome.actor}`,
        `name         ${outcome.name}`,
        `controllers  ${outcome.controllers.join(', ')}`,
        `code         ${outcome.codeCid} (${outcome.codeBytes} bytes)`,
        `height       ${outcome.height}`,
        `certified    yes: ${outcome.signers} of ${outcome.members} member signatures verified`,
        '',
        `try:  pylon call ${outcome.actor} METHOD [PAYLOAD] --api ${flags.api ?? '<url>'}`
      ].join('\n'))
    })
}

export async function deploy (file: string, flags: DeployFlags, progress?: (line: string) => void): Promise<DeployOutcome> {
  const code = await readComponent(file)
  const arg = payloadOf(flags.init, 'init argument')
  const name = flags.name ?? basename(file).replace(/\.wasm$/, '')
  if (name.length === 0 || name.length > ingressActorNameCharsMax) throw new CliError(`actor name must be 1..${ingressActorNameCharsMax} characters, got ${name.length}`)
  const extra = parseControllers(flags.controller ?? [])
  const client = new ApiClient(await resolveApiUrl(flags))
  const subnetId = await chooseSubnet(client, flags.subnet, progress)
  const { subnet } = await client.subnet(subnetId)
  const identity = await clientIdentity(flags.identity)
  noteCreatedIdentity(identity)
  // --json (no progress callback): nothing is drawn.
  const reporter = uploadReporter(progress === undefined ? undefined : process.stderr)
  const cid = await client.uploadCode(subnetId, code, { onProgress: reporter.onProgress })
  progress?.(`${reporter.summary(code.length, cid.toString())}; installing through consensus (every replica loads the component first)…`)
  // The subnet puts the installer first and drops it from the list; so do we, to print what it records.
  const controllers = extra.filter(c => c !== identity.signer.id)
  const ingress = signEnvelope({ kind: 'install', subnet: subnetId, code: cid, arg, name, controllers }, identity.signer)
  const verified = verifyIngressResult(settled(await client.submit(ingress, { waitMs: clientDeployWaitMs })), subnet, ingress)
  if (!verified.ok) throw new CliError(`install of ${file} failed on subnet ${subnetId} at height ${verified.height}: ${verified.error ?? 'unknown error'}`, 'actor/refused')
  return { actor: verified.actor, subnet: subnetId, name, controllers: [identity.signer.id as Principal, ...controllers], codeCid: cid.toString(), codeBytes: code.length, height: verified.height.toString(), certified: true, signers: verified.signers, members: subnet.memberIds.length }
}

/** Each --controller checked as a principal (a peer id), deduplicated and within the envelope's bound. */
export function parseControllers (values: readonly string[]): Principal[] {
  const controllers: Principal[] = []
  for (const value of values) {
    const principal = parsePrincipal(value)
    if (!principal.ok) throw new CliError(`--controller ${JSON.stringify(value.slice(0, 80))}: ${principal.error} (a principal is a peer id, as \`pylon identity show\` prints it)`, 'usage')
    if (!controllers.includes(principal.value)) controllers.push(principal.value)
  }
  if (controllers.length > ingressControllersMax) throw new CliError(`too many --controller: ${controllers.length} > ${ingressControllersMax}`, 'too-large')
  return controllers
}

function collect (value: string, previous: string[]): string[] {
  return [...previous, value]
}

export async function readComponent (file: string): Promise<Uint8Array> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch {
    throw new CliError(`cannot read ${file}: no such file`, 'usage')
  }
  if (size > actorCodeBytesMax) throw new CliError(`${file} too large: ${size} > ${actorCodeBytesMax} bytes`, 'too-large')
  const code = new Uint8Array(await readFile(file))
  // Catch the common slip (a .wat, a .js) here; the subnet checks the component itself at install.
  if (code.length < 8 || code[0] !== 0 || code[1] !== 0x61 || code[2] !== 0x73 || code[3] !== 0x6d) throw new CliError(`${file} is not WebAssembly (no \\0asm header): build it first, e.g. \`pylon build\``, 'usage')
  return code
}

/**
 * The subnet to deploy to: --subnet; else the subnet the node serves, if it serves one; else the
 * one with room among those it serves, or when it serves none among those it knows (its
 * directory): the fewest installed actors, counted up to one page each over at most
 * clientDeployCandidatesMax subnets; ties go to the lower id.
 */
export async function chooseSubnet (client: ApiClient, flag: string | undefined, progress?: (line: string) => void): Promise<SubnetId> {
  if (flag !== undefined) {
    const id = parseSubnetId(flag)
    if (!id.ok) throw new CliError(`--subnet: ${id.error}`)
    return id.value
  }
  const served = (await client.subnets()).map(s => s.id)
  const known = (served.length > 0 ? served : (await client.request<Array<{ id: string }>>('GET', '/v1/directory')).map(s => s.id as SubnetId)).sort().slice(0, clientDeployCandidatesMax)
  if (known.length === 0) throw new CliError(`${client.url} knows no subnet: create one (\`pylon subnet create --size 4\`), start a devnet (\`pylon devnet up --dir D\`), or pass --api of a subnet member`, 'no-subnet')
  if (known.length === 1) return known[0]!
  let best: { id: SubnetId, actors: number } | undefined
  for (const id of known) {
    try {
      const page = await client.request<{ actors: unknown[], next: string | null }>('GET', `/v1/subnets/${encodeURIComponent(id)}/actors?limit=${apiActorsPageMax}`)
      const actors = page.actors.length + (page.next === null ? 0 : 1)
      if (best === undefined || actors < best.actors) best = { id, actors }
    } catch {
      // A subnet no member of which answers has no room to offer.
    }
  }
  if (best === undefined) throw new CliError(`${client.url} knows ${known.length} subnets but none answered: pick one with --subnet`, 'unreachable')
  progress?.(`no --subnet: picked ${best.id}, the one with the fewest actors (${best.actors}) of ${known.length} ${served.length > 0 ? 'served' : 'known'} subnets`)
  return best.id
}
