// Shared fixture for the consensus unit tests: a 4-member subnet with fixed keys, and helpers that
// sign votes and build blocks as other members would.

import { cidOf, encode, sha256Bytes } from '../../../../protocol/codec.ts'
import { peerIdOfPublicKey } from '../../../../protocol/ids.ts'
import { signerFromSeed, type Signer } from '../../../../protocol/signature.ts'
import { certificateOf, membershipOf, type Membership } from '../../../../protocol/consensus/certificate.ts'
import { blockHash, domains, voteSigningValue, type Block, type Certificate, type Vote, type VoteKind } from '../../../../protocol/consensus/messages.ts'
import { createReplica, step, type Action, type Event, type ReplicaConfig, type ReplicaState } from '../../../../protocol/consensus/replica.ts'

export const subnet = cidOf({ test: 'subnet' }).toString()
export const genesis = sha256Bytes(encode(['test-genesis']))
export const signers: Signer[] = Array.from({ length: 8 }, (_, i) => signerFromSeed(sha256Bytes(encode(['unit-key', i])), peerIdOfPublicKey))
export const membership: Membership = membershipOf(subnet, signers.slice(0, 4).map(s => s.id))
export const deltaMs = 100

export function config (self: number): ReplicaConfig {
  return { membership, self, signer: signers[self]!, genesis, deltaMs }
}

export function vote (signer: number, kind: VoteKind, view: bigint, block?: Uint8Array): Vote {
  const signature = signers[signer]!.sign(domains[kind], voteSigningValue(subnet, kind, view, block))
  return { kind, view, ...(block === undefined ? {} : { block }), signer, signature }
}

export function block (view: bigint, height: bigint, parent: Uint8Array, payload = Uint8Array.of(1)): Block {
  return { subnet, view, height, parent, payload, proposer: membership.members[Number(view % 4n)]! }
}

export function proposal (b: Block): { kind: 'proposal', block: Block, vote: Vote } {
  return { kind: 'proposal', block: b, vote: vote(Number(b.view % 4n), 'notarize', b.view, blockHash(b)) }
}

export function certificate (kind: Certificate['kind'], view: bigint, hash: Uint8Array | undefined, by: number[]): Certificate {
  const voteKind = kind === 'notarization' ? 'notarize' : kind === 'nullification' ? 'nullify' : 'finalize'
  return certificateOf(kind, view, hash, new Map(by.map(i => [i, vote(i, voteKind, view, hash).signature])))
}

/** A started replica and a helper that steps it, collecting actions. */
export function started (self: number, state?: ReplicaState): { state: ReplicaState, run: (event: Event) => Action[] } {
  const holder = { state: state ?? createReplica(config(self)) }
  const run = (event: Event): Action[] => {
    const result = step(holder.state, event)
    holder.state = result.state
    return result.actions
  }
  run({ type: 'start' })
  return { get state () { return holder.state }, run }
}

export function sends (actions: Action[], kind?: string): Array<Extract<Action, { type: 'send' }>> {
  return actions.filter((a): a is Extract<Action, { type: 'send' }> => a.type === 'send' && (kind === undefined || a.message.kind === kind))
}
