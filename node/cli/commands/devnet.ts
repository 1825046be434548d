// `pylon devnet up|down|status`: a local network of N daemon processes on loopback, optionally one
// subnet of all of them (devnet holds every node key, so it signs the genesis for each). It owns
// DIR/devnet.json and DIR/node-i/; it never signals a process it cannot prove is one of its daemons.

import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import type { Command } from 'commander'
import { parseSubnetId, type NodeId, type SubnetId } from '../../../protocol/ids.ts'
import { devnetDeltaMs, devnetNodesMax, devnetReadyTimeoutMs, devnetStopTimeoutMs } from '../../../protocol/limits.ts'
import { checkpointIntervalHeights, consensusBlocksMax, subnetCatchUpBlocksMin, subnetCheckpointIntervalHeightsMin } from '../../../protocol/limits.ts'
import { assembleGenesis, encodeGenesis, faults, genesisOf, signGenesis, type Subnet, type SubnetParams } from '../../../protocol/subnet.ts'
import { loadNodeKey } from '../../config/node-key.ts'
import { CliError, emit, table } from '../output.ts'
import { initDataDir } from './init.ts'

export const devnetFileName = 'devnet.json'
const cliPath = resolve(import.meta.dirname, '../main.ts')
const repoRoot = resolve(import.meta.dirname, '../../..')

export interface DevnetNode {
  index: number
  nodeId: string
  dataDir: string
  /** libp2p TCP listen address (fixed, so a restarted node is found where it was). */
  listen: string
  api: string
  log: string
  /** The last daemon process started for this node; may have exited since. */
  pid: number | null
}

export interface DevnetFile {
  version: 1
  dir: string
  /** The one subnet of all nodes, or null with --subnets 0. */
  subnet: SubnetId | null
  nodes: DevnetNode[]
}

export interface DevnetUpOptions {
  nodes: number
  dir: string
  /** libp2p on basePort+i, API on basePort+100+i; free ports when absent. */
  basePort?: number
  /** 1: one subnet of all nodes (N must be 3f+1); 0: none. */
  subnets: 0 | 1
  deltaMs?: number
  /** Genesis params for state sync (checkpoint interval, catch-up window); the defaults when absent. */
  stateSync?: { checkpointIntervalHeights?: number, catchUpBlocksMax?: number }
  /** Daemon log level. @default 'info' */
  logLevel?: string
  readyTimeoutMs?: number
  signal?: AbortSignal
}

