// `pylon status`: what the running daemon says about itself (GET /v1/node).

import type { Command } from 'commander'
import { clientOptions, getJson, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { emit } from '../output.ts'

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
  subnets?: Array<{ id: string, members: string[], height: string, stateRoot: string }>
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
        ...(s.subnets ?? []).map(n => `subnet   ${n.id}  height ${n.height}  ${n.members.length} members  root ${n.stateRoot.slice(0, 16)}…`)
      ].join('\n'))
    })
}
