// counter: `inc` adds one and returns the new count; `get` (query) returns it. Payloads and
// results are JSON text in UTF-8 (here a bare number).
import { get, set } from 'pylon:actor/storage@0.1.0'

const key = new TextEncoder().encode('count')
const encoder = new TextEncoder()

function read () {
  const value = get(key)
  return value === undefined ? 0 : Number(new TextDecoder().decode(value))
}

export function init (_arg) {}

export function update (method, _payload) {
  if (method !== 'inc') throw new Error(`unknown update method: ${method}`)
  const count = read() + 1
  set(key, encoder.encode(String(count)))
  return encoder.encode(String(count))
}

export function query (method, _payload) {
  if (method !== 'get') throw new Error(`unknown query method: ${method}`)
  return encoder.encode(String(read()))
}
