import { createServer, Socket } from 'node:net'

import type { Teardown } from '../helpers/teardown.js'

export interface LatencyProxy {
  url: string
  close(): Promise<void>
}

/**
 * Forwards TCP connections to `targetPort` and delays every chunk coming back by `delayMs`,
 * in order, so each round trip to the target takes at least that long.
 */
export async function startLatencyProxy(t: Teardown, targetPort: number, delayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = new Socket()
    sockets.add(client).add(upstream)
    let released = Promise.resolve()
    upstream.on('data', (chunk) => {
      released = released.then(() => new Promise((resolve) => setTimeout(resolve, delayMs)))
      void released.then(() => client.writable && client.write(chunk))
    })
    client.on('data', (chunk) => upstream.writable && upstream.write(chunk))
    const closeBoth = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', closeBoth).on('error', closeBoth)
    upstream.on('close', closeBoth).on('error', closeBoth)
    upstream.connect(targetPort, '127.0.0.1')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  t.teardown(close)
  return { url: `nats://127.0.0.1:${port}`, close }
}
