// Reads what this machine offers: cores, memory, free disk under the data directory, load. Never
// writes anything; the compute score is measured separately (compute-score.ts) because it costs time.

import { statfs } from 'node:fs/promises'
import { availableParallelism, loadavg, totalmem } from 'node:os'

export interface MachineProbe {
  cores: number
  memoryBytes: bigint
  diskFreeBytes: bigint
  /** 1-minute load average per core, in thousandths. */
  loadPermille: number
}

/** Probes the machine; `dataDir` names the filesystem whose free space counts. */
export async function probeMachine (dataDir: string): Promise<MachineProbe> {
  const cores = availableParallelism()
  const disk = await statfs(dataDir, { bigint: true })
  const load = loadavg()[0] ?? 0
  return {
    cores,
    memoryBytes: BigInt(totalmem()),
    diskFreeBytes: disk.bavail * disk.bsize,
    loadPermille: Math.min(0xffff_ffff, Math.round((load / cores) * 1000))
  }
}
