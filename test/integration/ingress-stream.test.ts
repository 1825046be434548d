// The ingress stream on real daemons: a devnet of 4 processes, counter-wat deployed, then signed
// updates pipelined over one WebSocket per node (GET /v1/ingress/stream, as the daemon mounts it),
// every answer's certificate verified against the genesis, the counts exactly 1..N. Every process
// is stopped in teardown.

import test from 'ava'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ingressIdOf } from '../../protocol/ingress.ts'
import { ApiClient, IngressStream, signEnvelope } from '../../node/cli/client.ts'
import { CliError } from '../../node/cli/output.ts'
import { deploy } from '../../node/cli/commands/deploy.ts'
import { createIdentity } from '../../node/identity/identity-file.ts'
import { repoRoot } from '../helpers/daemon-process.ts'
import { clientSigners } from './_devnet-load.ts'
import { testDevnet } from './_test-devnet.ts'

const counterWasm = join(repoRoot, 'contracts/build/counter-wat.wasm')
const count = 400

test('a 4-process devnet answers updates pipelined over one stream per node, each certified and verified, each run once', async t => {
  t.timeout(180_000)
  if (!existsSync(counterWasm)) t.fail(`${counterWasm} is missing: run npm run build:contracts`)
  const { dir, file } = await testDevnet(t, { prefix: 'pylon-ingress-stream-', nodes: 4 })
  const identity = join(dir, 'identity')
  await createIdentity(identity)
  const { actor } = await deploy(counterWasm, { api: file.nodes[0]!.api, init: '', identity })
  const { subnet } = await new ApiClient(file.nodes[0]!.api).subnet(file.subnet!)
  const streams = await Promise.all(file.nodes.map(async n => await IngressStream.open(n.api, { subnet })))
  t.teardown(async () => { await Promise.all(streams.map(async s => { await s.close() })) })

  // 20 principals: one may send ~50 updates/s (the mempool's rate bound); all 400 go out at once.
  const signers = clientSigners(20)
  const updates = Array.from({ length: count }, (_, i) => signEnvelope({ kind: 'update', actor, method: 'inc', payload: new Uint8Array() }, signers[i % signers.length]!))
  const answers = await Promise.all(updates.map(async (u, i) => await streams[i % streams.length]!.submit(u, { waitMs: 90_000 }).catch((e: unknown) => e as CliError)))
  const failures = answers.filter(a => a instanceof CliError || a.status !== 'certified')
  t.deepEqual(failures.slice(0, 3), [], `${failures.length} of ${count} not certified`)
  const verified = answers.flatMap(a => (a instanceof CliError || a.verified === undefined ? [] : [a.verified]))
  t.is(verified.length, count, 'every certified answer was verified against the genesis')
  t.true(verified.every(v => v.ok && v.signers >= subnet.quorum))
  const counts = verified.map(v => Number(new TextDecoder().decode(v.result!))).sort((a, b) => a - b)
  t.deepEqual(counts, Array.from({ length: count }, (_, i) => i + 1), 'each update ran exactly once')

  // A forged envelope is refused on its stream, which then still carries a good one.
  const forged = updates[0]!.bytes.slice()
  forged[forged.length - 1]! ^= 1
  const refused = await streams[1]!.submit({ ...updates[0]!, bytes: forged, id: ingressIdOf(forged) }).catch((e: unknown) => e)
  t.true(refused instanceof CliError && refused.code === 'bad-signature', String(refused))
  const after = await streams[1]!.submit(signEnvelope({ kind: 'update', actor, method: 'inc', payload: new Uint8Array() }, signers[0]!), { waitMs: 60_000 })
  t.is(after.verified?.result === undefined ? undefined : new TextDecoder().decode(after.verified.result!), String(count + 1))
})
