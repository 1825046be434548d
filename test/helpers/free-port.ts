// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close). Prefer port 0 in the
// program itself where possible: another process may take the port between this and its use.

import { createServer } from 'node:net'

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
