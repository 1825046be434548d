import test from 'ava'
import { consensusBlocksMax } from '../../../../protocol/limits.ts'
import { blockHash, bytesEqual, type Block } from '../../../../protocol/consensus/messages.ts'
import { createReplica, recover, replicaStatus, step, type Action } from '../../../../protocol/consensus/replica.ts'
import type { WalRecord } from '../../../../protocol/consensus/wal.ts'
import { verifyEvidence } from '../../../../protocol/consensus/evidence.ts'
import { block, certificate, config, deltaMs, genesis, membership, proposal, sends, started, vote } from './_fixture.ts'

// Replica 0 of a 4-member subnet (f = 1, quorum 3). Leaders: view 1 → 1, view 2 → 2, view 4 → 0.

const msg = (from: number, message: import('../../../../protocol/consensus/messages.ts').Message) => ({ type: 'message' as const, from, message })
const persisted = (actions: Action[]): WalRecord[] => actions.flatMap(a => a.type === 'persist' ? [a.record] : [])
const timers = (actions: Action[]) => actions.flatMap(a => a.type === 'setTimer' ? [`${a.timer}:${a.view}:${a.delayMs}`] : [])

test('step start enters view 1 with leader 2Δ and advance 3Δ timers', t => {
  const r = started(0)
  t.is(r.state.view, 1n)
  const fresh = createReplica(config(0))
  t.deepEqual(timers(step(fresh, { type: 'start' }).actions), [`leader:1:${2 * deltaMs}`, `advance:1:${3 * deltaMs}`])
})

test('step asks the application for a payload when leading, then persists its vote before sending the proposal', t => {
  const state = createReplica(config(1))
  const first = step(state, { type: 'start' }).actions
  const propose = first.find(a => a.type === 'propose')
  t.like(propose, { type: 'propose', view: 1n, height: 1n })
  t.true(propose?.type === 'propose' && bytesEqual(propose.parent, genesis))
  const actions = step(state, { type: 'payload', view: 1n, payload: Uint8Array.of(7) }).actions
  const persistAt = actions.findIndex(a => a.type === 'persist' && a.sync)
  const sendAt = actions.findIndex(a => a.type === 'send' && a.message.kind === 'proposal')
  t.true(persistAt >= 0 && sendAt > persistAt, 'the WAL record precedes the send')
  // Not the leader of view 1: replica 0 never asks for a payload there.
  t.false(step(createReplica(config(0)), { type: 'start' }).actions.some(a => a.type === 'propose'))
})

test('step votes notarize for the first proposal only, durably before sending', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const actions = r.run(msg(1, proposal(b1)))
  const persistAt = actions.findIndex(a => a.type === 'persist' && a.sync && a.record.kind === 'vote')
  const sendAt = actions.findIndex(a => a.type === 'send' && a.message.kind === 'notarize')
  t.true(persistAt >= 0 && sendAt > persistAt)
  const sent = sends(actions, 'notarize')[0]!.message
  t.true(sent.kind === 'notarize' && bytesEqual(sent.block, blockHash(b1)))
  // The leader equivocates: a second block for view 1 gets no vote, only evidence.
  const again = r.run(msg(1, proposal(block(1n, 1n, genesis, Uint8Array.of(2)))))
  t.deepEqual(sends(again, 'notarize'), [])
  const evidence = again.find(a => a.type === 'evidence')
  t.like(evidence, { type: 'evidence', evidence: { signer: 1, view: 1n } })
})

test('step refuses a proposal from a non-leader or with a wrong height or parent', t => {
  const r = started(0)
  const notLeader = { ...proposal(block(1n, 1n, genesis)) }
  notLeader.vote = vote(2, 'notarize', 1n, blockHash(notLeader.block))
  t.deepEqual(sends(r.run(msg(2, notLeader)), 'notarize'), [])
  t.is(r.state.counters.invalidProposal, 1)
  const wrongHeight = proposal(block(1n, 2n, genesis))
  t.deepEqual(sends(r.run(msg(1, wrongHeight)), 'notarize'), [])
})

