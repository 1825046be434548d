// `pylon quickstart` (what `npm start` runs): a local 4-node devnet with the counter deployed in
// .pylon-dev/devnet (node/cli/commands/devnet.ts), until Ctrl-C. With --single: one loopback
// daemon in the foreground in .pylon-dev/, printing its id, API and capacity.

import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { readConfigFile, resolveConfig } from '../../config/config.ts'
import { nodeKeyFile } from '../../config/node-key.ts'
import { emit } from '../output.ts'
import { initDataDir } from './init.ts'
import { capacityTable, type AdvertView } from './capacity.ts'

export function register (program: Command): void {
  program.command('quickstart').description('start a local 4-node devnet with a counter actor in .pylon-dev/ (npm start)')
    .option('--data-dir <dir>', 'data directory', '.pylon-dev')
    .option('--single', 'one node only, showing its capacity (no subnet)')
    .option('--json', 'print JSON')
    .action(async (flags: { dataDir: string, single?: boolean, json?: boolean }) => {
      if (flags.single !== true) {
        const { devnetQuickstart } = await import('./devnet.ts')
        await devnetQuickstart(flags.dataDir, flags.json === true)
        return
      }
      const dataDir = resolve(flags.dataDir)
      const fresh = !existsSync(join(dataDir, nodeKeyFile))
      // Port 0: a newcomer may already run something on 7373, or a second quickstart.
      if (fresh) await initDataDir({ dataDir, network: 'local', api: '127.0.0.1:0', rack: 'dev', region: 'local', operator: 'me' })
      const file = await readConfigFile(dataDir)
      // Warnings only, unless the config file asks for more: the newcomer's terminal shows the table.
      const config = resolveConfig(file, { network: 'local', logLevel: file.logLevel ?? 'warn' })
      const { runDaemon } = await import('../run-daemon.ts')
      const { advertJson } = await import('../../capacity/advert-json.ts')
      await runDaemon(dataDir, config, (daemon) => {
        const adverts = daemon.book.list().map(advertJson) as unknown as AdvertView[]
        const value = { nodeId: daemon.nodeId, api: daemon.apiUrl, dataDir, capacity: adverts }
        emit(flags.json, value, () => [
          fresh ? `created ${dataDir} (node key and config)` : `using ${dataDir}`,
          `node  ${daemon.nodeId}`,
          `api   ${daemon.apiUrl}`,
          '',
          capacityTable(adverts),
          '',
          `try:  node node/cli/main.ts capacity --data-dir ${flags.dataDir}`,
          'Ctrl-C stops the node.'
        ].join('\n'))
      })
    })
}
