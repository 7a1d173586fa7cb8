import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

import { canConnect, freePort } from './ports.js'
import type { Teardown } from './teardown.js'
import { waitFor } from './waitFor.js'

export interface OwnNats {
  url: string
  port: number
  /** Starts the server; `emptyStore` removes the stored streams first, as a lost volume would. */
  start(options?: { emptyStore?: boolean }): Promise<void>
  stop(): Promise<void>
}

/**
 * Runs a NATS server with JetStream of the test's own on a free port, so the test can stop
 * and start it without touching the shared server on 4222. The store directory survives a
 * stop, so a restarted server keeps its streams.
 */
export async function startOwnNats(t: Teardown): Promise<OwnNats> {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'hs-own-nats-'))
  const port = await freePort()
  let child: ChildProcess | null = null
  const own: OwnNats = {
    url: `nats://127.0.0.1:${port}`,
    port,
    start: async (options = {}) => {
      if (options.emptyStore) await rm(path.join(storeDir, 'jetstream'), { recursive: true, force: true })
      const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir]
      child = spawn('/usr/sbin/nats-server', args, { stdio: 'ignore' })
      await waitFor('nats-server to listen', 15_000, () => canConnect(port))
    },
    stop: async () => {
      const running = child
      child = null
      if (!running || running.exitCode !== null) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      running.kill('SIGTERM')
      await exited
    },
  }
  await own.start()
  t.teardown(async () => {
    await own.stop()
    await rm(storeDir, { recursive: true, force: true })
  })
  return own
}