test('step forms a notarization at exactly 2f+1 votes, not at 2f, then finalizes and enters the next view', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const hash = blockHash(b1)
  r.run(msg(1, proposal(b1))) // leader's vote + ours = 2 = 2f
  t.is(r.state.view, 1n)
  t.is(r.state.views.get(1n)?.notarization, undefined)
  const actions = r.run(msg(2, vote(2, 'notarize', 1n, hash)))
  t.like(r.state.views.get(1n)?.notarization, { kind: 'notarization', view: 1n, signers: [0, 1, 2] })
  // Formed here, it is not broadcast at once: the forward timer decides Δ/2 later who lacks it.
  t.deepEqual(sends(actions, 'notarization'), [])
  t.true(timers(actions).includes(`forward:1:${deltaMs / 2}`))
  const finalize = sends(actions, 'finalize')[0]?.message
  t.true(finalize?.kind === 'finalize' && bytesEqual(finalize.block, hash))
  t.true(actions.findIndex(a => a.type === 'persist' && a.record.kind === 'vote' && a.record.vote.kind === 'finalize') < actions.findIndex(a => a.type === 'send' && a.message.kind === 'finalize'))
  t.is(r.state.view, 2n)
  t.true(timers(actions).includes(`leader:2:${2 * deltaMs}`))
})

test('step forwards a notarization formed here, after Δ/2, only to members whose finalize vote has not come, and only while its view is not final', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const hash = blockHash(b1)
  r.run(msg(1, proposal(b1)))
  r.run(msg(2, vote(2, 'notarize', 1n, hash)))
  r.run(msg(1, vote(1, 'finalize', 1n, hash))) // member 1 shows it holds the notarization
  const forwarded = r.run({ type: 'timeout', view: 1n, timer: 'forward' })
  t.deepEqual(sends(forwarded, 'notarization').map(a => a.to), [2, 3])
  t.like(sends(forwarded, 'notarization')[0]?.message, { kind: 'notarization', view: 1n, signers: [0, 1, 2] })
  t.deepEqual(sends(r.run({ type: 'timeout', view: 1n, timer: 'forward' })), [], 'once only')
  // Another view, finalized before its timer fires: nothing is owed any more.
  const b2 = block(2n, 2n, hash)
  const h2 = blockHash(b2)
  r.run(msg(2, proposal(b2)))
  r.run(msg(1, vote(1, 'notarize', 2n, h2)))
  r.run(msg(1, vote(1, 'finalize', 2n, h2)))
  const finalizing = r.run(msg(2, vote(2, 'finalize', 2n, h2)))
  t.is(r.state.finalized.height, 2n)
  t.deepEqual(sends(finalizing, 'finalization'), [], 'a finalization formed here waits for its timer too')
  const late = r.run({ type: 'timeout', view: 2n, timer: 'forward' })
  t.deepEqual(sends(late, 'notarization'), [])
  // The newest finalization, formed here, goes to all once its timer fires.
  t.like(sends(late, 'finalization')[0], { to: 'all', message: { kind: 'finalization', view: 2n } })
  t.deepEqual(sends(r.run({ type: 'timeout', view: 2n, timer: 'forward' })), [], 'once only')
})

test('step does not forward a finalization that a newer one has replaced by the time its timer fires', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const h1 = blockHash(b1)
  r.run(msg(1, proposal(b1)))
  r.run(msg(2, vote(2, 'notarize', 1n, h1)))
  r.run(msg(1, vote(1, 'finalize', 1n, h1)))
  r.run(msg(2, vote(2, 'finalize', 1n, h1)))
  t.is(r.state.finalized.height, 1n)
  // A newer finalization arrives from a member before view 1's timer fires.
  const b2 = block(2n, 2n, h1)
  r.run(msg(2, proposal(b2)))
  r.run(msg(3, certificate('finalization', 2n, blockHash(b2), [1, 2, 3])))
  t.is(r.state.finalized.height, 2n)
  t.deepEqual(sends(r.run({ type: 'timeout', view: 1n, timer: 'forward' })), [])
})

test('step finalizes at 2f+1 finalize votes and emits the block with its certificate', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const hash = blockHash(b1)
  r.run(msg(1, proposal(b1)))
  r.run(msg(2, vote(2, 'notarize', 1n, hash)))
  t.deepEqual(r.run(msg(1, vote(1, 'finalize', 1n, hash))).filter(a => a.type === 'finalized'), []) // 2 finalizes = 2f
  const actions = r.run(msg(2, vote(2, 'finalize', 1n, hash)))
  const finalized = actions.filter(a => a.type === 'finalized')
  t.is(finalized.length, 1)
  t.like(finalized[0], { type: 'finalized', height: 1n, certificate: { kind: 'finalization', view: 1n } })
  t.is(r.state.finalized.height, 1n)
  t.true(actions.some(a => a.type === 'prune' && a.belowView === 1n))
  t.like(replicaStatus(r.state), { view: 2n, finalizedHeight: 1n, finalizedView: 1n, blocksHeld: 0 })
})

