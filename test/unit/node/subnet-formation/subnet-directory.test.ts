import test from 'ava'
import { Registry } from 'prom-client'
import type { NodeId } from '../../../../protocol/ids.ts'
import { subnetRecordBytesMax } from '../../../../protocol/limits.ts'
import { assembleGenesis, encodeGenesis, genesisOf, signGenesis, type Subnet } from '../../../../protocol/subnet.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { FormationMetrics } from '../../../../node/subnet-formation/formation-metrics.ts'
import { SubnetDirectory } from '../../../../node/subnet-formation/subnet-directory.ts'
import { newSigner } from '../../../helpers/adverts.ts'

function subnet (name: string, createdMs: bigint): Subnet {
  const signer = newSigner()
  const genesis = genesisOf({ name, members: [{ nodeId: signer.id as NodeId }], createdMs, params: { deltaMs: 500 } })
  const assembled = assembleGenesis(genesis, new Map([[signer.id, signGenesis(genesis, signer)]]))
  if (!assembled.ok) throw new Error(assembled.error)
  return assembled.value
}

function directory (entriesMax?: number): { directory: SubnetDirectory, metrics: FormationMetrics } {
  const metrics = new FormationMetrics(new Registry())
  return { directory: new SubnetDirectory({ clock: new ManualClock(), metrics }, { entriesMax }), metrics }
}

test('SubnetDirectory refuses bytes at subnetRecordBytesMax + 1, garbage and non-bytes, counting each', async t => {
  const { directory: d, metrics } = directory()
  const tooLarge = d.offerBytes(new Uint8Array(subnetRecordBytesMax + 1), 'gossip')
  t.deepEqual(tooLarge, { ok: false, error: `genesis too large: ${subnetRecordBytesMax + 1} > ${subnetRecordBytesMax} bytes` })
  t.false(d.offerBytes(Uint8Array.of(0xa1, 0x61), 'exchange').ok)
  t.false(d.offerBytes('genesis' as unknown as Uint8Array, 'dht').ok)
  t.is(d.size, 0)
  t.is((await metrics.directoryRejected.get()).values.reduce((sum, v) => sum + v.value, 0), 3)
})

test('SubnetDirectory holds at most entriesMax subnets, evicting the earliest learned, and lists by creation time', t => {
  const { directory: d } = directory(2)
  const added: string[] = []
  d.onAdded(entry => added.push(entry.subnet.genesis.name))
  const [a, b, c] = [subnet('a', 30n), subnet('b', 10n), subnet('c', 20n)]
  t.true(d.offerBytes(encodeGenesis(a), 'gossip').ok)
  t.true(d.offerBytes(encodeGenesis(b), 'gossip').ok)
  t.deepEqual(d.list().map(e => e.subnet.genesis.name), ['b', 'a'])
  d.add(c, 'local')
  t.is(d.size, 2)
  t.is(d.get(a.id), undefined, 'the earliest learned is evicted')
  t.deepEqual(d.list().map(e => e.subnet.genesis.name), ['b', 'c'])
  t.deepEqual(added, ['a', 'b', 'c'])
  const again = d.offerBytes(encodeGenesis(b), 'exchange')
  t.true(again.ok && again.value.outcome === 'known' && again.value.entry.source === 'gossip')
})