export function register (program: Command): void {
  const devnet = program.command('devnet').description('run a local network of N daemons on loopback (one subnet of all of them)')
  devnet.command('up')
    .description('create (or restart) N nodes under DIR, form one subnet of all of them, start them in the background')
    .option('--nodes <n>', 'number of nodes; 3f+1 (1, 4, 7, …) when forming a subnet', '4')
    .requiredOption('--dir <dir>', 'devnet directory (DIR/node-i/ data dirs, DIR/devnet.json)')
    .option('--base-port <port>', 'libp2p on PORT+i, HTTP API on PORT+100+i (default: free ports)')
    .option('--subnets <k>', '1: one subnet of all nodes; 0: no subnet', '1')
    .option('--delta-ms <ms>', `Simplex Δ of the subnet in ms (default ${devnetDeltaMs})`)
    .option('--checkpoint-interval <heights>', `heights between checkpoints, in the genesis (default ${checkpointIntervalHeights})`)
    .option('--catch-up-blocks <n>', `blocks a lagging replica walks back before it state-syncs, in the genesis (default ${consensusBlocksMax})`)
    .option('--log-level <level>', 'daemon log level (debug, info, warn, error)', 'info')
    .option('--json', 'print JSON')
    .action(async (flags: { nodes: string, dir: string, basePort?: string, subnets: string, deltaMs?: string, checkpointInterval?: string, catchUpBlocks?: string, logLevel: string, json?: boolean }) => {
      const options = parseUpFlags(flags)
      const file = await devnetUp(options)
      emit(flags.json, file, () => describe(file))
    })
  devnet.command('down')
    .description('stop every node of the devnet in DIR (SIGTERM, then SIGKILL after a bound)')
    .requiredOption('--dir <dir>', 'devnet directory')
    .option('--json', 'print JSON')
    .action(async (flags: { dir: string, json?: boolean }) => {
      const stopped = await devnetDown(flags.dir)
      emit(flags.json, stopped, () => table(['node', 'pid', 'outcome'], stopped.map(s => [String(s.index), s.pid === null ? '-' : String(s.pid), s.outcome])))
    })
  devnet.command('api')
    .description('print the API URL of one node: by index, a member of a subnet, or a node outside it (for scripts)')
    .requiredOption('--dir <dir>', 'devnet directory')
    .option('--node <index>', 'the node with this index')
    .option('--member-of <subnet>', 'the first running node that serves this subnet')
    .option('--outside <subnet>', 'the first running node that does not serve this subnet')
    .option('--json', 'print JSON')
    .action(async (flags: { dir: string, node?: string, memberOf?: string, outside?: string, json?: boolean }) => {
      const chosen = await devnetApi(flags.dir, flags)
      emit(flags.json, chosen, () => chosen.api)
    })
  devnet.command('status')
    .description('each node: process alive, API reachable, subnet height')
    .requiredOption('--dir <dir>', 'devnet directory')
    .option('--json', 'print JSON')
    .action(async (flags: { dir: string, json?: boolean }) => {
      const status = await devnetStatus(flags.dir)
      emit(flags.json, status, () => [
        `subnet ${status.subnet ?? '(none)'}`,
        table(['node', 'pid', 'alive', 'api', 'reachable', 'height'], status.nodes.map(n => [
          String(n.index), n.pid === null ? '-' : String(n.pid), n.alive ? 'yes' : 'no', n.api, n.reachable ? 'yes' : 'no', n.height ?? '-'
        ]))
      ].join('\n'))
    })
}

export interface DevnetApiChoice {
  index: number
  nodeId: string
  api: string
}

/**
 * The API URL of one running node of the devnet: by index, the first (by index) that serves
 * `memberOf`, or the first that does not serve `outside`. Scripts use it to reach a subnet's member
 * or a non-member without reading devnet.json; it asks each node which subnets it serves.
 */
export async function devnetApi (dir: string, choice: { node?: string, memberOf?: string, outside?: string }): Promise<DevnetApiChoice> {
  const given = [choice.node, choice.memberOf, choice.outside].filter(v => v !== undefined).length
  if (given !== 1) throw new CliError('pass exactly one of --node INDEX, --member-of SUBNET, --outside SUBNET', 'usage')
  const file = await readDevnetFile(resolve(dir))
  if (choice.node !== undefined) {
    const node = file.nodes[integerFlag('--node', choice.node, 0, file.nodes.length - 1)]!
    return { index: node.index, nodeId: node.nodeId, api: node.api }
  }
  const wanted = choice.memberOf ?? choice.outside!
  const id = parseSubnetId(wanted)
  if (!id.ok) throw new CliError(`${choice.memberOf === undefined ? '--outside' : '--member-of'}: ${id.error}`, 'usage')
  for (const node of file.nodes) {
    if (!isOurDaemon(node)) continue
    const served = await fetchJson<Array<{ id?: unknown }>>(`${node.api}/v1/subnets`)
    if (served === undefined) continue
    const serves = served.some(s => s.id === id.value)
    if (serves === (choice.memberOf !== undefined)) return { index: node.index, nodeId: node.nodeId, api: node.api }
  }
  throw new CliError(choice.memberOf !== undefined
    ? `no running node of the devnet in ${file.dir} serves subnet ${id.value}`
    : `every running node of the devnet in ${file.dir} serves subnet ${id.value}`, 'not-found')
}

