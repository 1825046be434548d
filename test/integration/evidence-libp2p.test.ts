// Equivocation caught on the wire: one member of a 4-node devnet (f = 1) is stopped and replaced by
// an in-process libp2p host holding its node key, which sends each honest daemon conflicting signed
// votes (and forged ones) over the subnet's consensus protocol. The daemons record and serve the
// evidence, record nothing for the forgeries, and keep finalizing. The same host then floods one
// daemon with certificate requests over the member channel: past the member's allowance they are
// counted on /metrics and not answered. Every process is stopped in teardown.

import test from 'ava'
import { encode, sha256Bytes } from '../../protocol/codec.ts'
import type { Message, Vote } from '../../protocol/consensus/messages.ts'
import type { NodeId } from '../../protocol/ids.ts'
import { consensusViewsAheadMax, memberCertificateHeightsBurst, memberCertificateRequestHeightsMax } from '../../protocol/limits.ts'
import { frameKinds } from '../../node/consensus/member-channel.ts'
import { isOurDaemon, stopNodes, type DevnetNode } from '../../node/cli/commands/devnet.ts'
import { eventually, getJson, runCliAsync } from '../helpers/daemon-process.ts'
import { startByzantineMember } from './_byzantine-member.ts'
import { subnetInfo, testDevnet } from './_test-devnet.ts'

/** A row of GET /v1/subnets/:id/evidence. */
interface EvidenceRow {
  view: string
  signer: number
  member: string | null
  verified: boolean
  first: { kind: string, block: string | null }
  second: { kind: string, block: string | null }
}

/**
 * Views the double votes are cast ahead of the highest view heard: far enough ahead that no honest
 * replica finalizes that view before the frames arrive, and well inside the window a replica keeps
 * (consensusViewsAheadMax) even if it lags the fastest member by a few views.
 */
const viewsAhead = 6n

const fakeBlock = (label: string, view: bigint): Uint8Array => sha256Bytes(encode(['not a block', label, view]))
const forged = (vote: Vote): Vote => ({ ...vote, signature: vote.signature.map((byte, i) => i === 7 ? byte ^ 0xff : byte) })

