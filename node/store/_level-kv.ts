// OrderedKv on LevelDB (classic-level through `level` 10): one sublevel per space, binary keys and
// values, one root database so a batch spans sublevels atomically; except the consensus WAL, which
// is a LevelDB of its own in dir/wal (see walDirName). Never writes outside `dir`.

import { join } from 'node:path'
import { Level } from 'level'
import type { KvOp, KvRange, OrderedKv, Space } from './_kv.ts'
import { spaces } from './_kv.ts'
import { storeLevelBlockCacheBytes, storeLevelWriteBufferBytes, storeWriteBatchOps } from '../../protocol/limits.ts'

type Db = Level<Uint8Array, Uint8Array>
// A sublevel with binary keys and values (the generic sublevel type loses the value type).
type Sub = ReturnType<Db['sublevel']>

/**
 * The WAL's own LevelDB, inside the store directory (LevelDB leaves names it does not own alone).
 * One LevelDB writes its batches one at a time through one log: a vote's 100-byte synced append
 * queued behind a height's 2 MB synced batch took tens of ms; in its own database it takes its own
 * fsync only. WAL batches never mix with other spaces, so no atomicity spans the two.
 */
export const walDirName = 'wal'

export class LevelKv implements OrderedKv {
  readonly kind = 'leveldb'
  readonly #db: Db
  readonly #walDb: Db
  readonly #subs: Record<Space, Sub>
  /** The options object naming each space's sublevel in a chained batch, made once. */
  readonly #in: Record<Space, { sublevel: Sub }>

  private constructor (db: Db, walDb: Db) {
    this.#db = db
    this.#walDb = walDb
    this.#subs = Object.fromEntries(spaces.map(name => [name, this.#dbOf(name).sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' })])) as Record<Space, Sub>
    this.#in = Object.fromEntries(spaces.map(name => [name, { sublevel: this.#subs[name] }])) as Record<Space, { sublevel: Sub }>
  }

  /** Opens (creating when asked) the LevelDB at dir. Throws with code LEVEL_LOCKED if another process holds it. */
  static async open (dir: string, options: { createIfMissing: boolean }): Promise<LevelKv> {
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      createIfMissing: options.createIfMissing,
      // A height commit writes ~2 MB at 1,000 updates: LevelDB's 4 MiB default memtable flushed every
      // other height, and the extra compactions cost LevelDB's thread ~20% more CPU per update.
      writeBufferSize: storeLevelWriteBufferBytes,
      cacheSize: storeLevelBlockCacheBytes
    })
    await db.open()
    const walDb: Db = new Level<Uint8Array, Uint8Array>(join(dir, walDirName), { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: true })
    try {
      await walDb.open()
    } catch (error) {
      await db.close()
      throw error
    }
    return new LevelKv(db, walDb)
  }

  #dbOf (space: Space): Db {
    return space === 'wal' ? this.#walDb : this.#db
  }

  async get (space: Space, key: Uint8Array): Promise<Uint8Array | undefined> {
    return plain(await this.#subs[space].get(key) as Uint8Array | undefined)
  }

  async getMany (space: Space, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    return (await this.#subs[space].getMany(keys) as Array<Uint8Array | undefined>).map(plain)
  }

  async has (space: Space, key: Uint8Array): Promise<boolean> {
    return await this.#subs[space].has(key)
  }

  async * entries (space: Space, range: KvRange = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    const iterator = this.#subs[space].iterator(toOptions(range))
    try {
      for await (const [key, value] of iterator) yield [plain(key as Uint8Array)!, plain(value as Uint8Array)!]
    } finally {
      await iterator.close()
    }
  }

  /**
   * A chained batch, filled op by op: the array form costs about twice as much main-thread time per
   * op (an op object per entry, re-read property by property in the native binding), and a height
   * commit is thousands of ops. Still one atomic LevelDB write.
   */
  async batch (ops: KvOp[], options: { sync: boolean }): Promise<void> {
    if (ops.length === 0) return
    const db = this.#dbOf(ops[0]!.space)
    if (ops.some(op => this.#dbOf(op.space) !== db)) throw new Error('a batch cannot mix the WAL with other spaces: they are separate databases')
    const batch = db.batch()
    try {
      for (const [i, op] of ops.entries()) {
        if (op.type === 'put') batch.put(op.key, op.value, this.#in[op.space])
        else batch.del(op.key, this.#in[op.space])
        // Filling costs ~1 µs per op on the event loop: let other callbacks in between slices.
        if (i % storeWriteBatchOps === storeWriteBatchOps - 1) await new Promise<void>(resolve => { setImmediate(resolve) })
      }
    } catch (error) {
      await batch.close()
      throw error
    }
    await batch.write({ sync: options.sync })
  }

  async clear (space: Space, range: KvRange = {}): Promise<void> {
    await this.#subs[space].clear(toOptions(range))
  }

  async close (): Promise<void> {
    await Promise.all([this.#db.close(), this.#walDb.close()])
  }
}

function toOptions (range: KvRange): { gte?: Uint8Array, lt?: Uint8Array, limit?: number, reverse?: boolean } {
  const options: { gte?: Uint8Array, lt?: Uint8Array, limit?: number, reverse?: boolean } = {}
  if (range.gte !== undefined) options.gte = range.gte
  if (range.lt !== undefined) options.lt = range.lt
  if (range.limit !== undefined) options.limit = range.limit
  if (range.reverse !== undefined) options.reverse = range.reverse
  return options
}

/** classic-level hands out Buffers; callers get plain Uint8Array views (same memory, no copy). */
function plain (bytes: Uint8Array | undefined | null): Uint8Array | undefined {
  if (bytes === undefined || bytes === null) return undefined
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
