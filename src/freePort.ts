import { createServer } from 'node:net'

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago. Another process can take it
 * before the caller binds it, so use it only where a port-0 listener is not possible, such
 * as a port that must be written into configuration first.
 */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
