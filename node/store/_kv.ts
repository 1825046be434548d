// The ordered key-value space the store is written against (private to node/store): LevelDB
// sublevels in production (_level-kv.ts), sorted maps in tests and simulation (_memory-kv.ts).
// Keeping one store implementation over two backends means one suite tests the logic for both.

/** One space per concern; each is a LevelDB sublevel of the same name. */
export const spaces = ['blocks', 'certs', 'wal', 'state', 'leaves', 'code', 'receipts', 'meta', 'checkpoints', 'nodes', 'staging', 'evidence'] as const
export type Space = typeof spaces[number]

export type KvOp =
  | { type: 'put', space: Space, key: Uint8Array, value: Uint8Array }
  | { type: 'del', space: Space, key: Uint8Array }

export interface KvRange {
  gte?: Uint8Array
  lt?: Uint8Array
  limit?: number
  reverse?: boolean
}

export interface OrderedKv {
  readonly kind: 'leveldb' | 'memory'
  get (space: Space, key: Uint8Array): Promise<Uint8Array | undefined>
  getMany (space: Space, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>>
  /** Whether `key` is present, without reading its value (a height record holds a whole block). */
  has (space: Space, key: Uint8Array): Promise<boolean>
  /** Entries in byte order of their keys (reverse when asked), within the range. */
  entries (space: Space, range?: KvRange): AsyncIterable<[Uint8Array, Uint8Array]>
  /** Applies every op or none. With sync: true, resolves only once the batch is on disk. */
  batch (ops: KvOp[], options: { sync: boolean }): Promise<void>
  /** Deletes the keys in range (not atomic with anything else; used for cleanup only). */
  clear (space: Space, range?: KvRange): Promise<void>
  close (): Promise<void>
}
