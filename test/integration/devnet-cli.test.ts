// `pylon devnet up|down|status` as a user meets it: bad flags refused before anything is created, a
// signed genesis in each data dir, a second `up` refused while it runs, `down` stops every process,
// and `up` again restarts the same nodes. Every process is stopped in teardown.

import test from 'ava'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ingressPayloadBytesMax } from '../../protocol/limits.ts'
import { decodeGenesis } from '../../protocol/subnet.ts'
import { isOurDaemon, stopNodes, type DevnetFile } from '../../node/cli/commands/devnet.ts'
import { runCli } from '../helpers/daemon-process.ts'

test('devnet refuses a node count that is not 3f+1 (with a subnet) and creates nothing', t => {
  const root = mkdtempSync(join(tmpdir(), 'pylon-devnet-cli-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  const dir = join(root, 'net')
  const bad = runCli(['devnet', 'up', '--nodes', '5', '--dir', dir])
  t.is(bad.status, 1)
  t.is(bad.stderr, 'pylon: --nodes must be 3f+1 (1, 4, 7, 10, …) to form a subnet, got 5; or pass --subnets 0\n')
  const zero = runCli(['devnet', 'up', '--nodes', '0', '--dir', dir, '--json'])
  t.like(JSON.parse(zero.stdout), { ok: false, error: '--nodes must be an integer in 1..31, got "0"' })
  t.false(existsSync(dir))
  const none = runCli(['devnet', 'status', '--dir', dir])
  t.is(none.status, 1)
  t.regex(none.stderr, /^pylon: no devnet in .* \(no .*devnet\.json\): create one with `pylon devnet up --dir /)
})

test('devnet up writes a signed genesis, refuses a second up, stops on down and restarts the same node', async t => {
  const root = mkdtempSync(join(tmpdir(), 'pylon-devnet-cli-'))
  const dir = join(root, 'net')
  const read = (): DevnetFile => JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as DevnetFile
  t.teardown(async () => {
    if (existsSync(join(dir, 'devnet.json'))) await stopNodes(read().nodes, 5_000)
    rmSync(root, { recursive: true, force: true })
  })
  const up = runCli(['devnet', 'up', '--nodes', '1', '--dir', dir, '--json'])
  t.is(up.status, 0, up.stderr)
  const file = JSON.parse(up.stdout) as DevnetFile
  const node = file.nodes[0]!
  t.true(isOurDaemon(node))
  const folders = readdirSync(join(node.dataDir, 'subnets'))
  t.deepEqual(folders, [file.subnet])
  const genesis = decodeGenesis(readFileSync(join(node.dataDir, 'subnets', folders[0]!, 'genesis.cbor')))
  t.true(genesis.ok && genesis.value.id === file.subnet && genesis.value.memberIds[0] === node.nodeId, 'a valid genesis whose CID is the subnet id')

  const again = runCli(['devnet', 'up', '--nodes', '1', '--dir', dir])
  t.is(again.status, 1)
  t.is(again.stderr, `pylon: a devnet is already running in ${dir} (pids ${node.pid}): \`pylon devnet down --dir ${dir}\` first\n`)

  const status = JSON.parse(runCli(['devnet', 'status', '--dir', dir, '--json']).stdout) as { nodes: Array<{ alive: boolean, reachable: boolean }> }
  t.like(status.nodes[0], { alive: true, reachable: true })

  const down = runCli(['devnet', 'down', '--dir', dir, '--json'])
  t.deepEqual(JSON.parse(down.stdout), [{ index: 0, pid: node.pid, outcome: 'stopped' }])
  t.false(isOurDaemon(node))
  const after = JSON.parse(runCli(['devnet', 'status', '--dir', dir, '--json']).stdout) as { nodes: Array<{ alive: boolean, reachable: boolean }> }
  t.like(after.nodes[0], { alive: false, reachable: false })

  const other = runCli(['devnet', 'up', '--nodes', '4', '--dir', dir])
  t.is(other.stderr, `pylon: ${dir} holds a devnet of 1 node(s), not 4: pass --nodes 1 to restart it, or choose another --dir\n`)
  const restart = runCli(['devnet', 'up', '--nodes', '1', '--dir', dir, '--json'])
  t.is(restart.status, 0, restart.stderr)
  const restarted = JSON.parse(restart.stdout) as DevnetFile
  t.like(restarted.nodes[0], { nodeId: node.nodeId, api: node.api, dataDir: node.dataDir })
  t.is(restarted.subnet, file.subnet)
  t.not(restarted.nodes[0]!.pid, node.pid)
})

test('deploy, call and query refuse bad input in one line, before asking any daemon', t => {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-devnet-cli-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const env = { HOME: dir, PYLON_IDENTITY: '' }
  const badActor = runCli(['call', 'counter', 'inc', '--api', 'http://127.0.0.1:9'], { env })
  t.is(badActor.stderr, 'pylon: actor id must be <subnet>.<index>: "counter" (an ActorId looks like <subnet>.<index>)\n')
  const big = join(dir, 'big')
  writeFileSync(big, new Uint8Array(ingressPayloadBytesMax + 1))
  const actor = 'bafyreieo5oo7bwhr3w423ecnb7x6ursmnco5oagwnza7jkcgignspsprh4.1'
  const tooBig = runCli(['query', actor, 'get', '--payload-file', big, '--api', 'http://127.0.0.1:9'], { env })
  t.is(tooBig.status, 1)
  t.is(tooBig.stderr, `pylon: payload too large: ${ingressPayloadBytesMax + 1} > ${ingressPayloadBytesMax} bytes (${big})\n`)
  const notWasm = runCli(['deploy', big, '--api', 'http://127.0.0.1:9'], { env })
  t.is(notWasm.stderr, `pylon: ${big} is not WebAssembly (no \\0asm header): build it first, e.g. \`pylon build\`\n`)
  const noDaemon = runCli(['call', actor, 'inc', '--api', 'http://127.0.0.1:9', '--json'], { env })
  t.deepEqual(JSON.parse(noDaemon.stdout), { ok: false, error: 'no daemon at http://127.0.0.1:9: is `pylon daemon` running?', code: 'no-daemon' })
})
