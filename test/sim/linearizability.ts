// A linearizability checker in the style of Wing & Gong / Lowe as refined by porcupine: backtracking
// over a linked list of call/return entries with a memo of (linearized set, model state). Histories
// are partitioned by key first (P-compositionality). Operations with an unknown outcome carry
// return time +∞ and an undefined output, which the model must accept as any output.

export interface Operation<I, O> {
  client: number
  input: I
  /** undefined: the outcome is unknown (the client gave up); then `returnAt` must be Infinity. */
  output: O | undefined
  callAt: number
  returnAt: number
}

export interface Model<S, I, O> {
  init: () => S
  /** Whether `input` may return `output` in state `state`, and the state after it. */
  step: (state: S, input: I, output: O | undefined) => { ok: boolean, state: S }
  /** A canonical string of a state, for the memo cache. */
  key: (state: S) => string
  /** The partition (e.g. the key of a kv op): partitions are checked independently. */
  partition?: (input: I) => string
}

export interface CheckResult { ok: boolean, partition?: string, operations: number, explored: number }

interface Entry<I, O> {
  isCall: boolean
  id: number
  time: number
  input: I
  output: O | undefined
  match?: Entry<I, O>
  prev?: Entry<I, O>
  next?: Entry<I, O>
}

/** @param exploreMax bounds the search (a check that runs out reports ok: false with a note). */
export function checkLinearizable<S, I, O> (model: Model<S, I, O>, history: ReadonlyArray<Operation<I, O>>, exploreMax = 5_000_000): CheckResult {
  const partitions = new Map<string, Array<Operation<I, O>>>()
  for (const op of history) {
    if (op.returnAt < op.callAt) throw new RangeError(`operation returns before its call: ${op.returnAt} < ${op.callAt}`)
    const key = model.partition?.(op.input) ?? ''
    let list = partitions.get(key)
    if (list === undefined) partitions.set(key, list = [])
    list.push(op)
  }
  let explored = 0
  for (const [key, ops] of [...partitions].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
    const result = checkPartition(model, ops, exploreMax)
    explored += result.explored
    if (!result.ok) return { ok: false, partition: key, operations: history.length, explored }
  }
  return { ok: true, operations: history.length, explored }
}

function buildList<I, O> (ops: ReadonlyArray<Operation<I, O>>): Entry<I, O> {
  const entries: Array<Entry<I, O>> = []
  ops.forEach((op, id) => {
    const call: Entry<I, O> = { isCall: true, id, time: op.callAt, input: op.input, output: op.output }
    const ret: Entry<I, O> = { isCall: false, id, time: op.returnAt, input: op.input, output: op.output }
    call.match = ret
    entries.push(call, ret)
  })
  // Calls sort before returns at equal times: touching operations count as concurrent (lenient).
  entries.sort((a, b) => a.time !== b.time ? a.time - b.time : a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1)
  const head: Entry<I, O> = { isCall: false, id: -1, time: -Infinity, input: undefined as I, output: undefined }
  let prev = head
  for (const entry of entries) {
    prev.next = entry
    entry.prev = prev
    prev = entry
  }
  return head
}

function lift<I, O> (entry: Entry<I, O>): void {
  entry.prev!.next = entry.next
  if (entry.next !== undefined) entry.next.prev = entry.prev
  const match = entry.match!
  match.prev!.next = match.next
  if (match.next !== undefined) match.next.prev = match.prev
}

function unlift<I, O> (entry: Entry<I, O>): void {
  const match = entry.match!
  match.prev!.next = match
  if (match.next !== undefined) match.next.prev = match
  entry.prev!.next = entry
  if (entry.next !== undefined) entry.next.prev = entry
}

function checkPartition<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<Operation<I, O>>, exploreMax: number): { ok: boolean, explored: number } {
  const head = buildList(ops)
  const cache = new Set<string>()
  const calls: Array<{ entry: Entry<I, O>, state: S }> = []
  let linearized = 0n
  let state = model.init()
  let entry = head.next
  let explored = 0
  while (head.next !== undefined) {
    if (++explored > exploreMax) return { ok: false, explored }
    if (entry === undefined) return { ok: false, explored }
    if (entry.isCall) {
      const result = model.step(state, entry.input, entry.output)
      if (result.ok) {
        const next = linearized | (1n << BigInt(entry.id))
        const key = next.toString(36) + '|' + model.key(result.state)
        if (!cache.has(key)) {
          cache.add(key)
          calls.push({ entry, state })
          state = result.state
          linearized = next
          lift(entry)
          entry = head.next
          continue
        }
      }
      entry = entry.next
    } else {
      // A return reached before its call was linearized: undo the last choice and try the next.
      const top = calls.pop()
      if (top === undefined) return { ok: false, explored }
      state = top.state
      linearized &= ~(1n << BigInt(top.entry.id))
      unlift(top.entry)
      entry = top.entry.next
    }
  }
  return { ok: true, explored }
}

// ── The simulator's kv register model ──────────────────────────────────────────────────────────

export type KvInput = { kind: 'put', key: string, value: string } | { kind: 'get', key: string }
export type KvOutput = string | null

/** Per-key register: put(v) returns 'ok'; get returns the last value put, or null. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step (state, input, output) {
    if (input.kind === 'put') return { ok: output === undefined || output === 'ok', state: input.value }
    return { ok: output === undefined || output === state, state }
  },
  key: state => state === null ? '\u0000' : state,
  partition: input => input.key
}
