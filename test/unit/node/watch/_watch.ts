// Test setup for pylon watch: a real 1-node SubnetService (memory store, the real counter-wat actor,
// driven height by height like the consensus driver) behind a real ApiServer with the watch
// upgrade mounted, plus a WebSocket client helper that bounds every wait.

import { err } from '../../../../protocol/result.ts'
import { Registry } from 'prom-client'
import WebSocket from 'ws'
import { actorIdOf, type ActorId } from '../../../../protocol/ids.ts'
import type { Subnet } from '../../../../protocol/subnet.ts'
import { ApiServer } from '../../../../node/api/api-server.ts'
import { subnetRoutes, type SubnetDirectory } from '../../../../node/api/subnet-routes.ts'
import { WatchServer } from '../../../../node/api/watch-routes.ts'
import { ManualClock } from '../../../../node/core/clock.ts'
import { silentLogger } from '../../../../node/core/logger.ts'
import { memoryStore } from '../../../../node/store/memory-store.ts'
import { SubnetService } from '../../../../node/subnet/subnet-service.ts'
import { WatchHub, type WatchHubInit, type WatchEvent } from '../../../../node/watch/watch-hub.ts'
import { PrometheusWatchMetrics } from '../../../../node/watch/watch-metrics.ts'
import { Client, exampleCode, loader, makeSubnet, runHeight } from '../subnet/_harness.ts'

export interface WatchSetup {
  url: string
  subnet: Subnet
  foreign: Subnet
  service: SubnetService
  hub: WatchHub
  watch: WatchServer
  /** Prometheus text of the watch metrics. */
  metrics: () => Promise<string>
  api: ApiServer
  client: Client
  /** The counter-wat actor installed at height 1. */
  actor: ActorId
  /** Submits envelopes and finalizes one height with them. */
  height: (...bytes: Uint8Array[]) => Promise<bigint>
}

export async function setupWatch (t: { teardown: (fn: () => Promise<void>) => void }, hubInit: WatchHubInit = {}): Promise<WatchSetup> {
  const clock = new ManualClock(Date.now())
  const { subnet, nodes } = makeSubnet(1, clock)
  const foreign = makeSubnet(4, clock).subnet
  const registry = new Registry()
  const metrics = new PrometheusWatchMetrics(registry, () => hub.size)
  const hub: WatchHub = new WatchHub({ logger: silentLogger, metrics }, hubInit)
  const service = new SubnetService(subnet, {
    store: await memoryStore(), loader, signer: nodes[0]!, clock, logger: silentLogger, changes: hub,
    transport: { publishShare: async () => {} }
  }, { proposeIdleWaitMs: 0 })
  await service.start()
  const directory: SubnetDirectory = {
    list: () => [service],
    get: id => (id === subnet.id ? service : undefined),
    known: id => (id === subnet.id ? subnet : id === foreign.id ? foreign : undefined),
    relay: async () => err('no forwarding in this test')
  }
  const watch = new WatchServer({ hub, directory, clock, logger: silentLogger, metrics })
  const api = new ApiServer({
    logger: silentLogger, registry: new Registry(), node: () => ({}), peers: () => [], capacity: () => [],
    routes: [...subnetRoutes(directory, clock), ...watch.routes()],
    upgrades: watch.upgrades()
  }, { host: '127.0.0.1', port: 0 })
  await watch.start()
  await api.start()
  t.teardown(async () => {
    await watch.stop()
    await api.stop()
    await service.stop()
  })
  const height = async (...bytes: Uint8Array[]): Promise<bigint> => {
    for (const b of bytes) {
      const added = service.submit(b)
      if (!added.ok) throw new Error(added.error.message)
    }
    await runHeight(service, [service])
    return service.store.height
  }
  const client = new Client(clock)
  const code = await exampleCode('counter-wat')
  const stored = await service.putCode(code)
  if (!stored.ok) throw new Error(stored.error)
  await height(client.install(subnet, code).bytes)
  const actor = actorIdOf(subnet.id, 1n)
  if (await service.actor(actor) === undefined) throw new Error('counter-wat did not install')
  return { url: api.url, subnet, foreign, service, hub, watch, metrics: async () => await registry.metrics(), api, client, actor, height }
}

export interface Watching {
  ws: WebSocket
  events: WatchEvent[]
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number, reason: string }>
  /** Waits (≤ 10 s) until `n` events arrived; returns them. */
  next: (n: number) => Promise<WatchEvent[]>
}

/** Opens a watch; rejects with `{ status, body }` when the node refuses the upgrade. */
export async function openWatch (url: string, actor: string): Promise<Watching> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/actors/${encodeURIComponent(actor)}/watch`, { handshakeTimeout: 10_000 })
  const events: WatchEvent[] = []
  const waiters: Array<() => void> = []
  ws.on('message', data => {
    events.push(JSON.parse(String(data)) as WatchEvent)
    for (const w of waiters.splice(0)) w()
  })
  const closed = new Promise<{ code: number, reason: string }>(resolve => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      for (const w of waiters.splice(0)) w()
    })
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let body: unknown = text
        try { body = JSON.parse(text) } catch {}
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body }))
      })
    })
    ws.once('error', reject)
  })
  const next = async (n: number): Promise<WatchEvent[]> => {
    const deadline = Date.now() + 10_000
    while (events.length < n) {
      if (ws.readyState === WebSocket.CLOSED) throw new Error(`stream closed after ${events.length} of ${n} events`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`only ${events.length} of ${n} events in 10 s`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    return events.slice(0, n)
  }
  return { ws, events, closed, next }
}

export const hex = (text: string): string => Buffer.from(text).toString('hex')