function parseUpFlags (flags: { nodes: string, dir: string, basePort?: string, subnets: string, deltaMs?: string, checkpointInterval?: string, catchUpBlocks?: string, logLevel: string }): DevnetUpOptions {
  const nodes = integerFlag('--nodes', flags.nodes, 1, devnetNodesMax)
  const subnets = integerFlag('--subnets', flags.subnets, 0, 1) as 0 | 1
  if (subnets === 1 && nodes !== 3 * faults(nodes) + 1) {
    throw new CliError(`--nodes must be 3f+1 (1, 4, 7, 10, …) to form a subnet, got ${nodes}; or pass --subnets 0`)
  }
  const basePort = flags.basePort === undefined ? undefined : integerFlag('--base-port', flags.basePort, 1024, 65535 - 100 - nodes + 1)
  const deltaMs = flags.deltaMs === undefined ? undefined : integerFlag('--delta-ms', flags.deltaMs, 10, 60_000)
  const window = flags.catchUpBlocks === undefined ? undefined : integerFlag('--catch-up-blocks', flags.catchUpBlocks, subnetCatchUpBlocksMin, consensusBlocksMax)
  const interval = flags.checkpointInterval === undefined ? undefined : integerFlag('--checkpoint-interval', flags.checkpointInterval, subnetCheckpointIntervalHeightsMin, Math.min(checkpointIntervalHeights, (window ?? consensusBlocksMax) - 1))
  const stateSync = { ...(interval === undefined ? {} : { checkpointIntervalHeights: interval }), ...(window === undefined ? {} : { catchUpBlocksMax: window }) }
  return { nodes, dir: resolve(flags.dir), basePort, subnets, deltaMs, stateSync, logLevel: flags.logLevel }
}

function integerFlag (name: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (!/^[0-9]+$/.test(value) || n < min || n > max) throw new CliError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`)
  return n
}

/**
 * Creates the devnet in `dir` (or reuses its node directories when it was created before and is
 * stopped), starts every daemon detached and resolves once each API answers with its node id.
 * On failure it stops whatever it started, so nothing is left running.
 */
export async function devnetUp (options: DevnetUpOptions): Promise<DevnetFile> {
  const dir = resolve(options.dir)
  const previous = await readDevnetFile(dir).catch(() => undefined)
  if (previous !== undefined) {
    const running = previous.nodes.filter(n => isOurDaemon(n))
    if (running.length > 0) throw new CliError(`a devnet is already running in ${dir} (pids ${running.map(n => n.pid).join(', ')}): \`pylon devnet down --dir ${dir}\` first`, 'running')
    // Restarting keeps the nodes (and the subnet) that exist; a different count would be a new devnet.
    if (previous.nodes.length !== options.nodes) throw new CliError(`${dir} holds a devnet of ${previous.nodes.length} node(s), not ${options.nodes}: pass --nodes ${previous.nodes.length} to restart it, or choose another --dir`)
  }
  const file = previous ?? await createDevnet(dir, options)
  const started: DevnetNode[] = []
  try {
    for (const node of file.nodes) {
      node.pid = startDevnetNode(node)
      started.push(node)
    }
    await writeDevnetFile(file)
    const deadline = Date.now() + (options.readyTimeoutMs ?? devnetReadyTimeoutMs)
    await waitReady(file.nodes, deadline - Date.now(), options.signal)
    // Without a subnet the next step is `pylon subnet create`, which places from the advert book:
    // ready means every node has heard every other's advert, so placement sees the whole devnet.
    if (file.subnet === null) await waitBooks(file.nodes, deadline, options.signal)
  } catch (error) {
    await stopNodes(started)
    throw error
  }
  return file
}