test('step drops a vote with a bad signature, from a non-member, or signed by someone else', t => {
  const r = started(0)
  const hash = blockHash(block(1n, 1n, genesis))
  const bad = vote(2, 'notarize', 1n, hash)
  bad.signature = Uint8Array.from(bad.signature, (b, i) => i === 5 ? b ^ 0x10 : b)
  r.run(msg(2, bad))
  t.is(r.state.counters.badSignature, 1)
  r.run(msg(2, { ...vote(2, 'notarize', 1n, hash), signer: 7 }))
  t.is(r.state.counters.nonMember, 1)
  r.run(msg(3, { ...vote(3, 'notarize', 1n, hash), signer: 2 })) // 3's signature claiming to be 2
  t.is(r.state.counters.badSignature, 2)
  r.run(msg(9, vote(2, 'notarize', 1n, hash))) // from a transport peer that is no member
  t.is(r.state.counters.nonMember, 2)
  t.is(r.state.views.get(1n)!.notarizes.size, 0, 'nothing was counted')
})

test('step records evidence for double votes and for nullify plus finalize in one view', t => {
  const r = started(0)
  const a = blockHash(block(1n, 1n, genesis))
  const b = blockHash(block(1n, 1n, genesis, Uint8Array.of(9)))
  r.run(msg(2, vote(2, 'notarize', 1n, a)))
  const double = r.run(msg(2, vote(2, 'notarize', 1n, b))).find(x => x.type === 'evidence')
  t.true(double?.type === 'evidence' && bytesEqual(double.evidence.first.block, a) && bytesEqual(double.evidence.second.block, b))
  r.run(msg(3, vote(3, 'finalize', 1n, a)))
  const mixed = r.run(msg(3, vote(3, 'nullify', 1n))).find(x => x.type === 'evidence')
  t.like(mixed, { type: 'evidence', evidence: { signer: 3, first: { kind: 'finalize' }, second: { kind: 'nullify' } } })
  t.is(r.state.evidence.length, 2)
})

test('step records the equivocation a received certificate reveals: the vote held from a member against the conflicting vote the certificate carries', t => {
  const a = blockHash(block(1n, 1n, genesis))
  const b = blockHash(block(1n, 1n, genesis, Uint8Array.of(9)))
  const evidenceOf = (actions: Action[]) => actions.flatMap(x => x.type === 'evidence' ? [x.evidence] : [])
  // Member 2 sent us its notarize for B; the others certified its notarize for A.
  const split = started(0)
  split.run(msg(2, vote(2, 'notarize', 1n, b)))
  const [double, ...more] = evidenceOf(split.run(msg(1, certificate('notarization', 1n, a, [1, 2, 3]))))
  t.deepEqual(more, [])
  t.like(double, { signer: 2, view: 1n, first: { kind: 'notarize', signer: 2 }, second: { kind: 'notarize', signer: 2 } })
  t.true(bytesEqual(double!.first.block, b) && bytesEqual(double!.second.block, a))
  t.deepEqual(verifyEvidence(membership, double!), { ok: true, value: true }, 'a record anyone can check')
  t.is(split.state.views.get(1n)?.notarization?.kind, 'notarization', 'the certificate is accepted as before')
  // Member 3 finalized with us and nullified with the others.
  const mixed = started(0)
  mixed.run(msg(3, vote(3, 'finalize', 1n, a)))
  const [both] = evidenceOf(mixed.run(msg(1, certificate('nullification', 1n, undefined, [1, 2, 3]))))
  t.like(both, { signer: 3, first: { kind: 'finalize' }, second: { kind: 'nullify' } })
  t.deepEqual(verifyEvidence(membership, both!), { ok: true, value: true })
  // A certificate that agrees with what every member sent us reveals nothing.
  const honest = started(0)
  honest.run(msg(2, vote(2, 'notarize', 1n, a)))
  honest.run(msg(3, vote(3, 'nullify', 1n)))
  t.deepEqual(evidenceOf(honest.run(msg(1, certificate('notarization', 1n, a, [1, 2, 3])))), [], 'a notarize beside a nullify is allowed')
  t.is(honest.state.evidence.length, 0)
})

