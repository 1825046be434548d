// chat: a room of short posts. Payloads and results are JSON text in UTF-8.
//   update post   {"text": "hello"}  -> {"id": 0, "from": "<caller>", "at": "<consensus ns>", "text": "hello"}
//   query  recent {"limit": 20}      -> the last `limit` posts (<= 100), oldest first
import { get, set, range } from 'pylon:actor/storage@0.1.0'
import { caller, now } from 'pylon:actor/context@0.1.0'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const textMax = 280
const recentMax = 100
const countKey = encoder.encode('count')

function args (payload) {
  if (payload.length === 0) return {}
  try {
    return JSON.parse(decoder.decode(payload))
  } catch {
    throw new Error('payload must be JSON')
  }
}

// Zero-padded ids keep posts in id order under bytewise key order.
const postKey = id => encoder.encode('p/' + String(id).padStart(16, '0'))
const count = () => {
  const value = get(countKey)
  return value === undefined ? 0 : Number(decoder.decode(value))
}

export function init (_arg) {}

export function update (method, payload) {
  if (method !== 'post') throw new Error(`unknown update method: ${method}`)
  const { text } = args(payload)
  if (typeof text !== 'string' || text.length === 0) throw new Error('text must be a non-empty string')
  if (text.length > textMax) throw new Error(`text too long: ${text.length} > ${textMax} characters`)
  const id = count()
  const post = { id, from: caller(), at: String(now()), text }
  set(postKey(id), encoder.encode(JSON.stringify(post)))
  set(countKey, encoder.encode(String(id + 1)))
  return encoder.encode(JSON.stringify(post))
}

export function query (method, payload) {
  if (method !== 'recent') throw new Error(`unknown query method: ${method}`)
  const { limit } = args(payload)
  const n = Math.min(Number.isInteger(limit) && limit > 0 ? limit : 20, recentMax)
  const total = count()
  const first = Math.max(0, total - n)
  const posts = range(postKey(first), postKey(total), n).map(([, v]) => JSON.parse(decoder.decode(v)))
  return encoder.encode(JSON.stringify(posts))
}