async function createDevnet (dir: string, options: DevnetUpOptions): Promise<DevnetFile> {
  if (existsSync(join(dir, 'node-0'))) throw new CliError(`${dir} holds node directories but no ${devnetFileName}: choose an empty --dir`)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const ports = await choosePorts(options.nodes, options.basePort)
  const nodes: DevnetNode[] = []
  for (let i = 0; i < options.nodes; i++) {
    const dataDir = join(dir, `node-${i}`)
    // The config starts with the node's own settings; bootstraps are added once every id is known.
    const init = await initDataDir({ dataDir, network: 'local', api: `127.0.0.1:${ports.api[i]!}`, listen: [`/ip4/127.0.0.1/tcp/${ports.p2p[i]!}`], mdns: false, rack: `devnet-${i}`, region: 'local', operator: 'devnet', logLevel: options.logLevel })
    nodes.push({ index: i, nodeId: init.nodeId, dataDir, listen: `/ip4/127.0.0.1/tcp/${ports.p2p[i]!}`, api: `http://127.0.0.1:${ports.api[i]!}`, log: join(dataDir, 'daemon.log'), pid: null })
  }
  await writeBootstraps(nodes)
  const subnet = options.subnets === 1 ? await formSubnet(nodes, { deltaMs: options.deltaMs ?? devnetDeltaMs, ...options.stateSync }) : null
  return { version: 1, dir, subnet: subnet?.id ?? null, nodes }
}

/**
 * Each node bootstraps to every other node (node 0 first): a full mesh from the start, and a
 * restarted node (whichever it is) redials all of them at their fixed addresses.
 */
async function writeBootstraps (nodes: DevnetNode[]): Promise<void> {
  for (const node of nodes) {
    const path = join(node.dataDir, 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    config.bootstrap = nodes.filter(n => n !== node).map(n => `${n.listen}/p2p/${n.nodeId}`)
    await writeAtomically(path, JSON.stringify(config, null, 2) + '\n', 0o644)
  }
}

/** Builds the genesis of one subnet of all nodes, signs it with every node key, writes it into each data dir. */
async function formSubnet (nodes: DevnetNode[], params: SubnetParams): Promise<Subnet> {
  const genesis = genesisOf({
    name: 'devnet',
    members: nodes.map(n => ({ nodeId: n.nodeId as NodeId, multiaddrs: [n.listen] })),
    createdMs: BigInt(Date.now()),
    params
  })
  const signatures = new Map<string, Uint8Array>()
  for (const node of nodes) {
    const key = await loadNodeKey(node.dataDir)
    signatures.set(key.nodeId, signGenesis(genesis, key.signer))
  }
  const subnet = assembleGenesis(genesis, signatures)
  if (!subnet.ok) throw new Error(`devnet genesis is invalid: ${subnet.error}`) // a bug: we built and signed it
  const bytes = encodeGenesis(subnet.value)
  for (const node of nodes) {
    const subnetDir = join(node.dataDir, 'subnets', subnet.value.id)
    await mkdir(subnetDir, { recursive: true, mode: 0o700 })
    await writeAtomically(join(subnetDir, 'genesis.cbor'), bytes, 0o644)
  }
  return subnet.value
}

/** Ports for libp2p and the API: basePort+i and basePort+100+i, else ports the kernel says are free. */
async function choosePorts (count: number, basePort: number | undefined): Promise<{ p2p: number[], api: number[] }> {
  if (basePort !== undefined) {
    return { p2p: Array.from({ length: count }, (_, i) => basePort + i), api: Array.from({ length: count }, (_, i) => basePort + 100 + i) }
  }
  // Hold every probe socket open until all are chosen, so the 2N ports are distinct. Another
  // program may still take one before the daemon binds it; the daemon then fails to start, loudly.
  const servers: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < 2 * count; i++) {
      const server = createServer()
      servers.push(server)
      ports.push(await new Promise<number>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => { resolve((server.address() as { port: number }).port) })
      }))
    }
    return { p2p: ports.slice(0, count), api: ports.slice(count) }
  } finally {
    await Promise.all(servers.map(async s => await new Promise(resolve => s.close(resolve))))
  }
}

