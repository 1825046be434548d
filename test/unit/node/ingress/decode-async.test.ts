// decodeIngressAsync: the verdicts of protocol's decodeIngress with the signature checked on the
// thread pool, at most ingressVerifyJobsMax checks in the pool at once, and Mempool.addAsync.
// Verifications are counted for the whole worker, so the counting test is serial.

import test from 'ava'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { decode, encode } from '../../../../protocol/codec.ts'
import { actorIdOf } from '../../../../protocol/ids.ts'
import { decodeIngress } from '../../../../protocol/ingress.ts'
import { ingressVerifyJobsMax } from '../../../../protocol/limits.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { decodeIngressAsync } from '../../../../node/ingress/decode-async.ts'
import { Mempool } from '../../../../node/ingress/mempool.ts'
import { Client, makeSubnet } from '../subnet/_harness.ts'

const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')

function samples (clock: ManualClock) {
  const { subnet } = makeSubnet(1, clock)
  const client = new Client(clock)
  const valid = client.update(actorIdOf(subnet.id, 1n))
  const forged = new Uint8Array(client.update(actorIdOf(subnet.id, 1n)).bytes)
  forged[forged.length - 1]! ^= 1
  const { content, signature } = (decode(valid.bytes) as { ok: true, value: { content: unknown, signature: Uint8Array } }).value
  const reordered = new Uint8Array(Buffer.concat([Uint8Array.of(0xa2), encode('signature'), encode(signature), encode('content'), encode(content)]))
  const expired = client.sign({ kind: 'update', actor: actorIdOf(subnet.id, 1n), method: 'inc', payload: new Uint8Array(0), expiryMs: BigInt(clock.now() - 1) })
  return { subnet, valid, cases: [valid.bytes, forged, reordered, expired.bytes, new Uint8Array([1, 2, 3]), new Uint8Array(0)] }
}

test('decodeIngressAsync gives decodeIngress\'s verdict, message and ids for valid, forged, non-canonical, expired and garbage envelopes', async t => {
  const clock = new ManualClock(Date.now())
  const { valid, cases } = samples(clock)
  for (const bytes of cases) {
    const sync = decodeIngress(bytes, clock.now())
    const async = await decodeIngressAsync(bytes, clock.now())
    t.is(async.ok, sync.ok)
    if (sync.ok && async.ok) t.like(async.value, { id: sync.value.id, requestId: sync.value.requestId })
    if (!sync.ok && !async.ok) t.deepEqual(async.error, sync.error)
  }
  const accepted = await decodeIngressAsync(valid.bytes, clock.now())
  t.true(accepted.ok && accepted.value.id === valid.id)
})

test.serial('at most ingressVerifyJobsMax signature checks are in the thread pool at once, and each envelope is checked once', async t => {
  const clock = new ManualClock(Date.now())
  const { subnet } = makeSubnet(1, clock)
  const client = new Client(clock)
  const envelopes = Array.from({ length: 40 }, () => client.update(actorIdOf(subnet.id, 1n)).bytes)
  const original = crypto.verify
  let inPool = 0
  let most = 0
  let calls = 0
  crypto.verify = ((...args: unknown[]) => {
    calls++
    const callback = args[4] as ((error: Error | null, valid: boolean) => void) | undefined
    if (typeof callback !== 'function') return (original as (...a: unknown[]) => unknown)(...args)
    inPool++
    most = Math.max(most, inPool)
    return (original as (...a: unknown[]) => unknown)(...args.slice(0, 4), (error: Error | null, valid: boolean) => { inPool--; callback(error, valid) })
  }) as typeof original
  syncBuiltinESMExports()
  t.teardown(() => { crypto.verify = original; syncBuiltinESMExports() })
  const results = await Promise.all(envelopes.map(async bytes => await decodeIngressAsync(bytes, clock.now())))
  t.true(results.every(r => r.ok))
  t.is(calls, envelopes.length, 'one check per envelope')
  t.is(most, ingressVerifyJobsMax, `never more than ${ingressVerifyJobsMax} in the pool (and the pool was used)`)
})

test('Mempool.addAsync admits a valid envelope once and refuses forged, duplicate and garbage ones like add', async t => {
  const clock = new ManualClock(Date.now())
  const { subnet, valid, cases } = samples(clock)
  const pool = new Mempool({ clock, logger: silentLogger }, { subnet: subnet.id })
  const [first, again] = await Promise.all([pool.addAsync(valid.bytes), pool.addAsync(valid.bytes)])
  t.true(first!.ok)
  t.like(again, { ok: false, error: { reason: 'duplicate' } }, 'a copy admitted while the first was being checked is a duplicate')
  for (const bytes of cases.slice(1)) {
    const r = await pool.addAsync(bytes)
    t.false(r.ok)
  }
  t.is(pool.size, 1)
  t.is(pool.counts().accepted, 1)
})
