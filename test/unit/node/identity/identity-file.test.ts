import test from 'ava'
import { execFile } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { identityFileBytesMax } from '../../../../protocol/limits.ts'
import { verifyBy } from '../../../../protocol/signature.ts'
import { createIdentity, identityPath, loadIdentity } from '../../../../node/identity/identity-file.ts'

const run = promisify(execFile)

async function tempDir (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pylon-identity-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('identityPath: --identity beats $PYLON_IDENTITY beats ~/.pylon/identity', t => {
  t.deepEqual(identityPath({ flag: '/a/id', env: { PYLON_IDENTITY: '/b/id' }, home: '/h' }), { path: '/a/id', source: 'flag' })
  t.deepEqual(identityPath({ env: { PYLON_IDENTITY: '/b/id' }, home: '/h' }), { path: '/b/id', source: 'env' })
  t.deepEqual(identityPath({ env: {}, home: '/h' }), { path: '/h/.pylon/identity', source: 'default' })
})

test('createIdentity writes a 0600 key (folder 0700) that loadIdentity reads back and that signs', async t => {
  const dir = await tempDir(t)
  const path = join(dir, 'nested', 'identity')
  const created = await createIdentity(path)
  t.is((await stat(path)).mode & 0o777, 0o600)
  t.is((await stat(join(dir, 'nested'))).mode & 0o777, 0o700)
  t.regex(await readFile(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----/)
  const loaded = await loadIdentity(path)
  t.is(loaded.signer.id, created.signer.id)
  t.regex(loaded.signer.id, /^12D3KooW/)
  const signature = loaded.signer.sign('pylon/test/v1', { x: 1 })
  t.true(verifyBy(created.signer.id, 'pylon/test/v1', { x: 1 }, signature))
})

test('createIdentity refuses to overwrite an existing identity, and --force replaces it', async t => {
  const dir = await tempDir(t)
  const path = join(dir, 'identity')
  const first = await createIdentity(path)
  const before = await readFile(path, 'utf8')
  await t.throwsAsync(createIdentity(path), { code: 'identity-exists', message: `identity ${path} already exists; use --force to replace it (its key will be lost)` } as never)
  t.is(await readFile(path, 'utf8'), before, 'the existing key is untouched')
  await chmod(path, 0o644)
  const second = await createIdentity(path, { force: true })
  t.not(second.signer.id, first.signer.id)
  t.is((await stat(path)).mode & 0o777, 0o600)
  t.is((await loadIdentity(path)).signer.id, second.signer.id)
})

test('loadIdentity refuses a missing, group-readable, oversized or non-Ed25519 file with a clear error', async t => {
  const dir = await tempDir(t)
  await t.throwsAsync(loadIdentity(join(dir, 'none')), { code: 'identity-missing', message: /no identity at .*none; create one with `pylon identity new`/ } as never)
  const open = join(dir, 'open')
  await createIdentity(open)
  await chmod(open, 0o640)
  await t.throwsAsync(loadIdentity(open), { code: 'identity-permissions', message: /readable by others \(mode 0640\); run `chmod 600/ } as never)
  const big = join(dir, 'big')
  await writeFile(big, 'x'.repeat(identityFileBytesMax + 1), { mode: 0o600 })
  await t.throwsAsync(loadIdentity(big), { code: 'identity-invalid', message: `identity ${big} is too large: ${identityFileBytesMax + 1} > ${identityFileBytesMax} bytes` } as never)
  const garbage = join(dir, 'garbage')
  await writeFile(garbage, 'not a key', { mode: 0o600 })
  await t.throwsAsync(loadIdentity(garbage), { code: 'identity-invalid', message: /not an Ed25519 private key in PKCS#8 PEM/ } as never)
  const ec = join(dir, 'ec')
  await writeFile(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 })
  await t.throwsAsync(loadIdentity(ec), { code: 'identity-invalid', message: /a ec key, not ed25519/ } as never)
  await t.throwsAsync(loadIdentity(dir), { code: 'identity-invalid', message: /is not a regular file/ } as never)
})

test('pylon identity new|show: JSON output, refuse-overwrite exit code, $PYLON_IDENTITY', async t => {
  const dir = await tempDir(t)
  const path = join(dir, 'identity')
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, ['node/cli/main.ts', 'identity', ...args], { env: { ...process.env, ...env }, timeout: 30_000 })
  const created = JSON.parse((await cli(['new', '--identity', path, '--json'])).stdout) as { principal: string, created: boolean, path: string }
  t.true(created.created)
  t.is(created.path, path)
  const shown = JSON.parse((await cli(['show', '--json'], { PYLON_IDENTITY: path })).stdout) as { principal: string, source: string }
  t.is(shown.principal, created.principal)
  t.is(shown.source, 'env')
  t.is((await cli(['show', '--identity', path])).stdout.trim(), created.principal)
  const refused = await cli(['new', '--identity', path]).then(() => undefined, (error: { code: number, stderr: string }) => error)
  t.is(refused?.code, 1)
  t.regex(refused?.stderr ?? '', /already exists; use --force/)
})