/** Starts one node's daemon detached from this process, logging to its daemon.log; returns its pid. */
export function startDevnetNode (node: DevnetNode): number {
  const log = openSync(node.log, 'a', 0o644)
  try {
    const child = spawn(process.execPath, [cliPath, 'daemon', '--data-dir', node.dataDir, '--network', 'local'], {
      cwd: repoRoot, detached: true, stdio: ['ignore', log, log], env: process.env
    })
    if (child.pid === undefined) throw new CliError(`could not start the daemon of node ${node.index} (${node.dataDir})`, 'start')
    child.unref()
    return child.pid
  } finally {
    closeSync(log)
  }
}

/** Polls each node's API until it answers with the expected node id; fails naming the node and its log. */
async function waitReady (nodes: DevnetNode[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const pending = new Set(nodes)
  while (pending.size > 0) {
    signal?.throwIfAborted()
    for (const node of [...pending]) {
      if (await answers(node)) pending.delete(node)
      else if (!isOurDaemon(node)) throw new CliError(`node ${node.index} exited during start; last log lines of ${node.log}:\n${tail(node.log)}`, 'start')
    }
    if (pending.size === 0) break
    if (Date.now() > deadline) {
      const late = [...pending]
      throw new CliError(`node(s) ${late.map(n => n.index).join(', ')} not ready after ${timeoutMs} ms; see ${late[0]!.log}:\n${tail(late[0]!.log)}`, 'start')
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/** Polls every node's advert book until it lists every node of the devnet; fails naming the nodes still missing adverts. */
async function waitBooks (nodes: DevnetNode[], deadline: number, signal?: AbortSignal): Promise<void> {
  const ids = nodes.map(n => n.nodeId)
  let missing: string[] = []
  for (;;) {
    signal?.throwIfAborted()
    missing = []
    for (const node of nodes) {
      const book = await fetchJson<Array<{ nodeId?: unknown }>>(`${node.api}/v1/capacity`)
      const known = new Set((book ?? []).map(a => a.nodeId))
      const lacking = ids.filter(id => !known.has(id)).length
      if (lacking > 0) missing.push(`node ${node.index} lacks ${lacking}`)
    }
    if (missing.length === 0) return
    if (Date.now() > deadline) throw new CliError(`not every node heard every advert in time (${missing.join(', ')} of ${nodes.length}); see ${nodes[0]!.log}`, 'start')
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

async function answers (node: DevnetNode): Promise<boolean> {
  try {
    const response = await fetch(`${node.api}/v1/node`, { signal: AbortSignal.timeout(2_000) })
    if (!response.ok) return false
    // Another program on that port would answer too; only our node knows its id.
    return ((await response.json()) as { nodeId?: unknown }).nodeId === node.nodeId
  } catch {
    return false
  }
}

function tail (path: string): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-15).join('\n')
  } catch {
    return '(no log)'
  }
}

export interface StopOutcome {
  index: number
  pid: number | null
  outcome: 'stopped' | 'killed' | 'not running'
}

/** Stops every node of the devnet in `dir`: SIGTERM, a bounded wait, SIGKILL for stragglers. */
export async function devnetDown (dir: string): Promise<StopOutcome[]> {
  const file = await readDevnetFile(resolve(dir))
  const outcomes = await stopNodes(file.nodes)
  for (const node of file.nodes) node.pid = null
  await writeDevnetFile(file)
  return outcomes
}

/** SIGTERM to each live node, a bounded wait, SIGKILL to stragglers; never signals a pid that is not the node's daemon. */
export async function stopNodes (nodes: DevnetNode[], timeoutMs = devnetStopTimeoutMs): Promise<StopOutcome[]> {
  const live = nodes.filter(n => isOurDaemon(n))
  for (const node of live) signal(node.pid!, 'SIGTERM')
  const deadline = Date.now() + timeoutMs
  while (live.some(n => isOurDaemon(n)) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  return nodes.map(node => {
    if (!live.includes(node)) return { index: node.index, pid: node.pid, outcome: 'not running' }
    if (!isOurDaemon(node)) return { index: node.index, pid: node.pid, outcome: 'stopped' }
    signal(node.pid!, 'SIGKILL')
    return { index: node.index, pid: node.pid, outcome: 'killed' }
  })
}

function signal (pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch {} // exited in between: nothing to stop
}

/**
 * Is the node's pid alive and running this node's daemon? On Linux the command line must name the
 * node's data dir, so a pid reused by another program is never signalled.
 */
export function isOurDaemon (node: Pick<DevnetNode, 'pid' | 'dataDir'>): boolean {
  if (node.pid === null) return false
  try {
    process.kill(node.pid, 0)
  } catch {
    return false
  }
  try {
    const cmdline = readFileSync(`/proc/${node.pid}/cmdline`, 'utf8')
    if (cmdline.split('\0').includes(node.dataDir)) {
      // A zombie (exited, not yet reaped by its parent) still has its pid and empty state.
      const state = /\) (\S)/.exec(readFileSync(`/proc/${node.pid}/stat`, 'utf8'))?.[1]
      return state !== 'Z'
    }
    return false
  } catch {
    return !existsSync('/proc/self') // no procfs (macOS): the pid answering must do
  }
}

export interface NodeStatus {
  index: number
  nodeId: string
  pid: number | null
  alive: boolean
  api: string
  reachable: boolean
  /** Finalized height of the devnet subnet on this node, when its API says. */
  height: string | null
  stateRoot: string | null
}

export async function devnetStatus (dir: string): Promise<{ dir: string, subnet: SubnetId | null, nodes: NodeStatus[] }> {
  const file = await readDevnetFile(resolve(dir))
  const nodes = await Promise.all(file.nodes.map(async (node): Promise<NodeStatus> => {
    const alive = isOurDaemon(node)
    const reachable = alive && await answers(node)
    let height: string | null = null
    let stateRoot: string | null = null
    if (reachable && file.subnet !== null) {
      const subnet = await fetchJson<{ height?: unknown, stateRoot?: unknown }>(`${node.api}/v1/subnets/${file.subnet}`)
      if (subnet !== undefined) {
        height = subnet.height === undefined ? null : String(subnet.height)
        stateRoot = typeof subnet.stateRoot === 'string' ? subnet.stateRoot : null
      }
    }
    return { index: node.index, nodeId: node.nodeId, pid: node.pid, alive, api: node.api, reachable, height, stateRoot }
  }))
  return { dir: file.dir, subnet: file.subnet, nodes }
}

async function fetchJson<T> (url: string): Promise<T | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) })
    return response.ok ? await response.json() as T : undefined
  } catch {
    return undefined
  }
}