test('daemons sent conflicting votes by a member over libp2p record the evidence, serve it, refuse forgeries and keep finalizing', async t => {
  t.timeout(150_000)
  t.true(viewsAhead * 2n <= BigInt(consensusViewsAheadMax), 'the votes land inside the window of a replica a few views behind')
  const startedMs = performance.now()
  const { file } = await testDevnet(t, { prefix: 'pylon-evidence-p2p-', nodes: 4 })
  const subnet = file.subnet!
  const byzantine = file.nodes[3]!
  const honest = file.nodes.slice(0, 3)
  const heights = async (): Promise<bigint[]> => await Promise.all(honest.map(async n => BigInt((await subnetInfo(n.api, subnet))?.height ?? '0')))
  await eventually('the devnet to finalize a block', async () => (await heights()).every(h => h >= 1n), 60_000)
  const members = (await subnetInfo(honest[0]!.api, subnet))!.members
  const index = members.indexOf(byzantine.nodeId)
  t.true(index >= 0, 'the stopped node is a member')

  // The three others keep a quorum (3 of 4); the member's key now belongs to the test.
  await stopNodes([byzantine], 10_000)
  const member = await startByzantineMember(t, { node: byzantine, index, subnet, peers: honest })
  await eventually('every honest member to send consensus frames to the member', () => honest.every(n => member.viewsHeard.has(n.nodeId as NodeId)), 30_000)
  const upMs = performance.now() - startedMs

  // Per view: two notarizes for different blocks (evidence), a finalize then a forged conflicting
  // finalize (a bad signature: no evidence), two conflicting notarizes claiming another member but
  // signed with this member's key (bad signatures: nobody can be framed), then a nullify beside the
  // finalize (evidence). Frames of one stream are stepped in order, so once the nullify's record
  // is served every forgery before it has been judged.
  const equivocation = (view: bigint): Message[] => {
    const framed = index === 0 ? 1 : 0
    return [
      member.vote('notarize', view, fakeBlock('A', view)), member.vote('notarize', view, fakeBlock('B', view)),
      member.vote('finalize', view, fakeBlock('A', view)), forged(member.vote('finalize', view, fakeBlock('B', view))),
      member.vote('notarize', view, fakeBlock('C', view), framed), member.vote('notarize', view, fakeBlock('D', view), framed),
      member.vote('nullify', view)
    ]
  }
  const evidenceOf = async (node: DevnetNode): Promise<EvidenceRow[]> => await getJson<EvidenceRow[]>(`${node.api}/v1/subnets/${subnet}/evidence`)
  const badSignatures = async (node: DevnetNode): Promise<number> => {
    const response = await fetch(`${node.api}/metrics`, { signal: AbortSignal.timeout(10_000) })
    const match = new RegExp(`^pylon_consensus_replica_refused\\{subnet="${subnet}",reason="bad-signature"\\} (\\d+)$`, 'm').exec(await response.text())
    return match === null ? Number.NaN : Number(match[1])
  }
  const badBefore = await Promise.all(honest.map(badSignatures))
  const landed = new Map<DevnetNode, bigint>()
  const badCounted: number[] = []
  let attempts = 0
  // A view the replica had already finalized (or not yet reached the window of) when the frames
  // arrived is dropped as stale or future: then cast the votes again at a fresh view, at most 3 times.
  for (; attempts < 3 && landed.size < honest.length; attempts++) {
    const view = [...member.viewsHeard.values()].reduce((a, b) => a > b ? a : b) + viewsAhead
    const pending = honest.filter(n => !landed.has(n))
    await Promise.all(pending.map(async n => { await member.send(n.nodeId as NodeId, equivocation(view)) }))
    await eventually(`evidence of view ${view} on nodes ${pending.map(n => n.index).join(', ')}`, async () => {
      for (const n of pending) if ((await evidenceOf(n)).some(r => r.view === view.toString() && r.second.kind === 'nullify')) landed.set(n, view)
      return pending.every(n => landed.has(n))
    }, 20_000).catch(() => {})
  }
  t.is(landed.size, honest.length, `every honest daemon recorded the evidence (after ${attempts} attempt(s))`)
  const detectedMs = performance.now() - startedMs

  for (const node of honest) {
    const view = landed.get(node)!.toString()
    const rows = (await evidenceOf(node)).filter(r => r.view === view)
    const kinds = rows.map(r => `${r.first.kind}/${r.second.kind}`).sort()
    t.deepEqual(kinds, ['finalize/nullify', 'notarize/notarize'], `node ${node.index}: both double votes of view ${view}, and not the forged finalize`)
    for (const row of rows) t.like(row, { signer: index, member: byzantine.nodeId, verified: true }, `node ${node.index}: the record names the member and verifies`)
    const all = await evidenceOf(node)
    t.true(all.every(r => r.signer === index), `node ${node.index}: no record names a member framed by forged signatures`)
    t.is((await subnetInfo(node.api, subnet) as unknown as { evidence: number }).evidence, all.length, `node ${node.index}: GET /v1/subnets/:id counts the records`)
    // The forged finalize and the two votes claiming another member: refused, and counted.
    const bad = await badSignatures(node) - badBefore[honest.indexOf(node)]!
    t.true(bad >= 3, `node ${node.index}: /metrics counts the 3 forged votes of each attempt as bad signatures (${bad})`)
    badCounted.push(bad)
  }

  // The CLI verifies each record itself against the genesis it fetches.
  const out = await runCliAsync(['subnet', 'evidence', subnet, '--api', honest[0]!.api, '--json'], { timeoutMs: 60_000 })
  t.is(out.status, 0, out.stderr)
  const cliRows = (JSON.parse(out.stdout) as Array<EvidenceRow & { nodeVerified: boolean }>).filter(r => r.view === landed.get(honest[0]!)!.toString())
  t.is(cliRows.length, 2)
  for (const row of cliRows) t.like(row, { signer: index, member: byzantine.nodeId, verified: true, nodeVerified: true })

  // A member asking for certificates without end: past its allowance the daemon answers nothing
  // more, counts it on /metrics, and (below) goes on finalizing.
  const flooded = honest[0]!
  const refusedRateLimited = async (): Promise<number> => {
    const text = await (await fetch(`${flooded.api}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
    const match = new RegExp(`^pylon_member_refused\\{subnet="${subnet}",reason="rate-limited"\\} (\\d+)$`, 'm').exec(text)
    return match === null ? Number.NaN : Number(match[1])
  }
  t.is(await refusedRateLimited(), 0, 'the daemon shows its member channel\'s refusals on /metrics')
  const requests = Math.ceil(memberCertificateHeightsBurst / memberCertificateRequestHeightsMax) + 4
  const request = Uint8Array.from([frameKinds.certificateRequest, ...encode(Array.from({ length: memberCertificateRequestHeightsMax }, (_, i) => i + 1))])
  await member.sendMemberFrames(flooded.nodeId as NodeId, Array.from({ length: requests }, () => request))
  await eventually('the certificate requests past the allowance to be counted', async () => await refusedRateLimited() >= 1, 20_000)

  // The subnet goes on finalizing with the three honest members, each still running.
  const before = await heights()
  await eventually('every honest daemon to finalize 3 more heights', async () => (await heights()).every((h, i) => h >= before[i]! + 3n), 45_000)
  for (const node of honest) t.true(isOurDaemon(node), `node ${node.index} is still running`)
  t.log(`member replaced in ${(upMs / 1000).toFixed(1)} s; evidence on all 3 daemons at ${(detectedMs / 1000).toFixed(1)} s (${attempts} attempt(s)); bad signatures counted ${badCounted.join(', ')}; total ${((performance.now() - startedMs) / 1000).toFixed(1)} s`)
})
