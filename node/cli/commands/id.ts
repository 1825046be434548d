// `pylon id`: prints this data directory's node id, read from its key (no daemon needed).

import type { Command } from 'commander'
import { resolveDataDir } from '../../config/config.ts'
import { loadNodeKey } from '../../config/node-key.ts'
import { emit } from '../output.ts'

export function register (program: Command): void {
  program.command('id').description('print the node id of the key in the data directory')
    .option('--data-dir <dir>', 'data directory (default: $PYLON_DATA_DIR or ~/.pylon)')
    .option('--json', 'print JSON')
    .action(async (flags: { dataDir?: string, json?: boolean }) => {
      const key = await loadNodeKey(resolveDataDir(flags.dataDir))
      const value = { nodeId: key.nodeId, publicKey: Buffer.from(key.signer.publicKey).toString('hex') }
      emit(flags.json, value, () => value.nodeId)
    })
}
