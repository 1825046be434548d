// `pylon subnet create|list|show|evidence`: asks the daemon to place and form a new subnet (POST /v1/subnets)
// and reads its directory of known subnets (GET /v1/directory); `evidence` (_subnet-evidence.ts) lists
// and verifies stored equivocation evidence. It decides nothing itself: placement, proposals and
// signatures happen in the daemons.

import type { Command } from 'commander'
import { clientOptions, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { CliError, emit, table } from '../output.ts'
import { subnetEvidence, type EvidenceFlags } from './_subnet-evidence.ts'
import { apiEvidencePageMax } from '../../../protocol/limits.ts'

/** Waits for placement, one proposal round and one commit round (each bounded in the daemon) and some slack. */
const createTimeoutMs = 45_000

interface DirectoryView {
  id: string
  name: string
  members: string[]
  n: number
  f: number
  quorum: number
  createdMs: string
  deltaMs: number
  serving: boolean
  source?: string
  genesis?: string
}

interface PickedView {
  nodeId: string
  labels: { rack: string, region: string, operator: string }
  reason: string
}

interface CreatedView extends DirectoryView {
  ok: true
  explanation: string[]
  picked: PickedView[]
}

interface RefusedView {
  ok: false
  error: string
  stage?: string
  refusals?: Array<{ nodeId: string, reasons: string[] }>
}

interface CreateFlags extends ClientOptions {
  size: string
  label?: string[]
  spread?: string
  name?: string
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export function register (program: Command): void {
  const subnet = program.command('subnet').description('create subnets from the network\'s capacity adverts and list the subnets the network knows')

  clientOptions(subnet.command('create')
    .description('place N nodes (by free capacity, labels and anti-affinity), have each sign the genesis, and start the subnet on them')
    .requiredOption('--size <n>', 'members: 3f+1 (1, 4, 7, …)')
    .option('--label <key=value>', 'every member must advertise this label (rack, region, operator); repeatable', collect)
    .option('--spread <key>', 'no two members share a rack, or an operator')
    .option('--name <name>', 'a human name for the subnet'))
    .action(async (flags: CreateFlags) => { await create(flags) })

  clientOptions(subnet.command('list').description('every subnet this node knows (announced on gossip, pulled from peers, or its own)'))
    .action(async (flags: ClientOptions) => {
      const subnets = await getDirectory<DirectoryView[]>(await resolveApiUrl(flags), '/v1/directory')
      emit(flags.json, subnets, () => subnets.length === 0
        ? 'no subnets known yet: create one with `pylon subnet create --size 4`'
        : table(['ID', 'NAME', 'N', 'F', 'SERVING', 'CREATED'], subnets.map(s => [s.id, s.name, String(s.n), String(s.f), s.serving ? 'yes' : 'no', isoOf(s.createdMs)])))
    })

  clientOptions(subnet.command('show').description('one subnet: its members, fault bound and parameters').argument('<id>', 'the SubnetId'))
    .action(async (id: string, flags: ClientOptions) => {
      const url = await resolveApiUrl(flags)
      const view = await getDirectory<DirectoryView>(url, `/v1/directory/${encodeURIComponent(id)}`)
      emit(flags.json, view, () => [
        `subnet   ${view.id}`,
        `name     ${view.name}`,
        `size     n=${view.n} f=${view.f} quorum=${view.quorum}`,
        `delta    ${view.deltaMs} ms`,
        `created  ${isoOf(view.createdMs)}`,
        `serving  ${view.serving ? 'yes (this node is a member)' : 'no'}`,
        'members:',
        ...view.members.map(m => `  ${m}`)
      ].join('\n'))
    })

  clientOptions(subnet.command('evidence')
    .description('equivocation evidence a member stored (two conflicting votes signed by one member in one view), each verified here against the subnet\'s genesis')
    .argument('<id>', 'the SubnetId')
    .option('--limit <n>', `records to list, newest view first: 1..${apiEvidencePageMax} (default ${apiEvidencePageMax})`))
    .action(async (id: string, flags: EvidenceFlags) => { await subnetEvidence(id, flags) })
}

async function create (flags: CreateFlags): Promise<void> {
  if (!/^[0-9]+$/.test(flags.size)) throw new CliError(`--size must be a positive integer of the form 3f+1 (1, 4, 7, …), got ${JSON.stringify(flags.size)}`)
  const labels: Record<string, string> = {}
  for (const label of flags.label ?? []) {
    const at = label.indexOf('=')
    if (at <= 0 || at === label.length - 1) throw new CliError(`--label must be KEY=VALUE (e.g. region=eu), got ${JSON.stringify(label)}`)
    labels[label.slice(0, at)] = label.slice(at + 1)
  }
  if (flags.spread !== undefined && flags.spread !== 'rack' && flags.spread !== 'operator') throw new CliError(`--spread must be rack or operator, got ${JSON.stringify(flags.spread)}`)
  const base = await resolveApiUrl(flags)
  const body = { size: Number(flags.size), labels, ...(flags.spread === undefined ? {} : { spread: flags.spread }), ...(flags.name === undefined ? {} : { name: flags.name }) }
  const answer = await postJson<CreatedView | RefusedView>(base, '/v1/subnets', body)
  if (!answer.ok) {
    if (flags.json === true) {
      emit(true, answer, () => '')
      process.exitCode = 1
      return
    }
    for (const node of answer.refusals ?? []) process.stderr.write(`  ${node.nodeId}: ${node.reasons.join('; ')}\n`)
    throw new CliError(answer.error, answer.stage === undefined ? 'api' : `subnet-${answer.stage}`)
  }
  emit(flags.json, answer, () => [
    `created subnet ${answer.id}`,
    `  name ${answer.name}, n=${answer.n}, f=${answer.f}, quorum ${answer.quorum}`,
    'members (why each was picked):',
    ...answer.picked.map(p => `  ${p.nodeId}  ${p.reason}`),
    answer.explanation[0] ?? ''
  ].join('\n'))
}

/** POSTs JSON; answers with a JSON body (success or a refusal) are returned, anything else is one clear line. */
async function postJson<T> (baseUrl: string, path: string, body: unknown): Promise<T> {
  let response: Response
  try {
    response = await fetch(baseUrl + path, {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(createTimeoutMs)
    })
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') throw new CliError(`daemon at ${baseUrl} did not answer ${path} within ${createTimeoutMs} ms`, 'api')
    throw new CliError(`no daemon at ${baseUrl}: is \`pylon daemon\` running?`, 'no-daemon')
  }
  const text = await response.text()
  try {
    return JSON.parse(text) as T
  } catch {
    throw new CliError(`daemon at ${baseUrl} answered ${response.status} for ${path}: ${text.trim().slice(0, 200)}`, 'api')
  }
}

/** GETs a directory document; the daemon's own error line (unknown subnet, bad id) is shown as is. */
async function getDirectory<T> (baseUrl: string, path: string): Promise<T> {
  let response: Response
  try {
    response = await fetch(baseUrl + path, { signal: AbortSignal.timeout(15_000) })
  } catch {
    throw new CliError(`no daemon at ${baseUrl}: is \`pylon daemon\` running?`, 'no-daemon')
  }
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new CliError(`daemon at ${baseUrl} answered ${response.status} for ${path}: ${text.trim().slice(0, 200)}`, 'api')
  }
  if (!response.ok) {
    const error = (body as { error?: unknown }).error
    throw new CliError(typeof error === 'string' ? error : `daemon at ${baseUrl} answered ${response.status} for ${path}`, response.status === 404 ? 'not-found' : 'api')
  }
  return body as T
}

function isoOf (ms: string): string {
  const n = Number(ms)
  return Number.isFinite(n) ? new Date(n).toISOString() : ms
}
