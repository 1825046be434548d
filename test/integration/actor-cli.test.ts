// `pylon actor info|list|upgrade|delete` and `pylon deploy --controller` against a real one-node
// devnet (a daemon process, LevelDB, consensus and certificates), driven through the CLI as a user
// would: controllers upgrade (storage kept) and delete, anyone else is refused and changes nothing.
// Every process is stopped in teardown.

import test from 'ava'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { rawCidOf } from '../../protocol/codec.ts'
import type { ActorId } from '../../protocol/ids.ts'
import type { ActorJson, ActorPage, ManageOutcome } from '../../node/cli/commands/actor.ts'
import { createIdentity } from '../../node/identity/identity-file.ts'
import { repoRoot, runCliAsync } from '../helpers/daemon-process.ts'
import { testDevnet } from './_test-devnet.ts'

const counterWasm = join(repoRoot, 'contracts/build/counter-wat.wasm')

interface CliRun { status: number | null, stdout: string, stderr: string }

/** Runs the CLI without blocking this process. */
const cli = async (args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliRun> => await runCliAsync(args, { env, timeoutMs })

/**
 * The same component with a custom section appended ("pylon-test" → `tag`): it behaves exactly like
 * the original but has another CID, so an upgrade to it is visible in the actor's record.
 */
function withCustomSection (component: Uint8Array, tag: string): Uint8Array {
  const name = new TextEncoder().encode('pylon-test')
  const body = new Uint8Array([name.length, ...name, ...new TextEncoder().encode(tag)])
  if (body.length >= 128) throw new RangeError('keep the section under 128 bytes (one-byte LEB128 size)')
  return new Uint8Array([...component, 0, body.length, ...body])
}

test('deploy --controller, actor info/list/upgrade/delete: controllers only, storage kept across an upgrade, refusals change nothing', async t => {
  t.timeout(180_000)
  if (!existsSync(counterWasm)) t.fail(`${counterWasm} is missing: run npm run build:contracts`)
  const { dir, file } = await testDevnet(t, { prefix: 'pylon-actor-cli-', nodes: 1 })
  const api = file.nodes[0]!.api
  const owner = await createIdentity(join(dir, 'owner.key'))
  const other = await createIdentity(join(dir, 'other.key'))
  const as = (identity: { path: string }): string[] => ['--api', api, '--identity', identity.path]
  const env = { HOME: join(dir, 'home'), PYLON_IDENTITY: '' }
  const run = async (args: string[]): Promise<CliRun> => await cli(args, env)
  const json = <T>(r: CliRun): T => {
    try {
      return JSON.parse(r.stdout) as T
    } catch {
      throw new Error(`not JSON (exit ${r.status}): ${r.stdout} ${r.stderr}`)
    }
  }
  // The record as the API serves it (the CLI's info is checked once, below: each CLI run costs ~1 s).
  const info = async (actor: ActorId): Promise<ActorJson> => await (await fetch(`${api}/v1/actors/${actor}`)).json() as ActorJson
  const get = async (actor: ActorId): Promise<string> => json<{ result: string }>(await run(['query', actor, 'get', ...as(owner), '--json'])).result

  // Deploy as `owner` and count to 2.
  const deployed = await run(['deploy', counterWasm, '--name', 'counter', ...as(owner), '--json'])
  t.is(deployed.status, 0, deployed.stderr + deployed.stdout)
  const first = json<{ actor: ActorId, controllers: string[] }>(deployed)
  t.deepEqual(first.controllers, [owner.signer.id])
  for (const expected of ['1', '2']) {
    const inc = await run(['call', first.actor, 'inc', ...as(owner), '--json'])
    t.is(json<{ result: string }>(inc).result, expected, inc.stderr)
  }
  const before = json<ActorJson>(await run(['actor', 'info', first.actor, '--api', api, '--json']))
  t.deepEqual(before, await info(first.actor))
  const human = await run(['actor', 'info', first.actor, '--api', api])
  t.is(human.stdout, [
    `actor        ${first.actor}`, 'name         counter', `code         ${before.codeCid}`, `controllers  ${owner.signer.id}`,
    `installer    ${owner.signer.id}`, `installed    height ${before.installedAt}`, 'upgraded     (never)', ''
  ].join('\n'))
  t.like(before, { actor: first.actor, name: 'counter', codeCid: rawCidOf(readFileSync(counterWasm)).toString(), controllers: [owner.signer.id], installer: owner.signer.id, upgradedAt: null })

  // A stranger's upgrade and delete are refused by the subnet (certified), printed, exit 1, change nothing.
  const modified = join(dir, 'counter-v2.wasm')
  writeFileSync(modified, withCustomSection(readFileSync(counterWasm), 'v2'))
  const v2Cid = rawCidOf(readFileSync(modified)).toString()
  const strangerUpgrade = await run(['actor', 'upgrade', first.actor, modified, ...as(other)])
  t.is(strangerUpgrade.status, 1)
  t.regex(strangerUpgrade.stdout, new RegExp(`^refused: not a controller: ${other.signer.id} may not upgrade ${first.actor.replace(/\./g, '\\.')} \\(controllers: ${owner.signer.id}\\)\nheight +\\d+\ncertified +yes: 1 of 1 member signatures verified\n$`))
  t.true(strangerUpgrade.stderr.includes(`pylon: upgrade of ${first.actor} refused by subnet ${file.subnet}: not a controller: ${other.signer.id}`), strangerUpgrade.stderr)
  const strangerDelete = await run(['actor', 'delete', first.actor, ...as(other), '--json'])
  t.is(strangerDelete.status, 1)
  t.like(json<ManageOutcome>(strangerDelete), { ok: false, action: 'delete', actor: first.actor, certified: true, error: `not a controller: ${other.signer.id} may not delete ${first.actor} (controllers: ${owner.signer.id})` })
  t.deepEqual(await info(first.actor), before)
  t.is(await get(first.actor), '2')

  // The controller's upgrade to another build: new code in the record, the count is kept, and the new code runs on it.
  const upgraded = await run(['actor', 'upgrade', first.actor, modified, ...as(owner), '--json'])
  t.is(upgraded.status, 0, upgraded.stderr + upgraded.stdout)
  t.false(upgraded.stderr.includes('upload'), `--json prints no upload progress: ${upgraded.stderr}`)
  t.like(json<ManageOutcome>(upgraded), { ok: true, action: 'upgrade', actor: first.actor, codeCid: v2Cid, error: null, certified: true, signers: 1, members: 1 })
  const after = await info(first.actor)
  t.like(after, { codeCid: v2Cid, installedAt: before.installedAt, controllers: [owner.signer.id] })
  t.true(after.upgradedAt !== null && BigInt(after.upgradedAt) > BigInt(before.installedAt))
  t.is(await get(first.actor), '2')
  t.is(json<{ result: string }>(await run(['call', first.actor, 'inc', ...as(owner), '--json'])).result, '3')

  // --controller: a second identity may upgrade the second actor.
  const bad = await run(['deploy', counterWasm, '--controller', 'not-a-principal', ...as(owner)])
  t.is(bad.status, 1)
  t.regex(bad.stderr, /^pylon: --controller "not-a-principal": bad principal: .*\(a principal is a peer id, as `pylon identity show` prints it\)\n$/)
  const shared = await run(['deploy', counterWasm, '--name', 'shared', '--controller', other.signer.id, ...as(owner), '--json'])
  t.is(shared.status, 0, shared.stderr + shared.stdout)
  const second = json<{ actor: ActorId, controllers: string[] }>(shared)
  t.deepEqual(second.controllers, [owner.signer.id, other.signer.id])
  t.deepEqual((await info(second.actor)).controllers, [owner.signer.id, other.signer.id])
  const byOther = await run(['actor', 'upgrade', second.actor, modified, ...as(other)])
  t.is(byOther.status, 0, byOther.stderr + byOther.stdout)
  // Not a TTY: no progress line, one summary of the upload (PUT /v1/code/:cid) naming the CID; the node holds v2 already.
  t.regex(byOther.stderr, new RegExp(`^the node already holds ${v2Cid} \\(\\d+ bytes\\): nothing uploaded; upgrading ${second.actor.replace(/\./g, '\\.')} through consensus`, 'm'))
  t.regex(byOther.stdout, new RegExp(`^${second.actor.replace(/\./g, '\\.')} upgraded to ${v2Cid} \\(storage kept\\)\n`))
  t.is((await info(second.actor)).codeCid, v2Cid)
  // Code with a wasm header that is no component: every replica fails to load it, the certified refusal says so.
  const broken = join(dir, 'broken.wasm')
  writeFileSync(broken, new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 2, 3, 4]))
  const brokenUpgrade = await run(['actor', 'upgrade', second.actor, broken, ...as(owner), '--json'])
  t.is(brokenUpgrade.status, 1)
  const brokenOutcome = json<ManageOutcome>(brokenUpgrade)
  t.like(brokenOutcome, { ok: false, action: 'upgrade', certified: true })
  t.regex(brokenOutcome.error ?? '', /^code bafkrei\w+ does not load: /)
  t.is((await info(second.actor)).codeCid, v2Cid, 'a failed upgrade keeps the old code')

  // list shows both, in index order; the human form is a table.
  const listed = json<ActorPage>(await run(['actor', 'list', '--api', api, '--json']))
  t.is(listed.subnet, file.subnet!)
  t.deepEqual(listed.actors.map(a => [a.actor, a.name, a.codeCid]), [[first.actor, 'counter', v2Cid], [second.actor, 'shared', v2Cid]])
  t.is(listed.next, null)
  // Paging over HTTP: one record per page, `next` leads to the second, then nothing.
  const page = async (query: string): Promise<ActorPage> => await (await fetch(`${api}/v1/subnets/${file!.subnet!}/actors${query}`)).json() as ActorPage
  const one = await page('?limit=1')
  t.deepEqual([one.actors.map(a => a.actor), one.next], [[first.actor], first.actor.split('.')[1]])
  const two = await page(`?limit=1&after=${one.next!}`)
  t.deepEqual([two.actors.map(a => a.actor), two.next], [[second.actor], null])
  const table = await run(['actor', 'list', '--api', api])
  t.regex(table.stdout, /^ACTOR +NAME +CODE +CONTROLLERS +UPGRADED\n/)
  t.is(table.stdout.trim().split('\n').length, 3)

  // The controller deletes the first actor: it is gone (info, call, list), the second is untouched.
  const deleted = await run(['actor', 'delete', first.actor, ...as(owner)])
  t.is(deleted.status, 0, deleted.stderr + deleted.stdout)
  t.regex(deleted.stdout, new RegExp(`^${first.actor.replace(/\./g, '\\.')} deleted \\(with its storage\\)\n`))
  const gone = await run(['actor', 'info', first.actor, '--api', api])
  t.is(gone.status, 1)
  t.is(gone.stderr, `pylon: unknown actor ${first.actor} (never installed on its subnet, or deleted)\n`)
  const call = await run(['call', first.actor, 'inc', ...as(owner)])
  t.is(call.stderr, `pylon: unknown actor ${first.actor} (never installed on its subnet, or deleted)\n`)
  const again = await run(['actor', 'delete', first.actor, ...as(owner)])
  t.is(again.stderr, `pylon: unknown actor ${first.actor} (never installed on its subnet, or deleted)\n`)
  t.deepEqual(json<ActorPage>(await run(['actor', 'list', '--api', api, '--json'])).actors.map(a => a.actor), [second.actor])

  // Bad input: one clear line each, exit 1.
  const wrongId = await run(['actor', 'info', 'counter', '--api', api])
  t.is(wrongId.stderr, 'pylon: actor id must be <subnet>.<index>: "counter" (an ActorId looks like <subnet>.<index>)\n')
  const missing = await run(['actor', 'upgrade', second.actor, join(dir, 'nope.wasm'), ...as(owner)])
  t.is(missing.stderr, `pylon: cannot read ${join(dir, 'nope.wasm')}: no such file\n`)
  const text = join(dir, 'counter.wat')
  writeFileSync(text, '(module)\n')
  const notWasm = await run(['actor', 'upgrade', second.actor, text, ...as(owner)])
  t.is(notWasm.stderr, `pylon: ${text} is not WebAssembly (no \\0asm header): build it first, e.g. \`pylon build\`\n`)
  const badSubnet = await run(['actor', 'list', '--subnet', 'nope', '--api', api])
  t.is(badSubnet.status, 1)
  t.regex(badSubnet.stderr, /^pylon: --subnet: .*\n$/)
  for (const r of [wrongId, missing, notWasm]) t.is(r.status, 1)
  t.is((await info(second.actor)).codeCid, v2Cid, 'refused input changed nothing')
})

