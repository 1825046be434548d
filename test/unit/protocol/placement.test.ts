import test from 'ava'
import fc from 'fast-check'
import type { CapacityAdvert } from '../../../protocol/capacity.ts'
import { peerIdOfPublicKey, type NodeId } from '../../../protocol/ids.ts'
import { placementMemoryBytesMinDefault, subnetMembersMax, subnetsServedMax } from '../../../protocol/limits.ts'
import { checkPlacementRequest, freeScore, place, shortfalls, requirementsOf } from '../../../protocol/placement.ts'

const nowMs = 1_700_000_000_000
const GiB = 1n << 30n

/** Distinct, valid node ids without key generation: any 32 bytes make an Ed25519-shaped peer id. */
const ids: NodeId[] = Array.from({ length: 40 }, (_, i) => peerIdOfPublicKey(new Uint8Array(32).fill(i + 1)) as NodeId)

function advert (i: number, over: Partial<CapacityAdvert> = {}): CapacityAdvert {
  return {
    nodeId: ids[i]!,
    seq: 1n,
    issuedAtMs: BigInt(nowMs - 1000),
    expiresAtMs: BigInt(nowMs + 60_000),
    multiaddrs: [`/ip4/127.0.0.1/tcp/${4000 + i}/p2p/${ids[i]!}`],
    cores: 4,
    memoryBytes: 8n * GiB,
    diskFreeBytes: 100n * GiB,
    loadPermille: 0,
    score: 1_000_000n,
    labels: { rack: `r${i}`, region: 'eu', operator: `op${i}` },
    version: '0.1.0',
    actorSlotsFree: 100,
    subnets: [],
    ...over
  }
}

test('place picks the nodes with the most spare compute, ties by memory then node id, and explains each', t => {
  const adverts = [
    advert(0, { score: 500n }),
    advert(1, { score: 900n }),
    advert(2, { score: 900n, memoryBytes: 16n * GiB }),
    advert(3, { score: 2000n, loadPermille: 1500 }), // 2000 / 2.5 = 800 spare
    advert(4, { score: 700n }),
    advert(5, { score: 900n })
  ]
  const placed = place(adverts, { size: 4, nowMs })
  if (!placed.ok) return t.fail(placed.error.message)
  const tied = [ids[1]!, ids[5]!].sort()
  t.deepEqual(placed.value.picked.map(p => p.nodeId), [ids[2]!, ...tied, ids[3]!])
  t.is(placed.value.picked[3]!.freeScore, 800n)
  t.is(placed.value.explanation.length, 5)
  t.regex(placed.value.explanation[0]!, /placed 4 of 6 qualifying nodes/)
  t.regex(placed.value.picked[0]!.reason, /^rank 1 of 6: serves 0 subnets, spare compute 900 .*rack=r2/)
})

test('place refuses sizes that are not 3f+1, naming the nearest valid sizes', t => {
  for (const size of [0, 2, 3, 5, 6, -1, 1.5, Number.NaN]) {
    const placed = place([advert(0)], { size, nowMs })
    t.false(placed.ok, `size ${size}`)
    if (!placed.ok) t.regex(placed.error.message, /3f\+1/)
  }
  const five = place([advert(0)], { size: 5, nowMs })
  t.true(!five.ok && five.error.message.includes('got 5: use 4 or 7'))
  const huge = checkPlacementRequest({ size: subnetMembersMax + 3, nowMs })
  t.true(!huge.ok && huge.error.includes(`> ${subnetMembersMax} members`))
  t.true(place([advert(0)], { size: 1, nowMs }).ok)
})

test('place refuses when a label is missing and names the label on every node', t => {
  const adverts = [0, 1, 2, 3, 4].map(i => advert(i))
  const placed = place(adverts, { size: 4, labels: { region: 'mars' }, nowMs })
  if (placed.ok) return t.fail('placed on mars')
  t.is(placed.error.message, 'cannot place 4 nodes: 0 of 5 known nodes qualify (region=mars)')
  t.is(placed.error.nodes.length, 5)
  for (const node of placed.error.nodes) t.deepEqual(node.reasons, ['missing label region=mars (has region=eu)'])
  const unknown = place(adverts, { size: 4, labels: { gpu: 'yes' }, nowMs })
  t.true(!unknown.ok && unknown.error.message === 'unknown label "gpu": adverts carry operator, rack, region')
})

