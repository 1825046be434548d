// The composition root: builds every component of a node, starts them in one declared order and
// stops them in reverse. The only place components meet; none of them starts or stops another.

import { join } from 'node:path'
import { collectDefaultMetrics, Registry } from 'prom-client'
import pkg from '../package.json' with { type: 'json' }
import { advertJson } from './capacity/advert-json.ts'
import { AdvertBook } from './capacity/advert-book.ts'
import { Advertiser } from './capacity/advertiser.ts'
import { CapacityMetrics } from './capacity/capacity-metrics.ts'
import { CapacitySync } from './capacity/capacity-sync.ts'
import { measureComputeScore } from './capacity/compute-score.ts'
import { probeMachine } from './capacity/probe.ts'
import { SequenceFile } from './capacity/sequence-file.ts'
import { ApiServer } from './api/api-server.ts'
import type { NodeConfig } from './config/config.ts'
import { loadNodeKey } from './config/node-key.ts'
import { systemClock, type Clock } from './core/clock.ts'
import type { Logger } from './core/logger.ts'
import { startAll, type NamedStartable } from './core/startable.ts'
import type { NodeId, SubnetId } from '../protocol/ids.ts'
import { Libp2pNet } from './net/libp2p-net.ts'
import type { Net } from './net/net.ts'
import { relayHandler, subnetRoutes } from './api/subnet-routes.ts'
import { WatchServer } from './api/watch-routes.ts'
import { IngressStreamServer, PrometheusIngressStreamMetrics, waitingIngressHandler } from './api/ingress-stream-routes.ts'
import { WatchHub } from './watch/watch-hub.ts'
import { PrometheusWatchMetrics } from './watch/watch-metrics.ts'
import { ConsensusDriver } from './consensus/consensus-driver.ts'
import { PrometheusConsensusMetrics, PrometheusMemberChannelMetrics } from './consensus/consensus-metrics.ts'
import { ActorLoader } from './runtime/loader.ts'
import { openStore } from './store/level-store.ts'
import { SubnetManager } from './subnet/subnet-manager.ts'
import { PrometheusSubnetMetrics } from './subnet/subnet-metrics.ts'
import { PrometheusStateSyncMetrics } from './subnet/state-sync-metrics.ts'
import { progressJson } from './subnet/state-sync.ts'
import { PrometheusMempoolMetrics } from './ingress/mempool-metrics.ts'
import { DirectorySync } from './subnet-formation/directory-sync.ts'
import { FormationMetrics } from './subnet-formation/formation-metrics.ts'
import { formationRoutes } from './subnet-formation/formation-routes.ts'
import { SubnetDirectory } from './subnet-formation/subnet-directory.ts'
import { SubnetFormation } from './subnet-formation/subnet-formation.ts'

export const softwareVersion: string = pkg.version
export const apiFileName = 'api.json'

export interface DaemonInit {
  dataDir: string
  config: NodeConfig
  logger: Logger
  clock?: Clock
}

export interface Daemon {
  nodeId: NodeId
  apiUrl: string
  net: Net
  book: AdvertBook
  /** The subnets this node serves; join() starts one at run time (placement calls it). */
  subnets: SubnetManager
  /** Stops every component in reverse start order. Idempotent. */
  stop (): Promise<void>
}