test('step nullifies on timeout, advances on 2f+1 nullifies, and then never finalizes that view', t => {
  const r = started(0)
  const actions = r.run({ type: 'timeout', view: 1n, timer: 'leader' })
  t.is(sends(actions, 'nullify').length, 1)
  t.true(timers(actions).some(x => x.startsWith('retry:1:')))
  // A second timeout in the same view signs nothing new.
  t.deepEqual(sends(r.run({ type: 'timeout', view: 1n, timer: 'advance' }), 'nullify'), [])
  r.run(msg(1, vote(1, 'nullify', 1n)))
  t.is(r.state.view, 1n)
  const advance = r.run(msg(2, vote(2, 'nullify', 1n)))
  t.like(sends(advance, 'nullification')[0]?.message, { kind: 'nullification', view: 1n })
  t.is(r.state.view, 2n)
  // A notarization of view 1 arriving late: we nullified 1, so no finalize vote.
  const hash = blockHash(block(1n, 1n, genesis))
  const late = r.run(msg(1, certificate('notarization', 1n, hash, [1, 2, 3])))
  t.deepEqual(sends(late, 'finalize'), [])
  // A timeout for a view we left is ignored.
  t.deepEqual(r.run({ type: 'timeout', view: 1n, timer: 'advance' }), [])
})

test('step votes only if the parent is notarized and every view in between is nullified', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const h1 = blockHash(b1)
  r.run(msg(1, proposal(b1)))
  r.run(msg(2, certificate('notarization', 1n, h1, [1, 2, 3])))
  t.is(r.state.view, 2n)
  r.run(msg(1, certificate('nullification', 2n, undefined, [1, 2, 3])))
  t.is(r.state.view, 3n)
  // View 3 extends view 1 over the nullified view 2: valid.
  const b3 = block(3n, 2n, h1)
  t.is(sends(r.run(msg(3, proposal(b3))), 'notarize').length, 1)
  r.run(msg(1, certificate('nullification', 3n, undefined, [1, 2, 3])))
  r.run(msg(1, certificate('nullification', 4n, undefined, [1, 2, 3])))
  t.is(r.state.view, 5n)
  // View 5 extends genesis although view 1 was notarized and not nullified: no vote.
  const b5 = block(5n, 1n, genesis)
  t.deepEqual(sends(r.run(msg(1, proposal(b5))), 'notarize'), [])
})

test('step finalizes a chain of ancestors in height order from one finalization', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const h1 = blockHash(b1)
  r.run(msg(1, proposal(b1)))
  r.run(msg(2, certificate('notarization', 1n, h1, [1, 2, 3])))
  const b2 = block(2n, 2n, h1)
  const h2 = blockHash(b2)
  r.run(msg(2, proposal(b2)))
  const actions = r.run(msg(3, certificate('finalization', 2n, h2, [1, 2, 3])))
  const finalized = actions.flatMap(a => a.type === 'finalized' ? [a] : [])
  t.deepEqual(finalized.map(f => f.height), [1n, 2n])
  t.true(bytesEqual(finalized[0]!.hash, h1) && bytesEqual(finalized[1]!.hash, h2))
  t.is(r.state.view, 3n)
})

test('step catches up: fetches the blocks a finalization names, accepts only those, then finalizes', t => {
  const r = started(0)
  const chain: Block[] = []
  let parent = genesis
  for (let v = 1n; v <= 5n; v++) {
    const b = block(v, v, parent)
    chain.push(b)
    parent = blockHash(b)
  }
  const top = chain[4]!
  const actions = r.run(msg(1, certificate('finalization', 5n, blockHash(top), [1, 2, 3])))
  t.is(r.state.view, 6n, 'a valid certificate lets the replica jump ahead')
  const fetch = actions.find(a => a.type === 'fetch')
  t.true(fetch?.type === 'fetch' && fetch.request.blocks.some(h => bytesEqual(h, blockHash(top))))
  // An unrequested block is refused; the answer (child first, with ancestors) is taken whole.
  r.run(msg(2, { kind: 'blocks', blocks: [block(9n, 1n, genesis, Uint8Array.of(66))] }))
  t.is(r.state.counters.unsolicitedBlock, 1)
  const done = r.run(msg(2, { kind: 'blocks', blocks: [...chain].reverse() }))
  t.deepEqual(done.flatMap(a => a.type === 'finalized' ? [a.height] : []), [1n, 2n, 3n, 4n, 5n])
})

