// Equivocation evidence through a real daemon: records in a subnet's LevelDB store (written as the
// consensus driver writes them, while the daemon is stopped) are served after the daemon restarts,
// by GET /v1/subnets/:id/evidence and `pylon subnet evidence`, which verifies them itself.
// Every process is stopped in teardown.

import test from 'ava'
import { join } from 'node:path'
import { encode, sha256Bytes } from '../../protocol/codec.ts'
import { encodeEvidence, type Evidence } from '../../protocol/consensus/evidence.ts'
import { domains, voteSigningValue, type Vote, type VoteKind } from '../../protocol/consensus/messages.ts'
import { startDevnetNode, stopNodes } from '../../node/cli/commands/devnet.ts'
import { loadNodeKey } from '../../node/config/node-key.ts'
import { openStore } from '../../node/store/level-store.ts'
import { subnetsDirIn } from '../../node/subnet/subnet-manager.ts'
import { eventually, runCliAsync } from '../helpers/daemon-process.ts'
import { subnetInfo, testDevnet } from './_test-devnet.ts'

test('a daemon restarted on a store holding equivocation evidence serves it, and pylon subnet evidence verifies it', async t => {
  t.timeout(120_000)
  const { file } = await testDevnet(t, { prefix: 'pylon-evidence-', nodes: 1 })
  const node = file.nodes[0]!
  const subnet = file.subnet!
  await stopNodes([node], 10_000)

  // The only member signs a finalize and a nullify for one view: what no honest replica signs.
  const { signer } = await loadNodeKey(node.dataDir)
  const vote = (kind: VoteKind, view: bigint, block?: Uint8Array): Vote =>
    ({ kind, view, ...(block === undefined ? {} : { block }), signer: 0, signature: signer.sign(domains[kind], voteSigningValue(subnet, kind, view, block)) })
  const evidence: Evidence = { signer: 0, view: 41n, first: vote('finalize', 41n, sha256Bytes(encode(['block', 41]))), second: vote('nullify', 41n) }
  const store = await openStore(join(subnetsDirIn(node.dataDir), subnet, 'store'), { createIfMissing: false })
  try {
    t.true(await store.putEvidence({ view: 41n, signer: 0, first: 'finalize', second: 'nullify' }, encodeEvidence(subnet, evidence)))
  } finally {
    await store.close()
  }

  node.pid = startDevnetNode(node)
  await eventually('the restarted daemon to serve its subnet', async () => (await subnetInfo(node.api, subnet)) !== undefined, 60_000)
  const info = await subnetInfo(node.api, subnet) as unknown as { evidence: number }
  t.is(info.evidence, 1, 'GET /v1/subnets/:id counts it')

  const out = await runCliAsync(['subnet', 'evidence', subnet, '--api', node.api, '--json'], { timeoutMs: 60_000 })
  t.is(out.status, 0, out.stderr)
  const rows = JSON.parse(out.stdout) as Array<{ view: string, signer: number, member: string, verified: boolean, nodeVerified: boolean, first: { kind: string }, second: { kind: string, block: string | null } }>
  t.is(rows.length, 1)
  t.like(rows[0], { view: '41', signer: 0, member: node.nodeId, verified: true, nodeVerified: true, first: { kind: 'finalize' }, second: { kind: 'nullify', block: null } })
  const table = await runCliAsync(['subnet', 'evidence', subnet, '--api', node.api], { timeoutMs: 60_000 })
  t.regex(table.stdout, new RegExp(`^41\\s+0\\s+${node.nodeId}\\s+finalize / nullify\\s+verified$`, 'm'))
})
