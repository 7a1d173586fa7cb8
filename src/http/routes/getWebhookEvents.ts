import type { FastifyPluginAsync } from 'fastify'

import { listWebhookEvents, type WebhookEventRow, type WebhookEventStatus } from '../../db/webhookEvents.js'
import { errors } from '../../errors.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { maxIdValue } from '../schemas/params.js'

const statuses: WebhookEventStatus[] = ['pending', 'done', 'failed', 'ignored']

interface Query {
  status?: string
  limit?: number
  before?: number
}

/**
 * `GET /webhook-events`: lists inbox events, newest first, by default those not processed
 * yet or given up on (`status=failed,pending`), each with its attempts and last error.
 * Pages with `before` (an event id).
 */
export const getWebhookEvents: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.get<{ Querystring: Query }>(
    '/webhook-events',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', pattern: '^[a-z]+(,[a-z]+)*$' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            before: { type: 'integer', minimum: 1, maximum: maxIdValue },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const requested = parseStatuses(request.query.status ?? 'failed,pending')
      const limit = request.query.limit ?? 100
      const rows = await listWebhookEvents(app.deps.sql, {
        statuses: requested,
        limit,
        before: request.query.before ?? null,
      })
      const nextBefore = rows.length === limit ? rows[rows.length - 1].id : null
      return { events: rows.map(toResponse), nextBefore }
    },
  )
}

function parseStatuses(value: string): WebhookEventStatus[] {
  const requested = value.split(',')
  const unknown = requested.filter((status) => !(statuses as string[]).includes(status))
  if (unknown.length > 0) {
    throw errors.validation([{ field: 'status', reason: `unknown status ${unknown.join(', ')}; expected ${statuses.join(', ')}` }])
  }
  return requested as WebhookEventStatus[]
}

/** The event as the API shows it: ids and outcome, plus the HubSpot event as received. */
function toResponse(row: WebhookEventRow) {
  return {
    id: row.id,
    portalId: row.portal_id,
    integrationId: row.integration_id,
    subscriptionType: row.subscription_type,
    objectId: row.object_id,
    occurredAt: row.occurred_at.toISOString(),
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    lastError: row.last_error,
    receivedAt: row.received_at.toISOString(),
    processedAt: row.processed_at?.toISOString() ?? null,
    event: row.event,
  }
}
