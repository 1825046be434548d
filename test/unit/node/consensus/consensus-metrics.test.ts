// PrometheusConsensusMetrics: what a running daemon's /metrics shows of its consensus. Here, the
// replica's own refusals (a forged vote is a bad signature, and nothing else), read on scrape from
// a driver over an in-memory net, and gone once that driver stops.

import test from 'ava'
import { lpStream } from '@libp2p/utils'
import { Registry } from 'prom-client'
import { encode, sha256Bytes } from '../../../../protocol/codec.ts'
import { domains, encodeMessage, voteSigningValue, type Vote } from '../../../../protocol/consensus/messages.ts'
import type { NodeId } from '../../../../protocol/ids.ts'
import { systemClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { ConsensusDriver, consensusProtocolOf } from '../../../../node/consensus/consensus-driver.ts'
import { PrometheusConsensusMetrics } from '../../../../node/consensus/consensus-metrics.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'
import { CounterApplication, signers, subnetOf, waitFor } from './_harness.ts'

/** Long enough that view 1 is still open when the votes arrive. */
const deltaMs = 2_000

test('PrometheusConsensusMetrics shows a running replica\'s refusals by reason (a forged vote as bad-signature) and drops them when its driver stops', async t => {
  const keys = signers(4, 'metrics')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const store = await memoryStore({ checkpointIntervalHeights: 0 })
  t.teardown(async () => { await store.close() })
  const registry = new Registry()
  const metrics = new PrometheusConsensusMetrics(registry)
  const driver = new ConsensusDriver({ net: new FakeNet(keys[0]!.id as NodeId, network), store, clock: systemClock, logger: silentLogger, signer: keys[0]!, application: new CounterApplication(store, subnet), metrics }, { subnet })
  t.teardown(async () => { await driver.stop() })
  await driver.start()
  const series = (reason: string): RegExp => new RegExp(`^pylon_consensus_replica_refused\\{subnet="${subnet.id}",reason="${reason}"\\} (\\d+)$`, 'm')
  const scraped = async (reason: string): Promise<number | undefined> => {
    const match = series(reason).exec(await registry.metrics())
    return match === null ? undefined : Number(match[1])
  }
  t.is(await scraped('bad-signature'), 0, 'a started replica shows its counters at 0')

  // A member's valid notarize, then a conflicting one whose signature has one byte flipped: the
  // forgery is refused as a bad signature, and proves no equivocation.
  const key = keys[1]!
  const signer = subnet.memberIds.indexOf(key.id as NodeId)
  const notarize = (label: string): Vote => {
    const block = sha256Bytes(encode(['block', label]))
    return { kind: 'notarize', view: 1n, block, signer, signature: key.sign(domains.notarize, voteSigningValue(subnet.id, 'notarize', 1n, block)) }
  }
  const forged = notarize('b')
  forged.signature = forged.signature.map((byte, i) => i === 0 ? byte ^ 0xff : byte)
  const stream = lpStream(await new FakeNet(key.id as NodeId, network).dial(keys[0]!.id as NodeId, consensusProtocolOf(subnet.id)))
  await stream.write(encodeMessage(notarize('a')))
  await stream.write(encodeMessage(forged))
  await waitFor(() => driver.status().counters.badSignature === 1, 5_000, () => `the forged vote to be stepped (counters ${JSON.stringify(driver.status().counters)})`)

  t.is(await scraped('bad-signature'), 1)
  t.is(await scraped('duplicate'), 0)
  t.is(await scraped('non-member'), 0)
  t.is(driver.status().evidence, 0, 'a forged conflicting vote is no evidence')
  t.regex(await registry.metrics(), /^# HELP pylon_consensus_replica_refused /m)

  await driver.stop()
  t.is(await scraped('bad-signature'), undefined, 'a stopped replica is no longer shown')
})
