// A real HTTP API (loopback, free port) over one member of a 4-member subnet whose LevelDB store
// holds equivocation evidence: two real records (a double notarize, a finalize against a nullify)
// signed by members' own keys, and one forged record that must be shown as not verifying.
// Shared by the route test and the `pylon subnet evidence` test.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encode, sha256Bytes } from '../../../../protocol/codec.ts'
import { encodeEvidence, type Evidence } from '../../../../protocol/consensus/evidence.ts'
import { domains, voteSigningValue, type Vote, type VoteKind } from '../../../../protocol/consensus/messages.ts'
import type { Signer } from '../../../../protocol/signature.ts'
import type { Subnet } from '../../../../protocol/subnet.ts'
import type { SubnetDirectory } from '../../../../node/api/subnet-routes.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import type { Store } from '../../../../node/store/store.ts'
import { makeReplica, makeSubnet, replicaApi } from '../subnet/_harness.ts'

export const blockA = sha256Bytes(encode(['block', 'a']))
export const blockB = sha256Bytes(encode(['block', 'b']))

export function signedVote (subnet: Subnet, key: Signer, signer: number, kind: VoteKind, view: bigint, block?: Uint8Array): Vote {
  const signature = key.sign(domains[kind], voteSigningValue(subnet.id, kind, view, block))
  return { kind, view, ...(block === undefined ? {} : { block }), signer, signature }
}

async function keep (store: Store, subnet: Subnet, evidence: Evidence): Promise<void> {
  const stored = await store.putEvidence({ view: evidence.view, signer: evidence.signer, first: evidence.first.kind, second: evidence.second.kind }, encodeEvidence(subnet.id, evidence))
  if (!stored) throw new Error('evidence fixture not stored')
}

export interface EvidenceApi { subnet: Subnet, nodes: Signer[], store: Store, url: string, directory: SubnetDirectory, clock: ManualClock }

/**
 * Member 1 notarized two blocks in view 3; member 2 finalized and nullified view 7; a record claims
 * member 3 notarized two blocks in view 5, but its second vote is signed by member 0's key (forged).
 */
export async function evidenceApi (t: { teardown: (fn: () => Promise<void>) => void }): Promise<EvidenceApi> {
  const clock = new ManualClock(Date.now())
  const { subnet, nodes } = makeSubnet(4, clock)
  const dir = await mkdtemp(join(tmpdir(), 'pylon-evidence-api-'))
  const store = await openStore(dir, { checkpointIntervalHeights: 0 })
  const { service } = makeReplica(subnet, nodes[0]!, store, clock)
  await service.start()
  const vote = (member: number, kind: VoteKind, view: bigint, block?: Uint8Array, key = nodes[member]!): Vote => signedVote(subnet, key, member, kind, view, block)
  await keep(store, subnet, { signer: 1, view: 3n, first: vote(1, 'notarize', 3n, blockA), second: vote(1, 'notarize', 3n, blockB) })
  await keep(store, subnet, { signer: 2, view: 7n, first: vote(2, 'finalize', 7n, blockA), second: vote(2, 'nullify', 7n) })
  await keep(store, subnet, { signer: 3, view: 5n, first: vote(3, 'notarize', 5n, blockA), second: vote(3, 'notarize', 5n, blockB, nodes[0]!) })
  t.teardown(async () => {
    await service.stop()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  const { url, directory } = await replicaApi(t, service, clock)
  return { subnet, nodes, store, url, directory, clock }
}
