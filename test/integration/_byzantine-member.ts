// A subnet member played by the test: an in-process libp2p host holding a stopped daemon's node key,
// listening where the genesis says that member listens. It reads the consensus frames the honest
// members send it (to learn their current view) and writes whatever signed votes (or member-channel
// frames) the test hands it.
// It never votes on its own; the test closes it in teardown.

import type { ExecutionContext } from 'ava'
import { lpStream } from '@libp2p/utils'
import { Registry } from 'prom-client'
import { decodeMessage, domains, encodeMessage, voteSigningValue, type Message, type Vote, type VoteKind } from '../../protocol/consensus/messages.ts'
import type { NodeId, SubnetId } from '../../protocol/ids.ts'
import { consensusMessageBytesMax, consensusStreamsMax, memberFrameBytesMax } from '../../protocol/limits.ts'
import { consensusProtocolOf } from '../../node/consensus/consensus-driver.ts'
import { memberProtocolOf } from '../../node/consensus/member-channel.ts'
import { loadNodeKey } from '../../node/config/node-key.ts'
import { silentLogger } from '../../node/core/logger.ts'
import type { DevnetNode } from '../../node/cli/commands/devnet.ts'
import { decodeFrameLength, readFrame } from '../../node/net/frames.ts'
import { Libp2pNet } from '../../node/net/libp2p-net.ts'

export interface ByzantineMember {
  net: Libp2pNet
  /** The member's index in the subnet (its votes' `signer`). */
  index: number
  /** The highest view named by any consensus message each honest member sent us. */
  viewsHeard: Map<NodeId, bigint>
  /** A vote signed with this member's key (`signer` may claim another index: a forgery). */
  vote: (kind: VoteKind, view: bigint, block?: Uint8Array, signer?: number) => Vote
  /** Writes the messages, in order, on one new consensus stream to `peer`, then closes it. */
  send: (peer: NodeId, messages: Message[]) => Promise<void>
  /** Writes raw member-channel frames (kind byte ‖ body), in order, on one new member stream to `peer`, then closes it. */
  sendMemberFrames: (peer: NodeId, frames: Uint8Array[]) => Promise<void>
}

/** Starts the host with `node`'s key on `node`'s listen address (the daemon of `node` must be stopped). */
export async function startByzantineMember (t: ExecutionContext, options: { node: DevnetNode, index: number, subnet: SubnetId, peers: DevnetNode[] }): Promise<ByzantineMember> {
  const { node, index, subnet, peers } = options
  const key = await loadNodeKey(node.dataDir)
  const protocol = consensusProtocolOf(subnet)
  const net = new Libp2pNet({ logger: silentLogger, metricsRegistry: new Registry() }, {
    privateKey: key.privateKey, network: 'local', listen: [node.listen], bootstrap: peers.map(p => `${p.listen}/p2p/${p.nodeId}`), mdns: false, agentVersion: 'pylon-test-byzantine'
  })
  const viewsHeard = new Map<NodeId, bigint>()
  // The honest members' links dial this member and write to it; read everything so they never stall.
  net.handle(protocol, async (stream, peer) => {
    const lp = lpStream(stream, { lengthDecoder: decodeFrameLength, maxDataLength: consensusMessageBytesMax })
    for (;;) {
      const frame = await readFrame(lp, AbortSignal.timeout(120_000))
      if (typeof frame === 'string') return
      const message = decodeMessage(frame)
      if (!message.ok) return
      const view = viewOf(message.value)
      if (view !== undefined && view > (viewsHeard.get(peer) ?? -1n)) viewsHeard.set(peer, view)
    }
  }, { inboundStreamsMax: consensusStreamsMax, outboundStreamsMax: consensusStreamsMax })
  t.teardown(async () => { await net.stop() })
  await net.start()
  for (const peer of peers) net.addPeerAddresses(peer.nodeId as NodeId, [peer.listen])
  const vote = (kind: VoteKind, view: bigint, block?: Uint8Array, signer = index): Vote =>
    ({ kind, view, ...(block === undefined ? {} : { block }), signer, signature: key.signer.sign(domains[kind], voteSigningValue(subnet, kind, view, block)) })
  const send = async (peer: NodeId, messages: Message[]): Promise<void> => {
    const stream = await net.dial(peer, protocol, { signal: AbortSignal.timeout(10_000) })
    const lp = lpStream(stream, { maxDataLength: consensusMessageBytesMax })
    await lp.writeV(messages.map(encodeMessage), { signal: AbortSignal.timeout(10_000) })
    await stream.close({ signal: AbortSignal.timeout(10_000) })
  }
  const sendMemberFrames = async (peer: NodeId, frames: Uint8Array[]): Promise<void> => {
    const stream = await net.dial(peer, memberProtocolOf(subnet), { signal: AbortSignal.timeout(10_000) })
    const lp = lpStream(stream, { maxDataLength: memberFrameBytesMax })
    await lp.writeV(frames, { signal: AbortSignal.timeout(10_000) })
    await stream.close({ signal: AbortSignal.timeout(10_000) })
  }
  return { net, index, viewsHeard, vote, send, sendMemberFrames }
}

function viewOf (message: Message): bigint | undefined {
  switch (message.kind) {
    case 'proposal': return message.block.view
    case 'request': case 'blocks': return undefined
    default: return message.view
  }
}
