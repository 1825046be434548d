// Runs the README's tour as a newcomer would: every ```sh block of the section "Tour: two subnets,
// ping–pong across them", verbatim and in order, in one bash (so shell variables carry from step
// to step), against a real 8-node devnet on free loopback ports in a fresh folder, then checks what
// each step printed. It replaces only the tour's folder (/tmp/pylon-tour) and HOME; it stops every
// daemon the tour started, also when the tour fails half-way.

import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isOurDaemon, stopNodes, type DevnetFile } from '../../node/cli/commands/devnet.ts'
import { repoRoot } from '../helpers/daemon-process.ts'
import { readme, section, shBlocks, tourDir, tourHeading } from './_readme.ts'

/** The whole tour: 8 daemons starting, two subnet formations, ~25 CLI runs, two cross-subnet round trips (100 s at load 28 here, 165 s at load 30). */
const tourTimeoutMs = 300_000
const marker = (i: number): string => `@@tour-step-${i}@@`

interface Step { commands: string, output: string }

/** Runs the blocks in one bash (stderr merged into stdout, as a terminal shows them); each block's output apart. */
async function runTour (blocks: string[], dir: string, home: string): Promise<{ steps: Step[], status: number | null, all: string }> {
  const script = ['exec 2>&1', ...blocks.flatMap((block, i) => [`echo '${marker(i)}'`, block.replaceAll(tourDir, dir)])].join('\n')
  const env: Record<string, string | undefined> = { ...process.env, HOME: home }
  delete env.PYLON_API
  delete env.PYLON_IDENTITY
  delete env.PYLON_DATA_DIR
  // Its own process group, so a timeout ends the shell and whatever it started (a watch in the background, a hung call).
  const child = spawn('bash', ['-c', script], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let all = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { all += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { all += chunk })
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {} // already gone
  }, tourTimeoutMs)
  const status = await new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  clearTimeout(timer)
  const steps = blocks.map((commands, i) => {
    const from = all.indexOf(marker(i))
    const to = all.indexOf(marker(i + 1))
    return { commands, output: from < 0 ? '' : all.slice(from + marker(i).length + 1, to < 0 ? undefined : to) }
  })
  return { steps, status, all }
}

interface Tour { steps: Step[], status: number | null, all: string, root: string }

