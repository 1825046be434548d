// `pylon devnet api`: which node's API it names (by index, first member of a subnet, first node
// outside it) and its one-line refusals. The devnet here is a devnet.json over stand-ins: a process
// whose command line names the node's data dir (what `devnet` checks before trusting a pid) and an
// HTTP server answering GET /v1/subnets like a daemon. Everything started is stopped in teardown.

import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { devnetApi, type DevnetFile } from '../../../../node/cli/commands/devnet.ts'
import { CliError } from '../../../../node/cli/output.ts'

const alpha = 'bafyreic3v5imnu3b6jwqc2lhl4e4cckhgfn7wsuzio3i4s3ehkwjqf664a'
const beta = 'bafyreieixms3uwx46rqjsso4hvlu6weujd4ozorufg3g5veo2hyomzqv4u'

/** Three nodes: 0 is stopped (pid null), 1 serves alpha, 2 serves beta. */
async function fakeDevnet (t: ExecutionContext): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-devnet-api-'))
  const servers: Server[] = []
  const children: Array<ReturnType<typeof spawn>> = []
  t.teardown(async () => {
    for (const child of children) child.kill('SIGKILL')
    await Promise.all(servers.map(async s => await new Promise(resolve => s.close(resolve))))
    rmSync(dir, { recursive: true, force: true })
  })
  const serves: Array<string[]> = [[], [alpha], [beta]]
  const nodes: DevnetFile['nodes'] = []
  for (const [index, subnets] of serves.entries()) {
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(req.url === '/v1/subnets' ? JSON.stringify(subnets.map(id => ({ id }))) : '{}')
    })
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const dataDir = join(dir, `node-${index}`)
    let pid: number | null = null
    if (index > 0) {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', dataDir], { stdio: 'ignore' })
      children.push(child)
      pid = child.pid!
    }
    nodes.push({ index, nodeId: `12D3KooWnode${index}`, dataDir, listen: '/ip4/127.0.0.1/tcp/1', api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log: join(dataDir, 'daemon.log'), pid })
  }
  writeFileSync(join(dir, 'devnet.json'), JSON.stringify({ version: 1, dir, subnet: null, nodes } satisfies DevnetFile))
  return dir
}

test('devnet api names a node by index, the first running member of a subnet, or the first running node outside it', async t => {
  const dir = await fakeDevnet(t)
  t.like(await devnetApi(dir, { node: '0' }), { index: 0, nodeId: '12D3KooWnode0' })
  t.like(await devnetApi(dir, { memberOf: alpha }), { index: 1 })
  t.like(await devnetApi(dir, { memberOf: beta }), { index: 2 })
  t.like(await devnetApi(dir, { outside: alpha }), { index: 2 }, 'node 0 is stopped, so it is not chosen')
  t.like(await devnetApi(dir, { outside: beta }), { index: 1 })
})

test('devnet api refuses, in one line, what it cannot answer', async t => {
  const dir = await fakeDevnet(t)
  const refusal = async (choice: Parameters<typeof devnetApi>[1]): Promise<string> => (await t.throwsAsync(devnetApi(dir, choice), { instanceOf: CliError }))?.message ?? ''
  t.is(await refusal({}), 'pass exactly one of --node INDEX, --member-of SUBNET, --outside SUBNET')
  t.is(await refusal({ node: '1', memberOf: alpha }), 'pass exactly one of --node INDEX, --member-of SUBNET, --outside SUBNET')
  t.is(await refusal({ node: '3' }), '--node must be an integer in 0..2, got "3"')
  t.regex(await refusal({ memberOf: 'alpha' }), /^--member-of: subnet id is not a CID: "alpha"/)
  const nobody = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  t.is(await refusal({ memberOf: nobody }), `no running node of the devnet in ${dir} serves subnet ${nobody}`)
  t.regex((await t.throwsAsync(devnetApi(join(dir, 'none'), { node: '0' }), { instanceOf: CliError }))?.message ?? '', /^no devnet in .*none/)
})
