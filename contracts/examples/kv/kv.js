// kv: a key-value store. Payloads and results are JSON text in UTF-8.
//   update put    {"key": "a", "value": "x"}   -> null
//   update delete {"key": "a"}                 -> true when the key existed, else false
//   query  get    {"key": "a"}                 -> "x" or null
//   query  list   {"prefix": "a", "limit": 10} -> [["a", "x"], ...] in key order (limit <= 100)
import { get, set, delete as remove, range } from 'pylon:actor/storage@0.1.0'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const listMax = 100

function args (payload) {
  try {
    return JSON.parse(decoder.decode(payload))
  } catch {
    throw new Error('payload must be JSON')
  }
}

function keyOf (value) {
  if (typeof value !== 'string' || value.length === 0) throw new Error('key must be a non-empty string')
  return encoder.encode('k/' + value)
}

const reply = value => encoder.encode(JSON.stringify(value))

export function init (_arg) {}

export function update (method, payload) {
  const a = args(payload)
  if (method === 'put') {
    if (typeof a.value !== 'string') throw new Error('value must be a string')
    set(keyOf(a.key), encoder.encode(a.value))
    return reply(null)
  }
  if (method === 'delete') {
    const key = keyOf(a.key)
    const existed = get(key) !== undefined
    remove(key)
    return reply(existed)
  }
  throw new Error(`unknown update method: ${method}`)
}

export function query (method, payload) {
  const a = args(payload)
  if (method === 'get') {
    const value = get(keyOf(a.key))
    return reply(value === undefined ? null : decoder.decode(value))
  }
  if (method === 'list') {
    const prefix = typeof a.prefix === 'string' ? a.prefix : ''
    const limit = Math.min(Number.isInteger(a.limit) && a.limit > 0 ? a.limit : listMax, listMax)
    const start = encoder.encode('k/' + prefix)
    // The end of a prefix range: the prefix with its last byte incremented ("k0" for all of "k/").
    const end = prefixEnd(start)
    return reply(range(start, end, limit).map(([k, v]) => [decoder.decode(k).slice(2), decoder.decode(v)]))
  }
  throw new Error(`unknown query method: ${method}`)
}

function prefixEnd (prefix) {
  const end = prefix.slice()
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++
      return end.slice(0, i + 1)
    }
  }
  return new Uint8Array(0)
}