test('step answers requests from memory and asks the store for the rest', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  r.run(msg(1, proposal(b1)))
  const unknown = new Uint8Array(32).fill(7)
  const actions = r.run(msg(3, { kind: 'request', blocks: [blockHash(b1), unknown], views: [] }))
  t.like(sends(actions, 'blocks')[0], { to: 3 })
  t.like(actions.find(a => a.type === 'lookup'), { type: 'lookup', to: 3 })
})

test('recover never signs a second vote in a view it voted in before the crash', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const wal = persisted(r.run(msg(1, proposal(b1))))
  t.is(wal.length, 1)
  const back = started(0, recover(config(0), wal))
  t.is(back.state.view, 1n)
  // The equivocating leader's other block gets no vote after the restart either.
  t.deepEqual(sends(back.run(msg(1, proposal(block(1n, 1n, genesis, Uint8Array.of(3))))), 'notarize'), [])
  // A replica that nullified before the crash does not notarize after it.
  const n = started(0)
  const nullWal = persisted(n.run({ type: 'timeout', view: 1n, timer: 'leader' }))
  const again = recover(config(0), nullWal)
  const startActions = step(again, { type: 'start' }).actions
  t.is(sends(startActions, 'nullify').length, 1, 'the old nullify is repeated, not re-signed')
  t.true(timers(startActions).some(x => x.startsWith('retry:1:')))
  t.deepEqual(sends(step(again, msg(1, proposal(b1))).actions, 'notarize'), [])
})

test('recover after a finalize vote resumes in the next view', t => {
  const r = started(0)
  const b1 = block(1n, 1n, genesis)
  const h1 = blockHash(b1)
  const wal = [...persisted(r.run(msg(1, proposal(b1)))), ...persisted(r.run(msg(2, vote(2, 'notarize', 1n, h1))))]
  t.true(wal.some(w => w.kind === 'vote' && w.vote.kind === 'finalize'))
  const back = recover(config(0), wal)
  t.is(back.view, 2n)
})

test('step with verifyPayloads votes only after the application accepts the payload, and nullifies on refusal', t => {
  const withVerify = () => started(0, createReplica({ ...config(0), verifyPayloads: true }))
  const b1 = block(1n, 1n, genesis)
  const h1 = blockHash(b1)
  const r = withVerify()
  const asked = r.run(msg(1, proposal(b1)))
  t.like(asked.find(a => a.type === 'verify'), { type: 'verify', view: 1n })
  t.deepEqual(sends(asked, 'notarize'), [], 'no vote before the verdict')
  // A verdict for another block is ignored; the right one releases the vote.
  t.deepEqual(sends(r.run({ type: 'verified', view: 1n, block: new Uint8Array(32), valid: true }), 'notarize'), [])
  t.is(sends(r.run({ type: 'verified', view: 1n, block: h1, valid: true }), 'notarize').length, 1)
  const refused = withVerify()
  refused.run(msg(1, proposal(b1)))
  const actions = refused.run({ type: 'verified', view: 1n, block: h1, valid: false })
  t.deepEqual(sends(actions, 'notarize'), [])
  t.is(sends(actions, 'nullify').length, 1)
  t.is(refused.state.counters.invalidPayload, 1)
})

test('step asks for state sync when the certified chain is longer than memory may hold', t => {
  const r = started(0)
  const chain: Block[] = []
  let parent = genesis
  for (let v = 1n; v <= BigInt(consensusBlocksMax) + 40n; v++) {
    const b = block(v, v, parent)
    chain.push(b)
    parent = blockHash(b)
  }
  const top = chain[chain.length - 1]!
  r.run(msg(1, certificate('finalization', top.view, parent, [1, 2, 3])))
  let syncs: Action[] = []
  // Answer every fetch with up to 32 ancestors, child first, as peers do.
  for (let i = chain.length; i > 0 && syncs.length === 0; i -= 32) {
    const actions = r.run(msg(2, { kind: 'blocks', blocks: chain.slice(Math.max(0, i - 32), i).reverse() }))
    syncs = actions.filter(a => a.type === 'stateSyncNeeded')
  }
  t.is(syncs.length, 1)
  t.like(syncs[0], { type: 'stateSyncNeeded', finalizedHeight: 0n, target: { view: top.view } })
  t.is(r.state.blocks.size, consensusBlocksMax)
  t.is(r.state.finalized.height, 0n, 'nothing is finalized from an incomplete chain')
})
