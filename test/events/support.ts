// Shared setup for the import and outbox relay tests: an integration row, a NatsManager on
// the test's own subject prefix, and reading a JetStream stream back.
import { randomBytes } from 'node:crypto'

import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'

import type { Sql } from '../../src/db/connection.js'
import { insertIntegration, type Integration } from '../../src/db/integrations.js'
import type { CloudEvent } from '../../src/events/envelope.js'
import { NatsManager } from '../../src/events/nats.js'
import type { HubSpotContact } from '../../src/hubspot/types.js'
import { createLogger } from '../../src/logger.js'
import { natsUrl } from '../helpers/nats.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const silentLogger = createLogger('silent')

/** The `actions` of an integration created without any; valid under `actionsConfigSchema`. */
export const defaultTestActions = {
  assign: { enabled: true, strategy: 'round_robin', userIds: [1, 2] },
}

export async function createIntegration(
  sql: Sql,
  portalId = 12345678,
  actions: Record<string, unknown> = defaultTestActions,
): Promise<Integration> {
  return insertIntegration(sql, randomBytes(32), {
    portalId,
    name: `portal ${portalId}`,
    authType: 'private_app',
    credentials: { accessToken: 'pat-test' },
    accessTokenExpiresAt: null,
    actions,
    burstPer10Seconds: null,
    ownerUserId: null,
  })
}

/** Builds a contact as HubSpot's list and search endpoints return it. */
export function contact(
  id: number | string,
  properties: Record<string, string | null>,
  updatedAt: string,
  createdAt = '2024-01-01T00:00:00.000Z',
): HubSpotContact {
  return {
    id: String(id),
    properties: { hs_object_id: String(id), lastmodifieddate: updatedAt, ...properties },
    createdAt,
    updatedAt,
    archived: false,
  }
}

/** Starts a NatsManager for `url` and closes it when the test ends. */
export function startNats(t: Teardown, prefix: string, url = natsUrl): NatsManager {
  const nats = new NatsManager({ url, subjectPrefix: prefix, logger: silentLogger })
  nats.start()
  t.teardown(() => nats.close())
  return nats
}

export interface StreamMessage {
  subject: string
  msgId: string | undefined
  event: CloudEvent<Record<string, unknown>>
}

/** Reads every message of a stream, in sequence order. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamMessage[]> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  const messages: StreamMessage[] = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq })
    if (!message) continue
    messages.push({
      subject: message.subject,
      msgId: message.header?.get('Nats-Msg-Id') || undefined,
      event: JSON.parse(new TextDecoder().decode(message.data)),
    })
  }
  return messages
}

export async function outboxRows(sql: Sql) {
  return sql<{ id: number; event_id: string; subject: string; payload: CloudEvent<any>; published_at: Date | null }[]>`
    select id, event_id, subject, payload, published_at from outbox order by id
  `
}
