// ConsensusDriver and equivocation evidence: a member that signs two notarize votes for different
// blocks in one view is caught, and the proof lands in the subnet's LevelDB store, where it is still
// after a restart, and still verifies against the subnet's members.

import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { encode, sha256Bytes } from '../../../../protocol/codec.ts'
import { membershipOf } from '../../../../protocol/consensus/certificate.ts'
import { decodeEvidence, verifyEvidence } from '../../../../protocol/consensus/evidence.ts'
import { domains, encodeMessage, voteSigningValue, type Vote } from '../../../../protocol/consensus/messages.ts'
import type { NodeId } from '../../../../protocol/ids.ts'
import { systemClock } from '../../../../node/core/clock.ts'
import { createLogger, silentLogger } from '../../../../node/core/logger.ts'
import { ConsensusDriver, consensusProtocolOf } from '../../../../node/consensus/consensus-driver.ts'
import { openStore } from '../../../../node/store/level-store.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import type { Store } from '../../../../node/store/store.ts'
import { FakeNet, FakeNetwork } from '../../../helpers/fake-net.ts'
import { CounterApplication, signers, subnetOf, waitFor } from './_harness.ts'

/** Long enough that view 1 is still open when the votes arrive (no timeout moves the replica on). */
const deltaMs = 2_000

async function evidenceCount (store: Store, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const count = await store.evidenceCount()
    if (count > 0 || Date.now() > deadline) return count
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

test('ConsensusDriver stores a member\'s double notarize as evidence in its LevelDB store, kept across a reopen', async t => {
  const keys = signers(4, 'evidence')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const dir = await mkdtemp(join(tmpdir(), 'pylon-driver-evidence-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  let store = await openStore(dir, { checkpointIntervalHeights: 0 })
  t.teardown(async () => { await store.close() })
  const net = new FakeNet(keys[0]!.id as NodeId, network)
  const driver = new ConsensusDriver({ net, store, clock: systemClock, logger: silentLogger, signer: keys[0]!, application: new CounterApplication(store, subnet) }, { subnet })
  t.teardown(async () => { await driver.stop() })
  await driver.start()

  // Another member signs, with its own key, notarize votes for two different blocks of view 1.
  const equivocator = keys[1]!
  const signer = subnet.memberIds.indexOf(equivocator.id as NodeId) // the genesis orders members its own way
  t.true(signer >= 0 && signer !== driver.self)
  const notarize = (block: Uint8Array): Vote => ({
    kind: 'notarize', view: 1n, block, signer, signature: equivocator.sign(domains.notarize, voteSigningValue(subnet.id, 'notarize', 1n, block))
  })
  const first = notarize(sha256Bytes(encode(['block', 'a'])))
  const second = notarize(sha256Bytes(encode(['block', 'b'])))
  const stream = lpStream(await new FakeNet(equivocator.id as NodeId, network).dial(keys[0]!.id as NodeId, consensusProtocolOf(subnet.id)))
  await stream.write(encodeMessage(first))
  await stream.write(encodeMessage(second))
  // And again: peers repeat messages; the store keeps one record.
  await stream.write(encodeMessage(second))

  await waitFor(() => driver.status().evidence === 1, 5_000, () => `the replica to record evidence (counters ${JSON.stringify(driver.status().counters)})`)
  t.is(await evidenceCount(store, 5_000), 1, 'the driver stored the record')
  t.is(driver.status().counters.badSignature, 0)
  t.true(driver.status().running, 'consensus goes on')

  // Restart: stop the driver, close the store, open the same directory again.
  await driver.stop()
  await store.close()
  store = await openStore(dir, { checkpointIntervalHeights: 0 })
  const stored = await store.evidence()
  t.is(stored.length, 1)
  t.like(stored[0]!.key, { view: 1n, signer, first: 'notarize', second: 'notarize' })
  const decoded = decodeEvidence(stored[0]!.record)
  if (!decoded.ok) return t.fail(decoded.error)
  t.is(decoded.value.subnet, subnet.id)
  t.deepEqual(decoded.value.evidence.first, first)
  t.deepEqual(decoded.value.evidence.second, second)
  t.deepEqual(verifyEvidence(membershipOf(subnet.id, subnet.memberIds), decoded.value.evidence), { ok: true, value: true })
})

test('ConsensusDriver never waits for an evidence write: while it hangs the replica steps on, and its failure is only logged', async t => {
  const keys = signers(4, 'evidence-hang')
  const subnet = subnetOf(keys, deltaMs)
  const network = new FakeNetwork()
  const store = await memoryStore({ checkpointIntervalHeights: 0 })
  t.teardown(async () => { await store.close() })
  const write = Promise.withResolvers<boolean>()
  let writes = 0
  store.putEvidence = async () => { writes++; return await write.promise }
  const lines: string[] = []
  const logger = createLogger('pylon:test', { level: 'warn', write: line => { lines.push(line) } })
  const driver = new ConsensusDriver({ net: new FakeNet(keys[0]!.id as NodeId, network), store, clock: systemClock, logger, signer: keys[0]!, application: new CounterApplication(store, subnet) }, { subnet })
  t.teardown(async () => { await driver.stop() })
  await driver.start()

  const key = keys[2]!
  const signer = subnet.memberIds.indexOf(key.id as NodeId)
  const notarize = (block: Uint8Array): Vote => ({ kind: 'notarize', view: 1n, block, signer, signature: key.sign(domains.notarize, voteSigningValue(subnet.id, 'notarize', 1n, block)) })
  const stream = lpStream(await new FakeNet(key.id as NodeId, network).dial(keys[0]!.id as NodeId, consensusProtocolOf(subnet.id)))
  await stream.write(encodeMessage(notarize(sha256Bytes(encode(['block', 'a'])))))
  await stream.write(encodeMessage(notarize(sha256Bytes(encode(['block', 'b'])))))
  await waitFor(() => writes === 1, 5_000, () => 'the evidence write to start')
  // The write hangs; a later message (a nullify with a forged signature) is still stepped.
  await stream.write(encodeMessage({ kind: 'nullify', view: 1n, signer, signature: new Uint8Array(64) }))
  await waitFor(() => driver.status().counters.badSignature === 1, 5_000, () => 'the next message to be stepped while the write hangs')
  write.reject(new Error('disk full'))
  await waitFor(() => lines.some(line => line.includes('cannot store equivocation evidence')), 5_000, () => 'the failed write to be logged')
  t.regex(lines.find(line => line.includes('cannot store equivocation evidence'))!, /"error":"disk full"/)
  t.true(driver.status().running, 'a failed evidence write does not halt consensus')
  t.is(driver.status().evidence, 1)
})