export async function startDaemon (init: DaemonInit): Promise<Daemon> {
  const { dataDir, config, logger } = init
  const clock = init.clock ?? systemClock
  const key = await loadNodeKey(dataDir)
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const metrics = new CapacityMetrics(registry)
  const startedAtMs = clock.now()

  const net = new Libp2pNet({ logger: logger.child('net'), metricsRegistry: registry }, {
    privateKey: key.privateKey,
    network: config.network,
    listen: config.listen,
    bootstrap: config.bootstrap,
    mdns: config.mdns,
    agentVersion: `pylon/${softwareVersion}`
  })
  const book = new AdvertBook({ clock, metrics })
  const sync = new CapacitySync({ net, book, clock, logger: logger.child('capacity'), metrics }, { pullIntervalMs: config.advertIntervalMs })
  const advertiser = new Advertiser({
    net, signer: key.signer, book, clock, logger: logger.child('capacity'), metrics,
    sequence: new SequenceFile(dataDir),
    probe: async () => await probeMachine(dataDir),
    // Called only once running, after the manager below exists: placement skips full nodes.
    subnets: () => subnets.list().map(s => s.subnet.id)
  }, {
    labels: { rack: config.rack, region: config.region, operator: config.operator },
    version: softwareVersion,
    score: measureComputeScore(),
    intervalMs: config.advertIntervalMs
  })
  const consensusMetrics = new PrometheusConsensusMetrics(registry)
  // pylon watch: the manager's subnets report each committed height; the API streams it to watchers.
  const watchMetrics = new PrometheusWatchMetrics(registry, () => watchHub.size)
  const watchHub: WatchHub = new WatchHub({ logger: logger.child('watch'), metrics: watchMetrics })
  const loader = new ActorLoader({ cacheDir: join(dataDir, 'transpiled'), logger: logger.child('runtime') })
  const subnets: SubnetManager = new SubnetManager({
    net, signer: key.signer, clock, logger: logger.child('subnet'),
    subnetMetrics: new PrometheusSubnetMetrics(registry),
    changes: watchHub,
    mempoolMetrics: new PrometheusMempoolMetrics(registry, () => subnets.list().reduce((sum, s) => ({ messages: sum.messages + s.mempool.size, bytes: sum.bytes + s.mempool.bytes }), { messages: 0, bytes: 0 })),
    loader,
    openStore: async (dir, init) => await openStore(dir, init ?? {}),
    stateSyncMetrics: new PrometheusStateSyncMetrics(registry),
    createDriver: (subnet, store, service, hooks) => new ConsensusDriver({
      net, store, clock, logger: logger.child(`consensus:${subnet.id.slice(-8)}`), signer: key.signer, application: service, metrics: consensusMetrics
    }, {
      subnet,
      onStateSyncNeeded: hooks.onStateSyncNeeded,
      onFatal: error => { logger.error('consensus halted for a subnet', { subnet: subnet.id, error }) }
    })
  }, { dataDir })
  // Registered on the registry and read from the running channels when /metrics is scraped.
  new PrometheusMemberChannelMetrics(registry, () => subnets.memberChannels())
  // A member answers API requests that non-members relay to it with its own subnet routes.
  subnets.onRelay(relayHandler(subnets, clock))
  // Subnets on demand: the directory of every known subnet (fed by gossip, peer pulls, the DHT and
  // this node's own formations) tells the manager where to route; formation joins through it.
  const formationMetrics = new FormationMetrics(registry)
  const directory = new SubnetDirectory({ clock, metrics: formationMetrics })
  directory.onAdded(entry => { subnets.learn(entry.subnet) })
  const directorySync = new DirectorySync({ net, directory, logger: logger.child('subnet-directory'), metrics: formationMetrics })
  const served = (): SubnetId[] => subnets.list().map(s => s.subnet.id)
  const formation = new SubnetFormation({
    net, signer: key.signer, directory, clock, logger: logger.child('subnet-formation'), metrics: formationMetrics,
    adverts: () => book.list().map(e => e.signed.advert),
    announce: async entry => { await directorySync.announce(entry) },
    host: {
      join: async subnet => {
        const joined = await subnets.join(subnet)
        if (!joined.ok) throw new Error(joined.error)
      },
      served
    }
  })
  const watch = new WatchServer({ hub: watchHub, directory: subnets, clock, logger: logger.child('watch'), metrics: watchMetrics })
  // GET /v1/ingress/stream: envelopes over one WebSocket, each through the POST /v1/ingress?wait=1 handler itself.
  const subnetApi = subnetRoutes(subnets, clock)
  const ingressStream: IngressStreamServer = new IngressStreamServer({
    submit: waitingIngressHandler(subnetApi), clock, logger: logger.child('ingress-stream'),
    metrics: new PrometheusIngressStreamMetrics(registry, () => ingressStream.status)
  })
  const [host, port] = splitHostPort(config.api)
  const api = new ApiServer({
    logger: logger.child('api'),
    registry,
    node: () => ({
      nodeId: key.nodeId,
      version: softwareVersion,
      network: config.network,
      multiaddrs: net.multiaddrs(),
      peers: net.connections().length,
      adverts: book.list().length,
      labels: { rack: config.rack, region: config.region, operator: config.operator },
      startedAt: new Date(startedAtMs).toISOString(),
      uptimeMs: clock.now() - startedAtMs,
      subnets: subnets.list().map(s => {
        const info = s.info()
        const sync = subnets.stateSyncProgress(info.id)
        return { id: info.id, members: info.members, height: info.height.toString(), stateRoot: Buffer.from(info.stateRoot).toString('hex'), ...(sync === undefined ? {} : { stateSync: progressJson(sync) }) }
      })
    }),
    peers: () => net.connections(),
    capacity: () => book.list().map(advertJson),
    routes: [
      // Before the subnet routes: their GET /v1/ingress/:id would take "stream" for an id.
      ...ingressStream.routes(),
      ...subnetApi,
      ...watch.routes(),
      ...formationRoutes({ formation, directory, lookup: async (id, options) => await directorySync.lookup(id, options), nodeId: key.nodeId, served })
    ],
    upgrades: [...watch.upgrades(), ...ingressStream.upgrades()]
  }, { host, port, apiFile: join(dataDir, apiFileName) })

  // Start order. The book first (others write to it); capacity sync registers its topic, protocol
  // and DHT record type before the host listens; the advertiser needs listen addresses; the API
  // last, so that api.json appears only once the node is fully up. Later: store, runtime,
  // consensus and subnet manager slot in between net and api.
  const components: NamedStartable[] = [
    { name: 'capacity-book', component: book },
    { name: 'capacity-sync', component: sync },
    // Registers the pylon-subnet DHT record type, which only works before the net starts.
    { name: 'subnet-directory-sync', component: directorySync },
    { name: 'net', component: net },
    // Stopped after the subnets: a transpile still running in its worker is ended, not waited for.
    { name: 'runtime', component: { start: async () => {}, stop: async () => { await loader.close() } } },
    { name: 'advertiser', component: advertiser },
    // After the net (streams, gossip), before the API: clients see only subnets that are running.
    { name: 'subnets', component: subnets },
    // After the manager: the subnets it serves enter the directory, and members can join at once.
    {
      name: 'subnet-directory',
      component: { start: async () => { for (const subnet of subnets.directory()) directory.add(subnet, 'local') }, stop: async () => {} }
    },
    { name: 'subnet-formation', component: formation },
    { name: 'api', component: api },
    // After the API, so it stops first: watchers get a close frame (1001) before the server cuts them.
    { name: 'watch', component: watch },
    // Likewise: streams get 1001 and their waits end before the server cuts them.
    { name: 'ingress-stream', component: ingressStream }
  ]
  const stopAll = await startAll(components, (name, error) => { logger.error('component failed to stop', { component: name, error }) })
  logger.info('node started', { nodeId: key.nodeId, api: api.url, multiaddrs: net.multiaddrs() })
  let stopping: Promise<void> | undefined
  return {
    nodeId: key.nodeId,
    apiUrl: api.url,
    net,
    book,
    subnets,
    stop: async () => {
      stopping ??= stopAll().then(() => { logger.info('node stopped') })
      await stopping
    }
  }
}

function splitHostPort (value: string): [string, number] {
  const i = value.lastIndexOf(':')
  return [value.slice(0, i).replace(/^\[|\]$/g, ''), Number(value.slice(i + 1))]
}
