// The last advert sequence number, kept in the data directory so that a restarted node never
// reuses one (peers would drop its new adverts as replays). Writes are atomic: tmp file, fsync, rename.

import { open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'

export interface SequenceSource {
  /** A number greater than every one returned before, on this data directory, across restarts. */
  next (nowMs: number): Promise<bigint>
}

export class SequenceFile implements SequenceSource {
  readonly path: string
  #last: bigint | undefined

  constructor (dataDir: string) {
    this.path = join(dataDir, 'capacity.seq')
  }

  async next (nowMs: number): Promise<bigint> {
    if (this.#last === undefined) this.#last = await this.#read()
    // Millisecond time keeps numbers increasing even if the file is lost; +1 covers a clock step back.
    const candidate = BigInt(Math.trunc(nowMs))
    const seq = candidate > this.#last ? candidate : this.#last + 1n
    const tmp = `${this.path}.tmp`
    const file = await open(tmp, 'w', 0o600)
    try {
      await file.writeFile(`${seq}\n`)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, this.path)
    this.#last = seq
    return seq
  }

  async #read (): Promise<bigint> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0n
      throw error
    }
    const trimmed = text.trim()
    if (!/^[0-9]{1,20}$/.test(trimmed)) throw new Error(`${this.path} is corrupt: expected a decimal sequence number, got ${JSON.stringify(trimmed.slice(0, 32))}`)
    return BigInt(trimmed)
  }
}
