// `pylon capacity`: the network's capacity adverts as the daemon's book holds them (GET /v1/capacity).

import type { Command } from 'commander'
import { clientOptions, getJson, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { emit, table } from '../output.ts'

export interface AdvertView {
  nodeId: string
  multiaddrs: string[]
  cores: number
  memoryBytes: string
  diskFreeBytes: string
  loadPermille: number
  score: string
  labels: { rack: string, region: string, operator: string }
  version: string
  expiresAt: string
}

export function capacityTable (adverts: AdvertView[]): string {
  if (adverts.length === 0) return 'no adverts yet'
  const gib = (bytes: string): string => `${(Number(bytes) / 2 ** 30).toFixed(1)} GiB`
  return table(['NODE', 'CORES', 'MEMORY', 'DISK FREE', 'LOAD', 'SCORE (Mop/s)', 'RACK', 'REGION', 'OPERATOR', 'EXPIRES'],
    adverts.map(a => [
      a.nodeId.length > 16 ? `${a.nodeId.slice(0, 8)}…${a.nodeId.slice(-6)}` : a.nodeId,
      String(a.cores), gib(a.memoryBytes), gib(a.diskFreeBytes), `${(a.loadPermille / 10).toFixed(1)}%`,
      String(Math.round(Number(a.score) / 1e6)), a.labels.rack || '-', a.labels.region || '-', a.labels.operator || '-',
      a.expiresAt.slice(11, 19)
    ]))
}

export function register (program: Command): void {
  clientOptions(program.command('capacity').description('list the capacity adverts the daemon knows, its own included'))
    .action(async (flags: ClientOptions) => {
      const adverts = await getJson<AdvertView[]>(await resolveApiUrl(flags), '/v1/capacity')
      emit(flags.json, adverts, () => capacityTable(adverts))
    })
}
