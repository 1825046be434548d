// `pylon peers`: the daemon's open libp2p connections (GET /v1/peers).

import type { Command } from 'commander'
import { clientOptions, getJson, resolveApiUrl, type ClientOptions } from '../daemon-client.ts'
import { emit, table } from '../output.ts'

interface Peer { nodeId: string, remoteAddr: string, direction: string, openedAtMs: number, gossipScore: number }

export function register (program: Command): void {
  clientOptions(program.command('peers').description('list the daemon\'s connected peers'))
    .action(async (flags: ClientOptions) => {
      const peers = await getJson<Peer[]>(await resolveApiUrl(flags), '/v1/peers')
      emit(flags.json, peers, () => peers.length === 0
        ? 'no peers connected'
        : table(['NODE', 'DIRECTION', 'ADDRESS', 'SINCE', 'GOSSIP SCORE'], peers.map(p => [p.nodeId, p.direction, p.remoteAddr, new Date(p.openedAtMs).toISOString(), p.gossipScore.toFixed(1)])))
    })
}
