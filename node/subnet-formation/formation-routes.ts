// HTTP routes of subnet formation and the directory, mounted on the API server by daemon.ts:
// POST /v1/subnets (create), GET /v1/directory (every known subnet), GET /v1/directory/:id.
// Shapes match node/api's ApiRoute structurally, so this folder does not import the API server.

import type { IncomingHttpHeaders } from 'node:http'
import { parseSubnetId, type NodeId, type SubnetId } from '../../protocol/ids.ts'
import type { PlacedNode } from '../../protocol/placement.ts'
import type { DirectoryEntry } from './subnet-directory.ts'
import { parseCreateRequest, type SubnetFormation } from './subnet-formation.ts'

export interface FormationRequest {
  params: Record<string, string>
  headers: IncomingHttpHeaders
  body: Uint8Array
  signal: AbortSignal
}

export interface FormationRoute {
  method: 'GET' | 'POST'
  path: string
  handle (request: FormationRequest): Promise<{ status: number, json: unknown }>
}

export interface FormationRoutesComponents {
  formation: Pick<SubnetFormation, 'create'>
  directory: { list (): DirectoryEntry[] }
  lookup: (id: SubnetId, options: { signal?: AbortSignal }) => Promise<DirectoryEntry | undefined>
  nodeId: NodeId
  /** Ids of the subnets this node serves. */
  served: () => SubnetId[]
}

export function formationRoutes (c: FormationRoutesComponents): FormationRoute[] {
  return [
    {
      method: 'POST',
      path: '/v1/subnets',
      handle: async request => {
        let body: unknown
        try {
          body = JSON.parse(Buffer.from(request.body).toString('utf8'))
        } catch {
          return { status: 400, json: { ok: false, error: 'body must be JSON: { "size": 4, "labels": { "region": "eu" }, "spread": "rack" }', stage: 'request', refusals: [] } }
        }
        const parsed = parseCreateRequest(body)
        if (!parsed.ok) return { status: 400, json: { ok: false, error: parsed.error, stage: 'request', refusals: [] } }
        const created = await c.formation.create(parsed.value, { signal: request.signal })
        if (!created.ok) {
          const { stage, message, nodes, subnetId } = created.error
          return { status: stage === 'request' ? 400 : 422, json: { ok: false, error: message, stage, refusals: nodes, ...(subnetId === undefined ? {} : { id: subnetId }) } }
        }
        const { subnet, picked, explanation } = created.value
        return { status: 201, json: { ok: true, ...entryJson(subnet, c.served()), explanation, picked: picked.map(pickedJson) } }
      }
    },
    {
      method: 'GET',
      path: '/v1/directory',
      handle: async () => {
        const served = c.served()
        return { status: 200, json: c.directory.list().map(e => ({ ...entryJson(e.subnet, served), source: e.source })) }
      }
    },
    {
      method: 'GET',
      path: '/v1/directory/:id',
      handle: async request => {
        const id = parseSubnetId(request.params.id)
        if (!id.ok) return { status: 400, json: { ok: false, error: id.error } }
        const entry = await c.lookup(id.value, { signal: request.signal })
        if (entry === undefined) return { status: 404, json: { ok: false, reason: 'unknown-subnet', error: `no subnet ${id.value} in the directory or the DHT` } }
        return { status: 200, json: { ...entryJson(entry.subnet, c.served()), source: entry.source, genesis: Buffer.from(entry.bytes).toString('base64') } }
      }
    }
  ]
}

function entryJson (subnet: DirectoryEntry['subnet'], served: SubnetId[]): Record<string, unknown> {
  return {
    id: subnet.id,
    name: subnet.genesis.name,
    members: subnet.memberIds,
    n: subnet.genesis.n,
    f: subnet.genesis.f,
    quorum: subnet.quorum,
    createdMs: subnet.genesis.createdMs.toString(),
    deltaMs: subnet.genesis.params.deltaMs,
    serving: served.includes(subnet.id)
  }
}

function pickedJson (p: PlacedNode): Record<string, unknown> {
  return {
    nodeId: p.nodeId, labels: p.labels, score: p.score.toString(), freeScore: p.freeScore.toString(),
    memoryBytes: p.memoryBytes.toString(), diskFreeBytes: p.diskFreeBytes.toString(), actorSlotsFree: p.actorSlotsFree, reason: p.reason
  }
}
