// `pylon daemon`: runs a node in the foreground (JSON-lines logs on stderr) until SIGINT/SIGTERM.

import type { Command } from 'commander'
import { readConfigFile, resolveConfig, resolveDataDir } from '../../config/config.ts'
import { emit } from '../output.ts'
import { flagsToConfig, nodeOptions, type NodeFlags } from '../node-options.ts'

export function register (program: Command): void {
  nodeOptions(program.command('daemon').description('run a Pylon node (libp2p host, capacity adverts, local API)'))
    .action(async (flags: NodeFlags) => {
      const dataDir = resolveDataDir(flags.dataDir)
      const config = resolveConfig(await readConfigFile(dataDir), flagsToConfig(flags))
      // Loaded on use: the libp2p stack costs ~1 s to import, which client commands should not pay.
      const { runDaemon } = await import('../run-daemon.ts')
      await runDaemon(dataDir, config, (daemon) => {
        const ready = { nodeId: daemon.nodeId, api: daemon.apiUrl, multiaddrs: daemon.net.multiaddrs() }
        emit(flags.json, ready, () => `node ${ready.nodeId} running\napi  ${ready.api}\n${ready.multiaddrs.map(a => `addr ${a}`).join('\n')}`)
      })
    })
}
