import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

import { prefixedStreamName, streams } from './subjects.js'

/**
 * Deletes the service's JetStream streams under a subject prefix, so a run with a prefix of
 * its own leaves no data in NATS. A stream that does not exist is skipped.
 */
export async function deletePrefixedStreams(natsUrl: string, prefix: string): Promise<void> {
  const connection = await connect({ servers: natsUrl })
  try {
    const manager = await jetstreamManager(connection)
    for (const stream of streams) {
      await manager.streams.delete(prefixedStreamName(prefix, stream.name)).catch(() => false)
    }
  } finally {
    await connection.close()
  }
}
