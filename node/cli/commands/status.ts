// `pylon status`: what the running daemon says about itself (GET /v1/node).

import type { Command } from 'commander'
import { clientOptions, getJson, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { emit } from '../output.ts'

/** A subnet's state sync since the daemon started (node/subnet/state-sync.ts progressJson). */
interface StateSyncStatus { phase: string, height?: string, chunksDone: number, chunksTotal: number, bytes: number, faults: Record<string, number>, attempts: number, error?: string }

interface NodeStatus {
  nodeId: string
  version: string
  network: string
  multiaddrs: string[]
  peers: number
  adverts: number
  labels: { rack: string, region: string, operator: string }
  startedAt: string
  uptimeMs: number
  /** Subnets the node serves (absent from daemons older than subnets). */
  subnets?: Array<{ id: string, members: string[], height: string, stateRoot: string, stateSync?: StateSyncStatus }>
}

export function register (program: Command): void {
  clientOptions(program.command('status').description('show the running daemon\'s identity, addresses and counts'))
    .action(async (flags: ClientOptions) => {
      const url = await resolveApiUrl(flags)
      const s = await getJson<NodeStatus>(url, '/v1/node')
      emit(flags.json, s, () => [
        `node     ${s.nodeId}`,
        `version  ${s.version} (${s.network} network)`,
        `api      ${url}`,
        `uptime   ${Math.round(s.uptimeMs / 1000)} s since ${s.startedAt}`,
        `peers    ${s.peers}`,
        `adverts  ${s.adverts}`,
        `labels   rack=${s.labels.rack || '-'} region=${s.labels.region || '-'} operator=${s.labels.operator || '-'}`,
        ...s.multiaddrs.map(a => `addr     ${a}`),
        ...(s.subnets ?? []).flatMap(n => [
          `subnet   ${n.id}  height ${n.height}  ${n.members.length} members  root ${n.stateRoot.slice(0, 16)}…`,
          ...(n.stateSync === undefined ? [] : [`  sync   ${describeSync(n.stateSync)}`])
        ])
      ].join('\n'))
    })
}

/** One line: `done: checkpoint 90, 2/2 chunks, 15.1 kB, 1 attempt, faults bad-chunk=1`. */
function describeSync (sync: StateSyncStatus): string {
  const faults = Object.entries(sync.faults).map(([fault, count]) => `${fault}=${count}`).join(' ')
  return [
    `${sync.phase}${sync.height === undefined ? '' : `: checkpoint ${sync.height}`}`,
    `${sync.chunksDone}/${sync.chunksTotal} chunks`,
    `${(sync.bytes / 1000).toFixed(1)} kB`,
    `${sync.attempts} attempt${sync.attempts === 1 ? '' : 's'}`,
    ...(faults === '' ? [] : [`faults ${faults}`]),
    ...(sync.error === undefined ? [] : [`last error: ${sync.error}`])
  ].join(', ')
}
