// ledger: a token with a fixed minter. Amounts are non-negative integers written as decimal
// strings (BigInt inside: no floats in state). Payloads and results are JSON text in UTF-8.
//   init  {"minter": "<principal>"}            (omit minter: anyone may mint — a demo)
//   update mint     {"to": "bob", "amount": "100"}  -> "<new balance of to>"   (minter only)
//   update transfer {"to": "bob", "amount": "5"}    -> "<new balance of caller>"
//   query  balance  {"of": "bob"}                   -> "<balance>"
//   query  supply   {}                              -> "<total supply>"
// Invariant: the sum of balances equals the supply; transfer never changes the supply.
import { get, set } from 'pylon:actor/storage@0.1.0'
import { caller } from 'pylon:actor/context@0.1.0'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const supplyKey = encoder.encode('supply')
const minterKey = encoder.encode('minter')

function args (payload) {
  if (payload.length === 0) return {}
  try {
    return JSON.parse(decoder.decode(payload))
  } catch {
    throw new Error('payload must be JSON')
  }
}

function amountOf (value) {
  if (typeof value !== 'string' || !/^[0-9]{1,30}$/.test(value)) throw new Error('amount must be a decimal string of at most 30 digits')
  return BigInt(value)
}

function account (name) {
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) throw new Error('account must be a string of 1..128 characters')
  return name
}

const readInt = key => {
  const value = get(key)
  return value === undefined ? 0n : BigInt(decoder.decode(value))
}
const writeInt = (key, n) => set(key, encoder.encode(n.toString()))
const balanceKey = name => encoder.encode('b/' + name)
const reply = n => encoder.encode(JSON.stringify(n.toString()))

export function init (arg) {
  const { minter } = args(arg)
  if (minter !== undefined) set(minterKey, encoder.encode(account(minter)))
}

export function update (method, payload) {
  const a = args(payload)
  if (method === 'mint') {
    const minter = get(minterKey)
    if (minter !== undefined && decoder.decode(minter) !== caller()) throw new Error('only the minter may mint')
    const to = balanceKey(account(a.to))
    const amount = amountOf(a.amount)
    const balance = readInt(to) + amount
    writeInt(to, balance)
    writeInt(supplyKey, readInt(supplyKey) + amount)
    return reply(balance)
  }
  if (method === 'transfer') {
    const from = balanceKey(account(caller()))
    const to = balanceKey(account(a.to))
    const amount = amountOf(a.amount)
    const balance = readInt(from)
    if (balance < amount) throw new Error(`insufficient balance: ${balance} < ${amount}`)
    writeInt(from, balance - amount)
    writeInt(to, readInt(to) + amount)
    return reply(readInt(from))
  }
  throw new Error(`unknown update method: ${method}`)
}

export function query (method, payload) {
  const a = args(payload)
  if (method === 'balance') return reply(readInt(balanceKey(account(a.of))))
  if (method === 'supply') return reply(readInt(supplyKey))
  throw new Error(`unknown query method: ${method}`)
}