/** The output of the one step whose commands contain `command`. */
function out (tour: Tour, command: string): string {
  const matching = tour.steps.filter(s => s.commands.includes(command))
  if (matching.length !== 1) throw new Error(`${matching.length} tour steps run ${JSON.stringify(command)}; expected one`)
  return matching[0]!.output
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// The tour runs once; each test below checks one thing it shows, so a failure names what broke.
let tour: Tour | undefined
let failed = false
let stop = async (): Promise<void> => {}

test.before(async t => {
  t.timeout(tourTimeoutMs + 60_000)
  const blocks = shBlocks(section(readme(), tourHeading))
  if (blocks.length < 8) throw new Error(`the tour has too few steps: ${blocks.length} sh blocks`)
  const root = mkdtempSync(join(tmpdir(), 'pylon-tour-'))
  const dir = join(root, 'tour')
  const home = join(root, 'home')
  mkdirSync(home)
  // The tour starts detached daemons; whatever happens, stop every one of them.
  const devnet = (): DevnetFile | undefined => existsSync(join(dir, 'devnet.json')) ? JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as DevnetFile : undefined
  const killAll = (): void => { for (const node of devnet()?.nodes ?? []) if (isOurDaemon(node)) process.kill(node.pid!, 'SIGKILL') }
  process.once('exit', killAll)
  stop = async () => {
    const file = devnet()
    if (file !== undefined) await stopNodes(file.nodes, 5_000)
    process.off('exit', killAll)
    if (!failed) rmSync(root, { recursive: true, force: true })
  }
  const started = Date.now()
  tour = { ...await runTour(blocks, dir, home), root }
  t.log(`tour: ${blocks.length} steps in ${((Date.now() - started) / 1000).toFixed(1)} s, bash exit ${tour.status}`)
  // What a reader of the README would see (shown with --verbose): the source of its output blocks.
  t.log(tour.all)
})

test.afterEach.always(t => {
  if (t.passed) return
  failed = true
  t.log(`tour left in ${tour?.root ?? '?'} (daemon logs in tour/node-*/daemon.log); its output is logged by the before hook (--verbose)`)
})

test.after.always(async () => { await stop() })

const ran = (): Tour => {
  if (tour === undefined) throw new Error('the tour did not run')
  return tour
}

test('devnet up --nodes 8 --subnets 0, then two subnets of 4 from the adverts on disjoint nodes; the tour ends with devnet down', t => {
  const r = ran()
  t.is(r.status, 0, 'the last step (devnet down) succeeds')
  t.regex(out(r, 'pylon devnet up --nodes 8 --subnets 0'), /devnet of 8 node\(s\) in .*\nno subnet \(--subnets 0\)/)
  const subnets = out(r, 'pylon subnet list')
  const ids = [...subnets.matchAll(/^subnet +(bafy\w+)$/gm)].map(m => m[1]!)
  t.is(ids.length, 2, subnets)
  t.regex(subnets, /alpha +4 +1/)
  t.regex(subnets, /beta +4 +1/)
  const members = [...subnets.matchAll(/^ {2}(12D3KooW\w+)$/gm)].map(m => m[1]!)
  t.is(members.length, 8, 'each subnet show lists 4 members')
  t.is(new Set(members).size, 8, 'no node serves both subnets: placement ranks nodes by subnets already served')
  t.is(out(r, 'pylon devnet down').match(/ stopped$/gm)?.length, 8)
})

test('a placement that cannot be met names the missing label for every node and creates nothing', t => {
  const mars = out(ran(), '--label region=mars')
  t.regex(mars, /pylon: cannot place 4 nodes: 0 of 8 known nodes qualify \(region=mars\)/)
  t.is(mars.match(/missing label region=mars \(has region=local\)/g)?.length, 8, mars)
  t.regex(mars, /^exit 1$/m)
})

/** The ActorIds the deploy step printed, and the subnet ids of the subnet step. */
function actors (r: Tour): { pong: string, ping: string, alpha: string, beta: string } {
  const deployed = out(r, 'pylon deploy')
  const ids = [...out(r, 'pylon subnet list').matchAll(/^subnet +(bafy\w+)$/gm)].map(m => m[1]!)
  return {
    pong: /^pong (bafy\w+\.\d+)$/m.exec(deployed)?.[1] ?? '(none)',
    ping: /^ping (bafy\w+\.\d+)$/m.exec(deployed)?.[1] ?? '(none)',
    alpha: ids[0] ?? '(none)',
    beta: ids[1] ?? '(none)'
  }
}

test('pong is deployed on alpha and ping on beta; ping → pong across the subnets completes exactly once', t => {
  const r = ran()
  const { pong, ping, alpha, beta } = actors(r)
  t.is(pong.split('.')[0], alpha, 'pong\'s id names alpha')
  t.is(ping.split('.')[0], beta, 'ping\'s id names beta')
  const round = out(r, 'pylon call "$PING" start "$PONG" --api "$API_B"\nwait')
  t.regex(round, new RegExp(`result +sent ping 1 to ${escape(pong)}\n`))
  t.regex(round, /#\d+ +start +ok +by 12D3KooW/, 'watch shows the start')
  t.regex(round, new RegExp(`#\\d+ +reply:ping +ok +by ${escape(pong.slice(0, 10))}…${escape(pong.slice(-8))}`), 'watch shows the reply, sent by pong')
  t.regex(round, /result +sent=1 replies=1 rejects=0 last=pong 1\n/, 'one ping sent, one reply back')
  t.regex(round, /result +1\n/, 'pong counted exactly one ping')
})

test('a call and a query through a node that does not serve the actor\'s subnet succeed, certified', t => {
  const outside = out(ran(), 'pylon call "$PONG" ping --api "$API_B"')
  t.regex(outside, /ok +true\nresult +pong 2\n/)
  t.regex(outside, /certified +yes: [34] of 4 member signatures verified/)
  t.regex(outside, /result +2\n/)
})

test('an upgrade by the controller keeps storage; the next ping to the upgraded pong comes back rejected and changes nothing', t => {
  const r = ran()
  const { pong } = actors(r)
  const upgraded = out(r, 'pylon actor upgrade "$PONG" "$DIR/counter.wasm"')
  t.regex(upgraded, new RegExp(`${escape(pong)} upgraded to bafkrei\\w+ \\(storage kept\\)`))
  const counts = [...upgraded.matchAll(/^result +(\d+)$/gm)].map(m => m[1])
  t.is(counts.length, 3, upgraded)
  t.is(counts[1], counts[0], 'counter-wat reads the count pong kept')
  t.is(counts[2], counts[0], 'the rejected ping changed nothing on pong')
  t.regex(upgraded, /#\d+ +reject:ping +ok +by /, 'watch shows the reject, sent by pong\'s subnet')
  t.regex(upgraded, /result +sent=2 replies=1 rejects=1 last=unknown method\n/)
})

test('a non-controller\'s upgrade is refused by the subnet (certified, exit 1)', t => {
  const bob = out(ran(), '--identity "$DIR/bob.key"')
  t.regex(bob, /refused: not a controller: 12D3KooW\w+ may not upgrade/)
  t.regex(bob, /certified +yes: [34] of 4 member signatures verified/)
  t.regex(bob, /^exit 1$/m)
})

test('a tampered code upload (bytes that do not hash to the CID named) is refused and nothing is stored', t => {
  const tampered = out(ran(), 'curl')
  t.regex(tampered, /"reason":"cid-mismatch"/)
  t.regex(tampered, /code does not match its CID: sha256 [0-9a-f]{64} ≠ [0-9a-f]{64}/)
})
