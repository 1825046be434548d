import test from 'ava'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verifyBy } from '../../../../protocol/signature.ts'
import { createNodeKey, loadNodeKey } from '../../../../node/config/node-key.ts'

test('createNodeKey writes a 0600 key whose node id is the libp2p peer id, and loadNodeKey reads it back', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-key-'))
  const created = await createNodeKey(dir)
  t.is(statSync(join(dir, 'node.key')).mode & 0o777, 0o600)
  t.is(created.nodeId as string, peerIdFromPrivateKey(created.privateKey).toString())
  const loaded = await loadNodeKey(dir)
  t.is(loaded.nodeId, created.nodeId)
  t.true(verifyBy(loaded.nodeId, 'pylon/test/v1', 'x', loaded.signer.sign('pylon/test/v1', 'x')))
})

test('createNodeKey refuses to overwrite an existing key', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-key-'))
  const first = await createNodeKey(dir)
  await t.throwsAsync(createNodeKey(dir), { message: /already exists: refusing to overwrite/ })
  t.is((await loadNodeKey(dir)).nodeId, first.nodeId)
})

test('loadNodeKey: clear errors for a missing, world-readable or garbage key', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-key-'))
  await t.throwsAsync(loadNodeKey(dir), { message: /no node key at .*: run `pylon init --data-dir/ })
  writeFileSync(join(dir, 'node.key'), 'garbage', { mode: 0o600 })
  await t.throwsAsync(loadNodeKey(dir), { message: /is not a libp2p private key/ })
  chmodSync(join(dir, 'node.key'), 0o644)
  await t.throwsAsync(loadNodeKey(dir), { message: /readable by others \(mode 644\): run `chmod 600/ })
})
