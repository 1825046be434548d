// Flags shared by `pylon init`, `pylon daemon` and `pylon quickstart`: each maps to one config
// setting (node/config/config.ts), and an absent flag leaves the config file's value in force.

import type { Command } from 'commander'
import type { ConfigInput } from '../config/config.ts'
import { CliError } from './output.ts'

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export function nodeOptions (command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data directory (default: $PYLON_DATA_DIR or ~/.pylon)')
    .option('--network <kind>', 'local (loopback defaults, mDNS allowed) or public')
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default local: 127.0.0.1 tcp+ws on free ports)', collect)
    .option('--bootstrap <multiaddr>', 'peer to dial at start, /…/p2p/<id>, repeatable', collect)
    .option('--mdns', 'discover peers on the LAN by multicast DNS (network local only)')
    .option('--no-mdns', 'disable mDNS')
    .option('--api <host:port>', 'local HTTP API address (default 127.0.0.1:7373; port 0 picks one)')
    .option('--rack <label>', 'rack label for this node\'s capacity advert')
    .option('--region <label>', 'region label')
    .option('--operator <label>', 'operator label')
    .option('--advert-interval <ms>', 'how often to republish the capacity advert, in ms (default 30000)')
    .option('--log-level <level>', 'debug, info, warn or error')
    .option('--json', 'print JSON')
}

export interface NodeFlags {
  dataDir?: string
  network?: string
  listen?: string[]
  bootstrap?: string[]
  mdns?: boolean
  api?: string
  rack?: string
  region?: string
  operator?: string
  advertInterval?: string
  logLevel?: string
  json?: boolean
}

/** The flags as config input (undefined = not given). */
export function flagsToConfig (flags: NodeFlags): ConfigInput {
  let advertIntervalMs: number | undefined
  if (flags.advertInterval !== undefined) {
    advertIntervalMs = Number(flags.advertInterval)
    if (!/^[0-9]+$/.test(flags.advertInterval)) throw new CliError(`bad config: advertIntervalMs must be an integer number of ms, got ${JSON.stringify(flags.advertInterval)}`, 'config')
  }
  return {
    network: flags.network,
    listen: flags.listen,
    bootstrap: flags.bootstrap,
    mdns: flags.mdns,
    api: flags.api,
    rack: flags.rack,
    region: flags.region,
    operator: flags.operator,
    advertIntervalMs,
    logLevel: flags.logLevel
  }
}
