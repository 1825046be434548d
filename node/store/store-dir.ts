// Where a store lives on disk. The daemon keeps its LevelDB in DATA_DIR/store and each subnet's in
// DATA_DIR/subnets/<SubnetId>/store; `pylon exec --state-dir D` opens D itself. Operator commands
// accept any of these and tell them apart by the LevelDB files (CURRENT) they find. Never creates anything.

import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { err, ok, type Result } from '../../protocol/result.ts'

/** The daemon's store directory inside a data directory. */
export function storeDirIn (dataDir: string): string {
  return join(dataDir, 'store')
}

/** True when `dir` holds a LevelDB database (its CURRENT file names the live manifest). */
export function isLevelDbDir (dir: string): boolean {
  return existsSync(join(dir, 'CURRENT'))
}

/**
 * The store a `--data-dir D` names: D itself when D is a LevelDB directory (an exec state dir),
 * else D/store (a daemon data dir). Undefined when neither exists.
 */
export function findStoreDir (dir: string): string | undefined {
  if (isLevelDbDir(dir)) return dir
  if (isLevelDbDir(storeDirIn(dir))) return storeDirIn(dir)
  return undefined
}

/** The store of subnet `subnet` inside a daemon data directory. */
export function subnetStoreDirIn (dataDir: string, subnet: string): string {
  return join(dataDir, 'subnets', subnet, 'store')
}

/** SubnetIds whose store exists under DATA_DIR/subnets, sorted. */
export function subnetStoresIn (dataDir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(join(dataDir, 'subnets'))
  } catch {
    return []
  }
  return names.filter(name => isLevelDbDir(subnetStoreDirIn(dataDir, name))).sort()
}

/**
 * The existing store `--data-dir D [--subnet ID]` names: with a subnet, D/subnets/ID/store; else D
 * itself, D/store, or the only subnet store in D. An error names what was looked for, and lists
 * the subnets when there are several to choose from.
 */
export function resolveStoreDir (dir: string, subnet?: string): Result<string> {
  if (subnet !== undefined) {
    const path = subnetStoreDirIn(dir, subnet)
    if (isLevelDbDir(path)) return ok(path)
    const known = subnetStoresIn(dir)
    return err(`no store for subnet ${subnet} in ${dir} (looked for ${join(path, 'CURRENT')}); subnets with a store here: ${known.length === 0 ? 'none' : known.join(', ')}`)
  }
  const found = findStoreDir(dir)
  if (found !== undefined) return ok(found)
  const subnets = subnetStoresIn(dir)
  if (subnets.length === 1) return ok(subnetStoreDirIn(dir, subnets[0]!))
  if (subnets.length > 1) return err(`${dir} holds ${subnets.length} subnet stores; pick one with --subnet: ${subnets.join(', ')}`)
  return err(`no store in ${dir} (looked for ${join(dir, 'CURRENT')}, ${join(storeDirIn(dir), 'CURRENT')} and ${join(dir, 'subnets', '*', 'store')})`)
}
