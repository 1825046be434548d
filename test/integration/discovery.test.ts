// Five real daemon processes on loopback, bootstrapped to the first, must all list all five
// capacity adverts, and each must exit 0 on SIGTERM.

import test from 'ava'
import { eventually, getJson, runCli, spawnDaemon, type DaemonProcess } from '../helpers/daemon-process.ts'

interface Advert { nodeId: string, multiaddrs: string[], cores: number, memoryBytes: string, diskFreeBytes: string, score: string, labels: { rack: string, region: string, operator: string }, expiresAt: string }

test('five daemons bootstrapped to the first each list all five adverts, and stop with exit code 0 on SIGTERM', async t => {
  t.timeout(118_000)
  const daemons: DaemonProcess[] = []
  t.teardown(() => { for (const d of daemons) d.destroy() })
  const first = await spawnDaemon({ args: ['--advert-interval', '2000', '--rack', 'rack-0', '--region', 'test', '--operator', 'op-0'] })
  daemons.push(first)
  const bootstrap = first.multiaddrs.find(a => a.includes('/tcp/') && !a.includes('/ws'))!
  const rest = await Promise.all([1, 2, 3, 4].map(async i => await spawnDaemon({
    args: ['--bootstrap', bootstrap, '--advert-interval', '2000', '--rack', `rack-${i}`, '--region', 'test', '--operator', `op-${i % 2}`]
  })))
  daemons.push(...rest)
  const ids = daemons.map(d => d.nodeId).sort()
  t.is(new Set(ids).size, 5)

  const started = Date.now()
  await eventually('every book to hold every advert', async () => {
    const books = await Promise.all(daemons.map(async d => (await getJson<Advert[]>(`${d.api}/v1/capacity`)).map(a => a.nodeId).sort()))
    return books.every(book => JSON.stringify(book) === JSON.stringify(ids))
  }, 30_000, 500) // measured ~0.6 s; the bound only keeps a broken build from hanging
  t.log(`all 5 books complete ${Date.now() - started} ms after the last daemon was ready`)

  // The CLI shows the same, with the documented fields.
  const cli = runCli(['capacity', '--json', '--api', daemons[3]!.api])
  t.is(cli.status, 0, cli.stderr)
  const adverts = JSON.parse(cli.stdout) as Advert[]
  t.deepEqual(adverts.map(a => a.nodeId).sort(), ids)
  for (const a of adverts) {
    t.true(a.multiaddrs.length > 0)
    t.true(a.cores > 0)
    t.true(BigInt(a.memoryBytes) > 0n && BigInt(a.diskFreeBytes) > 0n && BigInt(a.score) > 0n)
    t.is(a.labels.region, 'test')
    t.regex(a.labels.rack, /^rack-[0-4]$/)
    t.true(Date.parse(a.expiresAt) > Date.now())
  }
  const own = adverts.find(a => a.nodeId === daemons[2]!.nodeId)!
  t.deepEqual(own.labels, { rack: 'rack-2', region: 'test', operator: 'op-0' })
  const human = runCli(['capacity', '--api', daemons[0]!.api])
  t.regex(human.stdout, /NODE\s+CORES\s+MEMORY/)

  const codes = await Promise.all(daemons.map(async d => await d.stop('SIGTERM', 10_000)))
  t.deepEqual(codes, [0, 0, 0, 0, 0], daemons.map(d => d.logs().slice(-1000)).join('\n'))
})
