// `pylon init`: creates a data directory with a new node key (0600) and a config file. Never
// overwrites an existing key.

import type { Command } from 'commander'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { configFile, readConfigFile, resolveConfig, resolveDataDir, writeConfigFile } from '../../config/config.ts'
import { createNodeKey, nodeKeyFile } from '../../config/node-key.ts'
import { emit } from '../output.ts'
import { flagsToConfig, nodeOptions, type NodeFlags } from '../node-options.ts'

export interface InitResult {
  nodeId: string
  dataDir: string
  keyFile: string
  configFile: string
}

/** Creates the key and, if absent, a config file holding the given flags (checked first). */
export async function initDataDir (flags: NodeFlags): Promise<InitResult> {
  const dataDir = resolveDataDir(flags.dataDir)
  const given = Object.fromEntries(Object.entries(flagsToConfig(flags)).filter(([, v]) => v !== undefined))
  // Check the merged settings before creating anything, so a typo leaves no half-made directory.
  const existing = await readConfigFile(dataDir)
  const config = resolveConfig(existing, given)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const key = await createNodeKey(dataDir)
  if (Object.keys(existing).length === 0) {
    await writeConfigFile(dataDir, { network: config.network, api: config.api, rack: config.rack, region: config.region, operator: config.operator, ...given })
  }
  return { nodeId: key.nodeId, dataDir, keyFile: join(dataDir, nodeKeyFile), configFile: join(dataDir, configFile) }
}

export function register (program: Command): void {
  nodeOptions(program.command('init').description('create a node key and config file in the data directory'))
    .action(async (flags: NodeFlags) => {
      const result = await initDataDir(flags)
      emit(flags.json, result, () => `initialized ${result.dataDir}\nnode id  ${result.nodeId}\nkey      ${result.keyFile} (mode 0600)\nconfig   ${result.configFile}`)
    })
}