test('place filters expired adverts and nodes short of memory, disk, slots or subnet room, saying which and by how much', t => {
  const adverts = [
    advert(0, { expiresAtMs: BigInt(nowMs) }),
    advert(1, { memoryBytes: 100n }),
    advert(2, { diskFreeBytes: 5n }),
    advert(3, { actorSlotsFree: 0 }),
    advert(4, { subnets: Array.from({ length: subnetsServedMax }, (_, i) => `s${i}`) }),
    advert(5)
  ]
  const placed = place(adverts, { size: 4, actorSlotsMin: 1, nowMs })
  if (placed.ok) return t.fail('placed')
  const reasons = Object.fromEntries(placed.error.nodes.map(n => [n.nodeId, n.reasons.join('; ')]))
  t.regex(reasons[ids[0]!]!, /advert expired/)
  t.is(reasons[ids[1]!], `too little memory: 100 < ${placementMemoryBytesMinDefault} bytes`)
  t.regex(reasons[ids[2]!]!, /too little free disk: 5 </)
  t.is(reasons[ids[3]!], 'too few free actor slots: 0 < 1')
  t.is(reasons[ids[4]!], `already serves ${subnetsServedMax} subnets (at most ${subnetsServedMax})`)
  t.is(reasons[ids[5]!], undefined)
  t.regex(placed.error.message, /1 of 6 known nodes qualify/)
})

test('place with spread takes one node per rack and refuses with the count of distinct racks when too few', t => {
  const racks = ['a', 'a', 'b', 'b', 'c', 'd']
  const adverts = racks.map((rack, i) => advert(i, { labels: { rack, region: 'eu', operator: 'same' }, score: BigInt(1000 - i) }))
  const placed = place(adverts, { size: 4, spread: 'rack', nowMs })
  if (!placed.ok) return t.fail(placed.error.message)
  t.deepEqual(placed.value.picked.map(p => p.labels.rack), ['a', 'b', 'c', 'd'])
  t.deepEqual(placed.value.picked.map(p => p.nodeId), [ids[0], ids[2], ids[4], ids[5]])
  const byOperator = place(adverts, { size: 4, spread: 'operator', nowMs })
  if (byOperator.ok) return t.fail('placed 4 nodes on one operator')
  t.is(byOperator.error.message, 'cannot spread 4 nodes across distinct operators: the 6 qualifying nodes span 1 operator (same), 4 needed')
  t.deepEqual(byOperator.error.nodes.find(n => n.nodeId === ids[1])?.reasons, [`same operator (same) as ${ids[0]!}, which ranks higher`])
  const unlabelled = place([advert(0, { labels: { rack: '', region: 'eu', operator: 'x' } })], { size: 1, spread: 'rack', nowMs })
  t.true(!unlabelled.ok && unlabelled.error.nodes[0]!.reasons[0] === 'no rack label, so --spread rack cannot place it')
})

test('place prefers nodes serving fewer subnets, counting what the directory knows beyond the adverts', t => {
  const adverts = [0, 1, 2, 3, 4, 5, 6, 7].map(i => advert(i, { score: BigInt(2000 - i) }))
  const first = place(adverts, { size: 4, nowMs })
  if (!first.ok) return t.fail(first.error.message)
  t.deepEqual(first.value.picked.map(p => p.nodeId), ids.slice(0, 4))
  // Right after that creation the adverts still say 0; the directory already knows.
  const servedCounts = new Map(first.value.picked.map(p => [p.nodeId, 1]))
  const second = place(adverts, { size: 4, nowMs, servedCounts })
  if (!second.ok) return t.fail(second.error.message)
  t.deepEqual(second.value.picked.map(p => p.nodeId), ids.slice(4, 8), 'the second subnet lands on the other four nodes')
  const full = place(adverts.slice(0, 1), { size: 1, nowMs, servedCounts: new Map([[ids[0]!, subnetsServedMax]]) })
  t.true(!full.ok && full.error.nodes[0]!.reasons[0] === `serves ${subnetsServedMax} subnets as far as this node knows (at most ${subnetsServedMax})`)
})

test('place uses the newest advert of a node and ignores input order', t => {
  const old = advert(0, { seq: 1n, memoryBytes: 1n })
  const fresh = advert(0, { seq: 2n })
  t.true(place([old, fresh], { size: 1, nowMs }).ok)
  t.false(place([fresh, { ...old, seq: 3n }], { size: 1, nowMs }).ok)
})

test('place breaks a tie between two adverts of one node with equal seq the same way in any order', t => {
  const a = advert(0, { memoryBytes: 1n })
  const b = advert(0)
  const json = (value: unknown): string => JSON.stringify(value, (_k, v) => typeof v === 'bigint' ? v.toString() : v)
  t.is(json(place([a, b], { size: 1, nowMs })), json(place([b, a], { size: 1, nowMs })))
})

test('shortfalls is the member self-check: empty when the advert meets every requirement', t => {
  const requirements = requirementsOf({ labels: { rack: 'r1' } })
  t.deepEqual(shortfalls(advert(1), requirements, nowMs), [])
  t.deepEqual(shortfalls(advert(2), requirements, nowMs), ['missing label rack=r1 (has rack=r2)'])
  t.is(freeScore(advert(1, { score: 1000n, loadPermille: 0 })), 1000n)
  t.is(freeScore(advert(1, { score: 1000n, loadPermille: 3000 })), 250n, 'an overloaded node keeps a share of its speed')
})

