// PeerLink: frames reach the member over one length-prefixed stream, a failed dial drops the stale
// frames and waits consensusRedialMs before the next dial, and a full outbox drops its oldest frames.

import test from 'ava'
import { lpStream } from '@libp2p/utils'
import type { NodeId } from '../../../../protocol/ids.ts'
import { consensusOutboxFramesMax, consensusRedialMs, consensusWriteTimeoutMs } from '../../../../protocol/limits.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { PeerLink } from '../../../../node/consensus/peer-link.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'
import { signers, waitFor } from './_harness.ts'

const protocol = '/pylon/consensus/1.0.0/test'

function pair (): { network: FakeNetwork, a: FakeNet, b: FakeNet, received: string[] } {
  const [ka, kb] = signers(2, 'link')
  const network = new FakeNetwork()
  const a = new FakeNet(ka!.id as NodeId, network)
  const b = new FakeNet(kb!.id as NodeId, network)
  const received: string[] = []
  b.handle(protocol, async stream => {
    const lp = lpStream(stream)
    for (;;) received.push(new TextDecoder().decode((await lp.read()).subarray()))
  }, { inboundStreamsMax: 4, outboundStreamsMax: 4 })
  return { network, a, b, received }
}

const frame = (text: string): Uint8Array => new TextEncoder().encode(text)

test('PeerLink delivers frames in order over one stream', async t => {
  const { a, b, received } = pair()
  let dials = 0
  const dial = a.dial.bind(a)
  a.dial = async (peer, p) => { dials++; return await dial(peer, p) }
  const link = new PeerLink({ net: a, clock: new ManualClock(), logger: silentLogger }, { peer: b.nodeId, protocol, onDrop: () => { t.fail('nothing is dropped') } })
  t.teardown(() => { link.close() })
  for (let i = 0; i < 50; i++) link.send(frame(`m${i}`))
  await waitFor(() => received.length === 50, 5_000, () => `50 frames (got ${received.length})`)
  t.deepEqual(received, Array.from({ length: 50 }, (_, i) => `m${i}`))
  t.is(dials, 1, 'one long-lived stream')
})

test('PeerLink drops frames when the dial fails and re-dials only after consensusRedialMs', async t => {
  const { a, b, received } = pair()
  const clock = new ManualClock()
  const drops: Array<{ reason: string, frames: number }> = []
  let failing = true
  let dials = 0
  const dial = a.dial.bind(a)
  a.dial = async (peer, p) => {
    dials++
    if (failing) throw new Error('connection refused')
    return await dial(peer, p)
  }
  const link = new PeerLink({ net: a, clock, logger: silentLogger }, { peer: b.nodeId, protocol, onDrop: (reason, frames) => { drops.push({ reason, frames }) } })
  t.teardown(() => { link.close() })
  link.send(frame('lost'))
  await waitFor(() => drops.length === 1, 2_000, () => 'the dial failure')
  t.deepEqual(drops, [{ reason: 'dial-failed', frames: 1 }])
  failing = false
  link.send(frame('later'))
  await new Promise(resolve => setTimeout(resolve, 30))
  t.is(dials, 1, 'no re-dial before consensusRedialMs')
  t.is(link.queued, 1)
  clock.advance(consensusRedialMs)
  await waitFor(() => received.length === 1, 2_000, () => 'delivery after the re-dial')
  t.deepEqual(received, ['later'])
  t.is(dials, 2)
})

test('PeerLink keeps at most consensusOutboxFramesMax frames, dropping the oldest', async t => {
  const { a, b } = pair()
  const drops: number[] = []
  a.dial = async () => await new Promise(() => {}) // a dial that never completes: frames pile up
  const link = new PeerLink({ net: a, clock: new ManualClock(), logger: silentLogger }, { peer: b.nodeId, protocol, onDrop: (_reason, frames) => { drops.push(frames) } })
  t.teardown(() => { link.close() })
  for (let i = 0; i < consensusOutboxFramesMax + 10; i++) link.send(frame(`m${i}`))
  t.is(link.queued, consensusOutboxFramesMax)
  t.is(drops.reduce((x, y) => x + y, 0), 10)
})

test('PeerLink replaces the stream of a member that stops reading once a write is pending for consensusWriteTimeoutMs', async t => {
  const { a, b, received } = pair()
  const clock = new ManualClock()
  const drops: Array<{ reason: string, frames: number }> = []
  let streams = 0
  const dial = a.dial.bind(a)
  a.dial = async (peer, p) => {
    const stream = await dial(peer, p)
    // The first stream behaves as a member that stopped reading: its buffer is full and never drains.
    if (streams++ === 0) stream.send = () => false
    return stream
  }
  const link = new PeerLink({ net: a, clock, logger: silentLogger }, { peer: b.nodeId, protocol, onDrop: (reason, frames) => { drops.push({ reason, frames }) } })
  t.teardown(() => { link.close() })
  link.send(frame('stuck'))
  await waitFor(() => link.queued === 0, 2_000, () => 'the write started')
  link.send(frame('queued'))
  clock.advance(consensusWriteTimeoutMs - 1)
  await new Promise(resolve => setTimeout(resolve, 20))
  t.deepEqual(drops, [], 'not before the timeout')
  t.is(link.sent, 0)
  clock.advance(1)
  await waitFor(() => received.length === 1, 2_000, () => 'the queued frame delivered on a new stream')
  t.deepEqual(drops, [{ reason: 'write-failed', frames: 1 }])
  t.deepEqual(received, ['queued'])
  t.is(streams, 2)
})
