// A devnet for one integration test: real daemon processes in a temporary folder, stopped in the
// test's teardown, and SIGKILLed if the test worker exits first (detached daemons outlive it).
// The folder is removed when the test passed and kept, with its logs, when it failed.

import type { ExecutionContext } from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SubnetInfo } from '../../node/cli/client.ts'
import { devnetUp, isOurDaemon, stopNodes, type DevnetFile, type DevnetUpOptions } from '../../node/cli/commands/devnet.ts'

export async function testDevnet (t: ExecutionContext, options: { prefix: string, nodes: number, up?: Partial<DevnetUpOptions> }): Promise<{ dir: string, file: DevnetFile }> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix))
  let file: DevnetFile | undefined
  const killAll = (): void => { for (const node of file?.nodes ?? []) if (isOurDaemon(node)) process.kill(node.pid!, 'SIGKILL') }
  process.once('exit', killAll)
  t.teardown(async () => {
    if (file !== undefined) await stopNodes(file.nodes, 5_000)
    process.off('exit', killAll)
    if (t.passed) rmSync(dir, { recursive: true, force: true })
    else t.log(`devnet left in ${dir} (logs in net/node-*/daemon.log)`)
  })
  file = await devnetUp({ nodes: options.nodes, dir: join(dir, 'net'), subnets: 1, logLevel: process.env.PYLON_TEST_LOG_LEVEL ?? 'warn', ...options.up })
  return { dir, file }
}

/** A node's view of a subnet (GET /v1/subnets/:id), or undefined while it does not answer. */
export async function subnetInfo (api: string, id: string): Promise<SubnetInfo | undefined> {
  try {
    const response = await fetch(`${api}/v1/subnets/${id}`, { signal: AbortSignal.timeout(3_000) })
    return response.ok ? await response.json() as SubnetInfo : undefined
  } catch {
    return undefined
  }
}
