// MemberChannel: envelopes and certification shares reach every other member in order over one
// stream each; a non-member's stream, a malformed frame, an oversized frame or share are refused
// and counted, and a sink's refusal of a well-formed frame is counted without closing the stream.

import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { Registry } from 'prom-client'
import type { NodeId } from '../../../../protocol/ids.ts'
import { encode } from '../../../../protocol/codec.ts'
import {
  memberCertificateBytesMax, memberCertificateHeightsBurst, memberCertificateHeightsPerSecond, memberCertificateRequestHeightsMax, memberFrameBytesMax, memberShareBytesMax
} from '../../../../protocol/limits.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { MemberChannel, frameKinds, memberProtocolOf } from '../../../../node/consensus/member-channel.ts'
import { PrometheusMemberChannelMetrics } from '../../../../node/consensus/consensus-metrics.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'
import { signers, subnetOf, waitFor } from './_harness.ts'

interface Member {
  net: FakeNet
  clock: ManualClock
  channel: MemberChannel
  ingress: Array<{ text: string, from: NodeId }>
  shares: Array<{ text: string, from: NodeId }>
  requests: Array<{ heights: bigint[], from: NodeId }>
  certificates: Array<{ text: string, from: NodeId }>
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const bytesOf = (s: string): Uint8Array => new TextEncoder().encode(s)

async function members (n: number, salt: string, verdicts: { ingress?: (s: string) => boolean, share?: (s: string) => boolean } = {}, answer?: (self: NodeId) => Promise<void>) {
  const keys = signers(n, salt)
  const subnet = subnetOf(keys, 100)
  const network = new FakeNetwork()
  const nodes: Member[] = []
  for (const key of keys) {
    const net = new FakeNet(key.id as NodeId, network)
    const clock = new ManualClock()
    const node: Member = { net, clock, channel: undefined as unknown as MemberChannel, ingress: [], shares: [], requests: [], certificates: [] }
    node.channel = new MemberChannel({ net, clock, logger: silentLogger }, {
      subnet,
      self: net.nodeId,
      onIngress: (bytes, from) => { node.ingress.push({ text: text(bytes), from }); return verdicts.ingress?.(text(bytes)) ?? true },
      onShare: async (bytes, from) => { node.shares.push({ text: text(bytes), from }); return verdicts.share?.(text(bytes)) ?? true },
      onCertificateRequest: async (heights, from) => {
        node.requests.push({ heights, from })
        await answer?.(net.nodeId)
      },
      onCertificate: async (bytes, from) => { node.certificates.push({ text: text(bytes), from }); return text(bytes) !== 'bad certificate' }
    })
    await node.channel.start()
    nodes.push(node)
  }
  return { subnet, network, keys, nodes }
}

test('MemberChannel relays envelopes and shares to every other member, in order, over one stream each', async t => {
  const { nodes } = await members(4, 'relay')
  t.teardown(async () => { for (const node of nodes) await node.channel.stop() })
  const [a, ...others] = nodes
  let dials = 0
  const dial = a!.net.dial.bind(a!.net)
  a!.net.dial = async (peer, protocol) => { dials++; return await dial(peer, protocol) }
  for (let i = 0; i < 200; i++) a!.channel.sendIngress(bytesOf(`env-${i}`))
  a!.channel.sendShare(bytesOf('share-1'))
  for (const node of others) {
    await waitFor(() => node.ingress.length === 200 && node.shares.length === 1, 5_000, () => `member got ${node.ingress.length} envelopes, ${node.shares.length} shares`)
    t.deepEqual(node.ingress.map(e => e.text), Array.from({ length: 200 }, (_, i) => `env-${i}`))
    t.true(node.ingress.every(e => e.from === a!.net.nodeId), 'the sender is named by its authenticated node id')
    t.deepEqual(node.shares, [{ text: 'share-1', from: a!.net.nodeId }])
  }
  t.is(a!.ingress.length, 0, 'nothing comes back to the sender')
  t.is(dials, 3, 'one long-lived stream per other member')
  t.is(a!.channel.status().sent, 3 * 201)
})

test('MemberChannel refuses a non-member, garbage, unknown kinds and oversized frames, counting each, and keeps serving', async t => {
  const { nodes, network, subnet } = await members(4, 'refuse', { ingress: s => s !== 'forged', share: s => s !== 'bad share' })
  t.teardown(async () => { for (const node of nodes) await node.channel.stop() })
  const target = nodes[0]!
  const protocol = memberProtocolOf(subnet.id)
  t.is(target.channel.protocol, protocol)
  const status = (): ReturnType<MemberChannel['status']> => target.channel.status()
  const frame = (kind: number, body: string): Uint8Array => Uint8Array.from([kind, ...bytesOf(body)])

  // A non-member: refused before anything is read, nothing reaches a sink.
  const outsider = new FakeNet(signers(1, 'outsider')[0]!.id as NodeId, network)
  const refused = await outsider.dial(target.net.nodeId, protocol)
  await lpStream(refused).write(frame(frameKinds.ingress, 'from outside')).catch(() => {})
  await waitFor(() => status().refused['non-member'] === 1, 2_000, () => 'the non-member refusal')
  t.is(target.ingress.length, 0)

  // A member: a refused envelope and a refused share are counted, the stream stays open.
  const member = nodes[1]!.net
  const lp = lpStream(await member.dial(target.net.nodeId, protocol))
  await lp.write(frame(frameKinds.ingress, 'forged'))
  await lp.write(frame(frameKinds.share, 'bad share'))
  await lp.write(frame(frameKinds.ingress, 'fine'))
  await waitFor(() => target.ingress.length === 2, 2_000, () => 'both envelopes handed to the mempool')
  t.deepEqual(target.ingress.map(e => e.text), ['forged', 'fine'])
  t.is(status().refused['bad-ingress'], 1)
  t.is(status().refused['bad-share'], 1)

  // Unknown kind: malformed, the stream closes and nothing after it is read.
  const garbage = await member.dial(target.net.nodeId, protocol)
  const glp = lpStream(garbage)
  await glp.write(frame(9, 'what'))
  await glp.write(frame(frameKinds.ingress, 'after garbage')).catch(() => {})
  await waitFor(() => status().refused.malformed === 1, 2_000, () => 'the unknown-kind refusal')
  // A frame too short to hold a kind and a body.
  const short = lpStream(await member.dial(target.net.nodeId, protocol))
  await short.write(Uint8Array.from([frameKinds.ingress]))
  await waitFor(() => status().refused.malformed === 2, 2_000, () => 'the short-frame refusal')

  // An oversized length prefix is refused before the bytes are buffered; so is an oversized share.
  const big = await member.dial(target.net.nodeId, protocol)
  t.true(268_435_455 > memberFrameBytesMax)
  big.send(Uint8Array.from([0xff, 0xff, 0xff, 0x7f]))
  await waitFor(() => status().refused.oversized === 1, 2_000, () => 'the oversized-frame refusal')
  const bigShare = lpStream(await member.dial(target.net.nodeId, protocol))
  await bigShare.write(Uint8Array.from([frameKinds.share, ...new Uint8Array(memberShareBytesMax + 1)]))
  await waitFor(() => status().refused.oversized === 2, 2_000, () => 'the oversized-share refusal')

  await new Promise(resolve => setTimeout(resolve, 30))
  t.deepEqual(target.ingress.map(e => e.text), ['forged', 'fine'], 'nothing after a refused frame reached a sink')
  t.deepEqual(target.shares.map(e => e.text), ['bad share'])
  // Still serving members.
  nodes[2]!.channel.sendIngress(bytesOf('still served'))
  await waitFor(() => target.ingress.length === 3, 2_000, () => 'a later envelope')
  t.is(target.ingress.at(-1)!.text, 'still served')
})

test('MemberChannel carries a certificate request to every member and a certificate to the one that asked; malformed requests and oversized certificates close the stream', async t => {
  const { nodes, subnet } = await members(4, 'certificates')
  t.teardown(async () => { for (const node of nodes) await node.channel.stop() })
  const [a, b, ...rest] = nodes
  a!.channel.requestCertificates([3n, 4n])
  for (const node of [b!, ...rest]) {
    await waitFor(() => node.requests.length === 1, 5_000, () => 'the request')
    t.deepEqual(node.requests, [{ heights: [3n, 4n], from: a!.net.nodeId }])
  }
  b!.channel.sendCertificate(a!.net.nodeId, bytesOf('certificate 3'))
  b!.channel.sendCertificate(a!.net.nodeId, bytesOf('bad certificate'))
  await waitFor(() => a!.certificates.length === 2, 5_000, () => 'the certificates')
  t.deepEqual(a!.certificates.map(c => [c.text, c.from]), [['certificate 3', b!.net.nodeId], ['bad certificate', b!.net.nodeId]])
  t.is(a!.channel.status().refused['bad-certificate'], 1, 'a sink refusal is counted; the stream stays open')
  t.true(rest.every(node => node.certificates.length === 0), 'only the asker gets it')
  t.throws(() => { a!.channel.requestCertificates(Array.from({ length: memberCertificateRequestHeightsMax + 1 }, (_, i) => BigInt(i + 1))) }, { instanceOf: RangeError })

  const protocol = memberProtocolOf(subnet.id)
  const malformed = async (body: Uint8Array, refused: number): Promise<void> => {
    const lp = lpStream(await b!.net.dial(a!.net.nodeId, protocol))
    await lp.write(Uint8Array.from([frameKinds.certificateRequest, ...body])).catch(() => {})
    await waitFor(() => a!.channel.status().refused.malformed === refused, 2_000, () => `refusal ${refused}`)
  }
  await malformed(encode('three'), 1)
  await malformed(encode([0]), 2)
  await malformed(encode(Array.from({ length: memberCertificateRequestHeightsMax + 1 }, () => 1)), 3)
  const big = lpStream(await b!.net.dial(a!.net.nodeId, protocol))
  await big.write(Uint8Array.from([frameKinds.certificate, ...new Uint8Array(memberCertificateBytesMax + 1)])).catch(() => {})
  await waitFor(() => a!.channel.status().refused.oversized === 1, 2_000, () => 'the oversized-certificate refusal')
  t.is(a!.requests.length, 0, 'no malformed request reached the sink')
  t.is(a!.certificates.length, 2)
})

test('MemberChannel answers each member\'s certificate requests within its allowance of heights, counts the rest, and keeps the stream', async t => {
  const { nodes, subnet } = await members(4, 'allowance')
  t.teardown(async () => { for (const node of nodes) await node.channel.stop() })
  const [a, b, c] = nodes
  const full = (from: number): bigint[] => Array.from({ length: memberCertificateRequestHeightsMax }, (_, i) => BigInt(from + i))
  const requests = Math.floor(memberCertificateHeightsBurst / memberCertificateRequestHeightsMax)
  t.is(requests * memberCertificateRequestHeightsMax, memberCertificateHeightsBurst, 'the burst is a whole number of full requests (the test relies on it)')
  for (let i = 0; i <= requests; i++) b!.channel.requestCertificates(full(1 + i * memberCertificateRequestHeightsMax))
  b!.channel.sendShare(bytesOf('share after the asks'))
  await waitFor(() => a!.shares.length === 1, 5_000, () => `${a!.requests.length} requests, ${a!.shares.length} shares`)
  t.is(a!.requests.length, requests, 'the burst is answered whole; the request past it is not')
  t.deepEqual(a!.requests.flatMap(r => r.heights), Array.from({ length: memberCertificateHeightsBurst }, (_, i) => BigInt(i + 1)))
  t.is(a!.channel.status().refused['rate-limited'], 1)
  t.is(a!.channel.status().refused.malformed, 0, 'a request past the allowance is well formed: the stream stays open')

  // Another member has its own allowance.
  c!.channel.requestCertificates([7n])
  await waitFor(() => a!.requests.length === requests + 1, 5_000, () => 'the other member\'s request')
  t.deepEqual(a!.requests.at(-1), { heights: [7n], from: c!.net.nodeId })

  // The allowance refills with time: 100 ms give memberCertificateHeightsPerSecond / 10 heights, so
  // a full request is cut to them (the rest refused), and the next one gets nothing.
  a!.clock.advance(100)
  const refill = Math.floor(memberCertificateHeightsPerSecond / 10)
  t.true(refill > 0 && refill < memberCertificateRequestHeightsMax)
  b!.channel.requestCertificates(full(1_000))
  b!.channel.requestCertificates(full(2_000))
  b!.channel.sendShare(bytesOf('second share'))
  await waitFor(() => a!.shares.length === 2, 5_000, () => 'the second share')
  t.deepEqual(a!.requests.at(-1), { heights: full(1_000).slice(0, refill), from: b!.net.nodeId })
  t.is(a!.requests.length, requests + 2)
  t.is(a!.channel.status().refused['rate-limited'], 3)

  // What an operator sees on /metrics (read from the channel when scraped).
  const registry = new Registry()
  void new PrometheusMemberChannelMetrics(registry, () => [{ subnet: subnet.id, status: a!.channel.status() }])
  const scraped = await registry.metrics()
  t.regex(scraped, new RegExp(`^pylon_member_refused\\{subnet="${subnet.id}",reason="rate-limited"\\} 3$`, 'm'))
  t.regex(scraped, new RegExp(`^pylon_member_frames_received\\{subnet="${subnet.id}",kind="certificate-request"\\} ${requests + 4}$`, 'm'), 'every well-formed request is received, answered or not')
  t.regex(scraped, new RegExp(`^pylon_member_frames_dropped\\{subnet="${subnet.id}"\\} 0$`, 'm'))
})

test('MemberChannel answers one certificate request of a member at a time: the next frames wait for the answer', async t => {
  let release: () => void = () => {}
  let answering = 0
  let most = 0
  let asked: NodeId | undefined
  const { nodes } = await members(4, 'one at a time', {}, async self => {
    if (self !== asked) return
    answering++
    most = Math.max(most, answering)
    await new Promise<void>(resolve => { release = resolve })
    answering--
  })
  t.teardown(async () => { release(); for (const node of nodes) await node.channel.stop() })
  const [a, b] = nodes
  asked = a!.net.nodeId
  b!.channel.requestCertificates([1n])
  b!.channel.requestCertificates([2n])
  b!.channel.sendShare(bytesOf('behind the requests'))
  await waitFor(() => a!.requests.length === 1, 5_000, () => 'the first request')
  await new Promise(resolve => setTimeout(resolve, 50))
  t.is(a!.requests.length, 1, 'the second request waits for the first answer')
  t.is(a!.shares.length, 0, 'so do the frames behind it')
  release()
  await waitFor(() => a!.requests.length === 2, 5_000, () => 'the second request')
  release()
  await waitFor(() => a!.shares.length === 1, 5_000, () => 'the share')
  t.is(most, 1)
})

test('MemberChannel refuses to be built for a node that is not a member, and sends nothing once stopped', async t => {
  const { subnet, nodes } = await members(4, 'stopped')
  const outsider = new FakeNet(signers(1, 'not-member')[0]!.id as NodeId)
  t.throws(() => new MemberChannel({ net: outsider, clock: new ManualClock(), logger: silentLogger }, { subnet, self: outsider.nodeId, onIngress: () => true, onShare: async () => true }), { message: /is not a member/ })
  await nodes[0]!.channel.stop()
  nodes[0]!.channel.sendIngress(bytesOf('late'))
  await new Promise(resolve => setTimeout(resolve, 30))
  for (const node of nodes.slice(1)) t.is(node.ingress.length, 0)
  for (const node of nodes.slice(1)) await node.channel.stop()
})