export async function readDevnetFile (dir: string): Promise<DevnetFile> {
  const path = join(dir, devnetFileName)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new CliError(`no devnet in ${dir} (no ${path}): create one with \`pylon devnet up --dir ${dir}\``, 'no-devnet')
  }
  let file: DevnetFile
  try {
    file = JSON.parse(text) as DevnetFile
  } catch {
    throw new CliError(`${path} is not JSON`, 'no-devnet')
  }
  if (file.version !== 1 || !Array.isArray(file.nodes)) throw new CliError(`${path} is not a version 1 devnet file`, 'no-devnet')
  return file
}

async function writeDevnetFile (file: DevnetFile): Promise<void> {
  await writeAtomically(join(file.dir, devnetFileName), JSON.stringify(file, null, 2) + '\n', 0o644)
}

/** tmp + fsync + rename + fsync of the folder: a reader sees the old file or the whole new one. */
async function writeAtomically (path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`
  const handle = await open(temporary, 'w', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
  const folder = await open(dirname(path), 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}

function describe (file: DevnetFile): string {
  return [
    `devnet of ${file.nodes.length} node(s) in ${file.dir}`,
    file.subnet === null ? 'no subnet (--subnets 0)' : `subnet ${file.subnet} (all ${file.nodes.length} nodes)`,
    '',
    table(['node', 'pid', 'api', 'node id'], file.nodes.map(n => [String(n.index), String(n.pid), n.api, n.nodeId])),
    '',
    `logs: ${join(file.dir, 'node-*', 'daemon.log')}`,
    `stop: pylon devnet down --dir ${file.dir}`
  ].join('\n')
}

/**
 * What `npm start` runs: a 4-node devnet in DIR/devnet with the counter deployed (once; a later
 * start reuses its state), instructions, and a clean stop of every node on Ctrl-C.
 */
export async function devnetQuickstart (dir: string, json: boolean): Promise<void> {
  const root = resolve(dir)
  const file = await devnetUp({ nodes: 4, dir: join(root, 'devnet'), subnets: 1, logLevel: 'warn' })
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    process.stderr.write('\nstopping the devnet…\n')
    stopNodes(file.nodes).then(outcomes => {
      process.stderr.write(`${outcomes.map(o => `node ${o.index}: ${o.outcome}`).join(', ')}\n`)
      process.exit(0)
    }, () => process.exit(1))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let actor: string
  try {
    actor = await quickstartActor(root, file)
  } catch (error) {
    await stopNodes(file.nodes)
    throw error
  }
  // The daemons are detached, so nothing else keeps this process alive until Ctrl-C; the watch
  // also tells the user at once when a node dies.
  const reported = new Set<number>()
  setInterval(() => {
    for (const node of file.nodes) {
      if (stopping || reported.has(node.index) || isOurDaemon(node)) continue
      reported.add(node.index)
      process.stderr.write(`node ${node.index} exited; last lines of ${node.log}:\n${tail(node.log)}\n`)
    }
  }, 2_000)
  const api = file.nodes[1]!.api
  emit(json, { ...file, actor }, () => [
    describe(file).split('\n').slice(0, -1).join('\n'),
    '',
    `counter actor  ${actor}`,
    '',
    'try, in another terminal:',
    `  node node/cli/main.ts call ${actor} inc --api ${api}`,
    `  node node/cli/main.ts query ${actor} get --api ${file.nodes[2]!.api}`,
    `  node node/cli/main.ts devnet status --dir ${file.dir}`,
    '',
    'Ctrl-C stops all 4 nodes (their state stays in ' + root + ').'
  ].join('\n'))
}

/**
 * The counter deployed by an earlier start on this subnet, else a fresh deploy of the WAT counter
 * (microseconds per call, and it builds in a moment on a fresh checkout without build:contracts).
 */
async function quickstartActor (root: string, file: DevnetFile): Promise<string> {
  const path = join(root, 'quickstart.json')
  const known = await readFile(path, 'utf8').then(text => JSON.parse(text) as { subnet?: string, actor?: string }, () => undefined)
  if (known?.subnet === file.subnet && typeof known?.actor === 'string') return known.actor
  let wasm = join(repoRoot, 'contracts/build/counter-wat.wasm')
  if (!existsSync(wasm)) {
    const { buildWatActor } = await import('../../runtime/builder.ts')
    wasm = join(root, 'counter-wat.wasm')
    await writeAtomically(wasm, await buildWatActor(await readFile(join(repoRoot, 'contracts/examples/counter-wat/counter.wat'), 'utf8')), 0o644)
  }
  process.stderr.write(`deploying ${wasm.slice(repoRoot.length + 1) || wasm} …\n`)
  const { deploy } = await import('./deploy.ts')
  const outcome = await deploy(wasm, { api: file.nodes[0]!.api, init: '', name: 'counter' })
  await writeAtomically(path, JSON.stringify({ subnet: file.subnet, actor: outcome.actor }, null, 2) + '\n', 0o644)
  return outcome.actor
}
