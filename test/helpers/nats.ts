import { randomBytes } from 'node:crypto'

import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

export const natsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * Returns a subject prefix no other test uses, so test files running in parallel get their
 * own streams on the shared NATS server. The streams are deleted when the test ends.
 */
export function uniqueSubjectPrefix(t: Teardown): string {
  const prefix = `t${process.pid}x${randomBytes(3).toString('hex')}`
  t.teardown(() => deleteStreamsWithPrefix(prefix))
  return prefix
}

async function deleteStreamsWithPrefix(prefix: string): Promise<void> {
  const nc = await connect({ servers: natsUrl })
  try {
    const jsm = await jetstreamManager(nc)
    const upper = prefix.toUpperCase()
    for await (const stream of jsm.streams.list()) {
      if (stream.config.name.startsWith(`${upper}_`)) await jsm.streams.delete(stream.config.name)
    }
  } finally {
    await nc.close()
  }
}

export async function connectNats(t: Teardown): Promise<NatsConnection> {
  const nc = await connect({ servers: natsUrl })
  t.teardown(() => nc.close())
  return nc
}