test('GET /v1/subnets/:id/actors refuses a bad page request with a JSON error naming the value and the limit', async t => {
  t.timeout(60_000)
  const { file } = await testDevnet(t, { prefix: 'pylon-actor-api-', nodes: 1 })
  const base = `${file.nodes[0]!.api}/v1/subnets/${file.subnet!}/actors`
  const ask = async (query: string): Promise<{ status: number, body: Record<string, unknown> }> => {
    const response = await fetch(base + query, { signal: AbortSignal.timeout(10_000) })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  }
  const empty = await ask('')
  t.like(empty, { status: 200, body: { subnet: file.subnet, actors: [], next: null } })
  t.regex(String(empty.body.height), /^\d+$/)
  t.like(await ask('?limit=1001'), { status: 400, body: { ok: false, error: 'limit must be an integer in 1..1000, got "1001"', reason: 'malformed' } })
  t.like(await ask('?limit=0'), { status: 400, body: { error: 'limit must be an integer in 1..1000, got "0"' } })
  t.like(await ask('?after=-1'), { status: 400, body: { error: 'after must be an integer in 0..18446744073709551614, got "-1"' } })
  const unknown = await fetch(`${file.nodes[0]!.api}/v1/subnets/bafyreieo5oo7bwhr3w423ecnb7x6ursmnco5oagwnza7jkcgignspsprh4/actors`)
  t.is(unknown.status, 404)
})