// ── Properties ──────────────────────────────────────────────────────────────────────────────────

const advertArb = fc.record({
  i: fc.integer({ min: 0, max: ids.length - 1 }),
  seq: fc.bigInt({ min: 1n, max: 5n }),
  rack: fc.constantFrom('', 'r1', 'r2', 'r3', 'r4', 'r5'),
  operator: fc.constantFrom('o1', 'o2', 'o3', 'o4'),
  region: fc.constantFrom('eu', 'us'),
  memoryBytes: fc.bigInt({ min: 0n, max: 8n * GiB }),
  diskFreeBytes: fc.bigInt({ min: 0n, max: 8n * GiB }),
  score: fc.bigInt({ min: 0n, max: 10_000n }),
  loadPermille: fc.integer({ min: 0, max: 2000 }),
  expired: fc.boolean(),
  subnets: fc.constantFrom(0, 1, subnetsServedMax - 1, subnetsServedMax)
}).map(a => advert(a.i, {
  seq: a.seq,
  labels: { rack: a.rack, operator: a.operator, region: a.region },
  memoryBytes: a.memoryBytes,
  diskFreeBytes: a.diskFreeBytes,
  score: a.score,
  loadPermille: a.loadPermille,
  expiresAtMs: BigInt(a.expired ? nowMs - 1 : nowMs + 1000),
  subnets: Array.from({ length: a.subnets }, (_, k) => `s${k}`)
}))

/** One advert per (node, seq), as a book holds them; the equal-seq case has its own test above. */
const advertsArb = fc.uniqueArray(advertArb, { selector: a => `${a.nodeId}/${a.seq}`, maxLength: 30 })

const requestArb = fc.record({
  size: fc.constantFrom(1, 4, 7),
  spread: fc.constantFrom(undefined, 'rack' as const, 'operator' as const),
  region: fc.constantFrom(undefined, 'eu', 'us')
})

test('property: picked nodes are distinct, live, meet every requirement and the spread', t => {
  fc.assert(fc.property(advertsArb, requestArb, (adverts, r) => {
    const labels: Record<string, string> = r.region === undefined ? {} : { region: r.region }
    const request = { size: r.size, spread: r.spread, labels, nowMs }
    const placed = place(adverts, request)
    if (!placed.ok) {
      // A refusal always accounts for itself: either fewer than `size` nodes qualify, or the spread fails.
      return placed.error.message.startsWith('cannot ')
    }
    const picked = placed.value.picked
    const newest = new Map<string, CapacityAdvert>()
    for (const a of adverts) if ((newest.get(a.nodeId)?.seq ?? 0n) < a.seq) newest.set(a.nodeId, a)
    const requirements = requirementsOf(request)
    if (picked.length !== r.size || new Set(picked.map(p => p.nodeId)).size !== r.size) return false
    if (!picked.every(p => shortfalls(newest.get(p.nodeId)!, requirements, nowMs).length === 0)) return false
    if (r.spread !== undefined && new Set(picked.map(p => p.labels[r.spread!])).size !== r.size) return false
    if (r.spread !== undefined && picked.some(p => p.labels[r.spread!] === '')) return false
    // Ranked: fewest subnets first, then spare compute never increases among equals.
    return picked.every((p, i) => i === 0 || picked[i - 1]!.subnets < p.subnets || (picked[i - 1]!.subnets === p.subnets && picked[i - 1]!.freeScore >= p.freeScore))
  }), { numRuns: 300 })
  t.pass()
})

test('property: placement is deterministic and independent of advert order', t => {
  const pair = advertsArb.chain(a => fc.tuple(fc.constant(a), fc.shuffledSubarray(a, { minLength: a.length, maxLength: a.length })))
  fc.assert(fc.property(pair, requestArb, ([adverts, shuffled], r) => {
    const request = { size: r.size, spread: r.spread, nowMs }
    const first = JSON.stringify(place(adverts, request), (_k, v) => typeof v === 'bigint' ? v.toString() : v)
    return first === JSON.stringify(place(shuffled, request), (_k, v) => typeof v === 'bigint' ? v.toString() : v)
  }), { numRuns: 300 })
  t.pass()
})

test('property: when enough nodes qualify without spread, placement succeeds', t => {
  fc.assert(fc.property(advertsArb, fc.constantFrom(1, 4, 7), (adverts, size) => {
    const requirements = requirementsOf({})
    const qualifying = new Map<string, CapacityAdvert>()
    for (const a of adverts) if ((qualifying.get(a.nodeId)?.seq ?? 0n) < a.seq) qualifying.set(a.nodeId, a)
    const count = [...qualifying.values()].filter(a => shortfalls(a, requirements, nowMs).length === 0).length
    return place(adverts, { size, nowMs }).ok === (count >= size)
  }), { numRuns: 300 })
  t.pass()
})
