// The replay history of one subnet in memory: every request named by the committed `expiring/`
// rows of the system state (one row per block, system-state.ts), so the replay check and the prune
// of expired rows read nothing from the store. It must equal the committed state exactly: it is
// built from the store (start, after a state replacement) and changed only with what a successful
// commit wrote and deleted. It never decides anything itself and never reads a clock.

import type { ActorId } from '../../protocol/ids.ts'
import type { RequestId } from '../../protocol/ingress.ts'
import { stateRangeEntriesMax } from '../../protocol/limits.ts'
import { assert } from '../core/assert.ts'
import type { Store } from '../store/store.ts'
import { decodeHistoryRow, historyKeyOf, keysAfter, systemKeys } from './system-state.ts'

/** One committed history row: the requests one block executed. */
export interface HistoryRow {
  /** Its system-state key (systemKeys.expiring(maxExpiryMs, height)). */
  key: Uint8Array
  /** The latest expiry among its requests: once the block time reaches it, every one has expired. */
  maxExpiryMs: bigint
  height: bigint
  requests: RequestId[]
}

/** What one height's commit changes in the history: the rows it deleted (pruned) and the one it wrote. */
export interface HistoryChange {
  removed: HistoryRow[]
  added?: HistoryRow
}

/** Key order of `expiring/<expiry>/<height>` rows (fixed-width decimals): expiry, then height. */
function before (a: HistoryRow, b: HistoryRow): boolean {
  return a.maxExpiryMs < b.maxExpiryMs || (a.maxExpiryMs === b.maxExpiryMs && a.height < b.height)
}

/**
 * Memory: one entry per remembered request, no more than the committed history holds: the update
 * rate times the longest a request lives (ingressTtlMaxMs + ingressExpiryDriftMs, 6 min; a request
 * stays until its block's last one expires): at 2,000 updates/s ~720,000 ids, ~100 MB (the
 * reasoning mempoolSeenMax is sized by), plus one small record per row (at most one row per block).
 */
export class ReplayHistory {
  /** Each remembered request → the height that executed it (a client asking again after a restart is answered from that height). */
  readonly #requests = new Map<RequestId, bigint>()
  /** Every row in key order (= prune order); a new row is usually last or near it. */
  readonly #rows: HistoryRow[] = []

  /** Reads every committed `expiring/` row of `system` (the subnet's system actor). */
  static async load (store: Store, system: ActorId): Promise<ReplayHistory> {
    const history = new ReplayHistory()
    const end = keysAfter(systemKeys.expiringPrefix)
    let start = systemKeys.expiringPrefix
    for (;;) {
      const page = await store.range(system, { start, end, limit: stateRangeEntriesMax })
      for (const { key, value } of page) {
        const entries = decodeHistoryRow(value)
        // An empty value is a row of the per-request layout (before one row per block): such a
        // store's roots differ from every current replica's, so it cannot go on; say so plainly.
        assert(value.length > 0, `subnet state holds a per-request history row (${new TextDecoder().decode(key)}) from an older Pylon: its replicas cannot agree with this version; start from a fresh store`)
        assert(entries.ok, `corrupt history row in subnet state: ${entries.ok ? '' : entries.error}`)
        const { maxExpiryMs, height } = historyKeyOf(key)
        history.#insert({ key, maxExpiryMs, height, requests: entries.value.map(e => e.requestId) })
      }
      if (page.length < stateRangeEntriesMax) return history
      start = new Uint8Array([...page.at(-1)!.key, 0]) // the next key after the last
    }
  }

  /** Whether a committed block executed `id` and its row is still in the state. */
  has (id: RequestId): boolean {
    return this.#requests.has(id)
  }

  /** The height whose block executed `id`, while its row is in the state. */
  heightOf (id: RequestId): bigint | undefined {
    return this.#requests.get(id)
  }

  get requests (): number { return this.#requests.size }
  get rows (): number { return this.#rows.length }

  /** The first `limit` rows (key order) whose every request has expired at `timeMs`: what a block prunes. */
  expired (timeMs: bigint, limit: number): HistoryRow[] {
    const out: HistoryRow[] = []
    for (const row of this.#rows) {
      if (out.length >= limit || row.maxExpiryMs > timeMs) break
      out.push(row)
    }
    return out
  }

  /** Pre: `change` is exactly what a successful commit deleted and wrote (removed: a prefix of expired()). */
  apply (change: HistoryChange): void {
    for (const [i, row] of change.removed.entries()) {
      assert(this.#rows[i] === row, `history row at height ${row.height} is not the next to prune`)
      for (const id of row.requests) this.#requests.delete(id)
    }
    this.#rows.splice(0, change.removed.length)
    if (change.added !== undefined) this.#insert(change.added)
  }

  #insert (row: HistoryRow): void {
    for (const id of row.requests) this.#requests.set(id, row.height)
    let at = this.#rows.length
    while (at > 0 && before(row, this.#rows[at - 1]!)) at--
    this.#rows.splice(at, 0, row)
  }
}
