// `pylon subnet evidence` as an operator runs it: a real CLI process against a real in-process API
// over a LevelDB store. It re-verifies every record against the genesis itself (a node that claims
// a forged record verifies is not believed), shows failures instead of hiding them, and refuses bad
// arguments with one clear line.

import test from 'ava'
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { apiEvidencePageMax } from '../../../../protocol/limits.ts'
import { evidenceApi } from '../api/_evidence-api.ts'

const main = join(import.meta.dirname, '..', '..', '..', '..', 'node', 'cli', 'main.ts')

async function pylon (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    // Async on purpose: the API under test answers from this process while the CLI runs.
    execFile(process.execPath, [main, ...args], { timeout: 30_000, env: { ...process.env, PYLON_API: '' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : 1), stdout, stderr })
    })
  })
}

interface Row { view: string, signer: number, member: string, verified: boolean, nodeVerified: boolean | null, error?: string, first: { kind: string }, second: { kind: string } }

test('pylon subnet evidence --json lists every record with its own verdict, and the table says verified per row', async t => {
  const { subnet, url } = await evidenceApi(t)
  const json = await pylon('subnet', 'evidence', subnet.id, '--api', url, '--json')
  t.is(json.code, 0, json.stderr)
  const rows = JSON.parse(json.stdout) as Row[]
  t.deepEqual(rows.map(r => [r.view, r.signer, r.verified]), [['7', 2, true], ['5', 3, false], ['3', 1, true]])
  t.is(rows[2]!.member, subnet.memberIds[1]!)
  t.like(rows[0], { first: { kind: 'finalize' }, second: { kind: 'nullify' }, nodeVerified: true })
  t.regex(rows[1]!.error ?? '', /second vote \(notarize\) is not signed by member 3/)

  const limited = JSON.parse((await pylon('subnet', 'evidence', subnet.id, '--api', url, '--json', '--limit', '1')).stdout) as Row[]
  t.deepEqual(limited.map(r => r.view), ['7'])

  const human = await pylon('subnet', 'evidence', subnet.id, '--api', url)
  t.is(human.code, 0, human.stderr)
  const lines = human.stdout.trim().split('\n')
  t.regex(lines[0]!, /^VIEW\s+SIGNER\s+MEMBER\s+VOTES\s+CHECK$/)
  t.regex(lines[1]!, new RegExp(`^7\\s+2\\s+${subnet.memberIds[2]}\\s+finalize / nullify\\s+verified$`))
  t.regex(lines[2]!, /^5\s+3\s+\S+\s+notarize \/ notarize\s+NOT VERIFIED: the second vote/)
  t.regex(lines[4]!, /1 of 3 records do NOT verify/)
})

test('pylon subnet evidence believes its own check, not the node: a tampered record the node calls verified is shown as not verifying', async t => {
  const { subnet, url } = await evidenceApi(t)
  const genuine = await (await fetch(`${url}/v1/subnets/${subnet.id}/evidence`)).json() as Array<Record<string, unknown> & { first: { signature: string } }>
  // A lying node: the real genesis, the real records, every record "verified"; in the first one a
  // signature is flipped (in the fields and in the encoded record alike), in the last only the
  // encoded record is swapped for another's.
  const flipped = { ...genuine[0]!.first, signature: `00${genuine[0]!.first.signature.slice(2)}` }
  const flippedRecord = Buffer.from(String(genuine[0]!.record), 'base64')
  flippedRecord.set([0], flippedRecord.indexOf(Buffer.from(genuine[0]!.first.signature, 'hex')))
  const lies = genuine.map((row, i) => ({
    ...row, verified: true,
    ...(i === 0 ? { first: flipped, record: flippedRecord.toString('base64') } : {}),
    ...(i === 2 ? { record: genuine[0]!.record } : {})
  }))
  const liar = createServer((request, response) => {
    const forward = !new URL(request.url ?? '/', 'http://x').pathname.endsWith('/evidence')
    void (async () => {
      const body = forward ? await (await fetch(`${url}${request.url}`)).text() : JSON.stringify(lies)
      response.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })()
  })
  await new Promise<void>(resolve => liar.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { liar.close() })
  const address = liar.address() as { port: number }
  const out = await pylon('subnet', 'evidence', subnet.id, '--api', `http://127.0.0.1:${address.port}`, '--json')
  t.is(out.code, 0, out.stderr)
  const rows = JSON.parse(out.stdout) as Row[]
  t.deepEqual(rows.map(r => [r.view, r.verified, r.nodeVerified]), [['7', false, true], ['5', false, true], ['3', false, true]])
  t.regex(rows[0]!.error ?? '', /first vote \(finalize\) is not signed by member 2/)
  t.is(rows[2]!.error, 'the encoded record is not the record of the fields shown')
})

test('pylon subnet evidence refuses a bad --limit, a bad id and an unknown subnet with one clear line', async t => {
  const { subnet, url } = await evidenceApi(t)
  const limit = await pylon('subnet', 'evidence', subnet.id, '--api', url, '--limit', '0')
  t.is(limit.code, 1)
  t.is(limit.stderr.trim(), `pylon: --limit must be an integer in 1..${apiEvidencePageMax}, got "0"`)
  t.is(limit.stdout, '')
  const over = await pylon('subnet', 'evidence', subnet.id, '--api', url, '--limit', String(apiEvidencePageMax + 1), '--json')
  t.is(over.code, 1)
  t.like(JSON.parse(over.stdout), { ok: false, code: 'usage', error: `--limit must be an integer in 1..${apiEvidencePageMax}, got "${apiEvidencePageMax + 1}"` })
  const id = await pylon('subnet', 'evidence', 'nope', '--api', url)
  t.is(id.code, 1)
  t.regex(id.stderr, /^pylon: not a subnet id: "nope"/)
  const unknown = await pylon('subnet', 'evidence', 'bafyreieo5oo7bwhr3w423ecnb7x6ursmnco5oagwnza7jkcgignspsprh4', '--api', url, '--json')
  t.is(unknown.code, 1)
  t.like(JSON.parse(unknown.stdout), { ok: false, code: 'unknown-subnet' })
})
