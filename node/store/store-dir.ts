// Where a store lives on disk. The daemon keeps its LevelDB in DATA_DIR/store; `pylon exec
// --state-dir D` opens D itself. Operator commands accept either and tell them apart by the
// LevelDB files (CURRENT) they find. Never creates anything.

import { existsSync } from 'node:fs'
import { join } from 'node:path'

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
