import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

import type { Sql } from '../../src/db/connection.js'
import { prefixedStreamName } from '../../src/events/subjects.js'
import type { Teardown } from './teardown.js'

/** Returns the names of the streams the service declares under the subject prefix. */
export function serviceStreams(prefix: string): string[] {
  return ['LEADS', 'HUBSPOT_SYNC', 'NOTIFICATIONS', 'SEQUENCES'].map((name) => prefixedStreamName(prefix, name))
}

export interface StreamMessage {
  msgId: string
  type: string
  data: Record<string, any>
}

/** Reads every message of a JetStream stream with an ordered consumer. */
export async function readStream(natsUrl: string, stream: string): Promise<StreamMessage[]> {
  const nc = await connect({ servers: natsUrl })
  try {
    const info = await (await jetstreamManager(nc)).streams.info(stream)
    const total = info.state.messages
    if (total === 0) return []
    const consumer = await jetstream(nc).consumers.get(stream)
    const messages: StreamMessage[] = []
    while (messages.length < total) {
      const batch = await consumer.fetch({ max_messages: total - messages.length, expires: 2_000 })
      let received = 0
      for await (const message of batch) {
        received++
        const event = message.json<{ type: string; data: Record<string, any> }>()
        messages.push({ msgId: message.headers?.get('Nats-Msg-Id') ?? '', type: event.type, data: event.data })
      }
      if (received === 0) break
    }
    return messages
  } finally {
    await nc.close()
  }
}

export interface OutboxCheck {
  rows: number
  unpublished: number
  /** Outbox event ids with no message in the streams. */
  missing: string[]
  /** Message ids that occur more than once in the streams. */
  duplicated: string[]
}

/**
 * Compares the outbox with what JetStream holds: every row published, every event id in a
 * stream exactly once.
 */
export async function checkOutboxAgainstStreams(sql: Sql, natsUrl: string, streams: string[]): Promise<OutboxCheck> {
  const rows = await sql<{ event_id: string; published: boolean }[]>`
    select event_id, published_at is not null as published from outbox
  `
  const seen = new Map<string, number>()
  for (const stream of streams) {
    for (const message of await readStream(natsUrl, stream)) {
      seen.set(message.msgId, (seen.get(message.msgId) ?? 0) + 1)
    }
  }
  return {
    rows: rows.length,
    unpublished: rows.filter((row) => !row.published).length,
    missing: rows.filter((row) => !seen.has(row.event_id)).map((row) => row.event_id),
    duplicated: [...seen].filter(([, count]) => count > 1).map(([id]) => id),
  }
}

export interface PublishRecorder {
  /** How many times each message id was published, duplicates JetStream dropped included. */
  counts(): Map<string, number>
  /** Message ids published more than once. */
  repeated(): string[]
}

/**
 * Subscribes to every subject under `prefix` with a plain NATS subscription, which receives
 * each publish as sent. JetStream drops a repeated Nats-Msg-Id from the stream, so only
 * this shows whether the outbox was published once or published again and deduplicated.
 */
export async function recordPublishes(t: Teardown, natsUrl: string, prefix: string): Promise<PublishRecorder> {
  const nc = await connect({ servers: natsUrl })
  t.teardown(() => nc.close())
  const counts = new Map<string, number>()
  nc.subscribe(`${prefix}.>`, {
    callback: (_error, message) => {
      const id = message.headers?.get('Nats-Msg-Id') ?? ''
      counts.set(id, (counts.get(id) ?? 0) + 1)
    },
  })
  await nc.flush()
  return {
    counts: () => new Map(counts),
    repeated: () => [...counts].filter(([, count]) => count > 1).map(([id]) => id),
  }
}
