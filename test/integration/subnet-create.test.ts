// Five real daemons on loopback, one rack each: `pylon subnet create --size 4 --spread rack` places,
// proposes, signs and starts a subnet on four of them; every node's directory lists it, every
// member serves it; placements that cannot be met name what is missing and create nothing.

import test, { type ExecutionContext } from 'ava'
import { eventually, getJson, runCli, spawnDaemon, type DaemonProcess } from '../helpers/daemon-process.ts'

interface Created { ok: true, id: string, members: string[], n: number, f: number, explanation: string[], picked: Array<{ nodeId: string, labels: { rack: string } }> }
interface Known { id: string, members: string[], serving: boolean }

test('subnet create --size 4 --spread rack forms a subnet every member serves and every node knows; unmet placements name the missing label', async t => {
  t.timeout(150_000)
  const daemons: DaemonProcess[] = []
  t.teardown(() => { for (const d of daemons) d.destroy() })
  try {
    await scenario(t, daemons)
  } catch (error) {
    // Name the cause (fetch hides it) and the state of every daemon, so a failure on a loaded box is diagnosable.
    t.log(`${(error as Error).stack}\ncause: ${String((error as Error).cause)}`)
    for (const d of daemons) t.log(`${d.nodeId} exit=${d.child.exitCode} signal=${d.child.signalCode}\n${d.logs().slice(-2000)}`)
    throw error
  }
})

async function scenario (t: ExecutionContext, daemons: DaemonProcess[]): Promise<void> {
  const labels = (i: number): string[] => ['--advert-interval', '2000', '--rack', `rack-${i}`, '--region', 'test', '--operator', `op-${i % 2}`]
  const first = await spawnDaemon({ args: labels(0) })
  daemons.push(first)
  const bootstrap = first.multiaddrs.find(a => a.includes('/tcp/') && !a.includes('/ws'))!
  daemons.push(...await Promise.all([1, 2, 3, 4].map(async i => await spawnDaemon({ args: ['--bootstrap', bootstrap, ...labels(i)] }))))
  const ids = daemons.map(d => d.nodeId).sort()
  await eventually('every book to hold every advert', async () => {
    const books = await Promise.all(daemons.map(async d => (await getJson<Array<{ nodeId: string }>>(`${d.api}/v1/capacity`)).map(a => a.nodeId).sort()))
    return books.every(book => JSON.stringify(book) === JSON.stringify(ids))
  }, 60_000, 500)

  // Unmet placements first: they must create nothing anywhere.
  const mars = runCli(['subnet', 'create', '--size', '4', '--label', 'region=mars', '--api', first.api])
  t.is(mars.status, 1)
  t.regex(mars.stderr, /pylon: cannot place 4 nodes: 0 of 5 known nodes qualify \(region=mars\)/)
  t.is(mars.stderr.match(/missing label region=mars \(has region=test\)/g)?.length, 5, mars.stderr)
  // The same API the CLI calls (each CLI run costs seconds on a loaded box, so the rest go direct).
  const post = async (body: unknown): Promise<{ status: number, body: { ok: boolean, error: string, stage: string } }> => {
    const response = await fetch(`${first.api}/v1/subnets`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) })
    return { status: response.status, body: await response.json() as { ok: boolean, error: string, stage: string } }
  }
  const operators = await post({ size: 4, spread: 'operator' })
  t.is(operators.status, 422)
  t.is(operators.body.stage, 'placement')
  t.is(operators.body.error, 'cannot spread 4 nodes across distinct operators: the 5 qualifying nodes span 2 operators (op-0, op-1), 4 needed')
  const badSize = await post({ size: 3 })
  t.is(badSize.status, 400)
  t.regex(badSize.body.error, /size must be 3f\+1 .* got 3: use 1 or 4/)

  const started = Date.now()
  const create = runCli(['subnet', 'create', '--size', '4', '--spread', 'rack', '--name', 'alpha', '--json', '--api', daemons[2]!.api])
  t.is(create.status, 0, create.stderr + create.stdout + daemons[2]!.logs().slice(-2000))
  const created = JSON.parse(create.stdout) as Created
  t.log(`subnet created in ${Date.now() - started} ms (placement, 4 signatures, 4 commits)`)
  t.is(created.n, 4)
  t.is(created.f, 1)
  t.is(new Set(created.picked.map(p => p.labels.rack)).size, 4, 'four distinct racks')
  t.deepEqual([...created.members].sort(), created.picked.map(p => p.nodeId).sort())
  t.is(created.explanation.length, 5)

  const members = daemons.filter(d => created.members.includes(d.nodeId))
  t.is(members.length, 4)
  let lastError = ''
  await eventually('every node to know the subnet and every member to serve it', async () => {
    try {
      const known = await Promise.all(daemons.map(async d => await getJson<Known[]>(`${d.api}/v1/directory`)))
      const serving = await Promise.all(members.map(async d => await getJson<Array<{ id: string }>>(`${d.api}/v1/subnets`)))
      return known.every(list => list.some(s => s.id === created.id)) && serving.every(list => list.some(s => s.id === created.id))
    } catch (error) {
      // A daemon busy starting its replica on a loaded box may drop a poll; the deadline still bounds us.
      lastError = `${(error as Error).message}: ${String((error as Error).cause)}`
      return false
    }
  }, 30_000, 500).catch(error => { throw new Error(`${(error as Error).message} (last poll error: ${lastError})`) })
  for (const d of daemons) {
    const entry = (await getJson<Known[]>(`${d.api}/v1/directory`)).find(s => s.id === created.id)
    t.is(entry?.serving, created.members.includes(d.nodeId), `node ${d.nodeId} serving flag`)
  }
  const list = runCli(['subnet', 'list', '--json', '--api', members[0]!.api])
  t.is(list.status, 0, list.stderr)
  t.true((JSON.parse(list.stdout) as Known[]).some(s => s.id === created.id && s.serving))
  const outsider = daemons.find(d => !created.members.includes(d.nodeId))!
  const show = runCli(['subnet', 'show', created.id, '--api', outsider.api])
  t.is(show.status, 0, show.stderr)
  t.regex(show.stdout, /size +n=4 f=1 quorum=3/)
  for (const m of created.members) t.true(show.stdout.includes(m))
  const unknown = runCli(['subnet', 'show', 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--api', outsider.api])
  t.is(unknown.status, 1)
  t.is(unknown.stderr, 'pylon: no subnet bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy in the directory or the DHT\n')
  const human = runCli(['subnet', 'list', '--api', outsider.api])
  t.regex(human.stdout, new RegExp(`${created.id}\\s+alpha\\s+4\\s+1\\s+no`))

  const codes = await Promise.all(daemons.map(async d => await d.stop('SIGTERM', 10_000)))
  t.deepEqual(codes, [0, 0, 0, 0, 0], daemons.map(d => d.logs().slice(-1000)).join('\n'))
}
