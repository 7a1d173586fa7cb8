import type { FastifyPluginAsync } from 'fastify'

import { listActionDeadLetters, type ActionDeadLetterRow } from '../../db/leadActions.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { maxIdValue } from '../schemas/params.js'

interface Query {
  leadId?: number
  before?: number
  limit?: number
}

/**
 * `GET /action-dead-letters`: the leads.imported messages the actions consumer gave up on,
 * newest first, with the reason and the message as received. `leadId` narrows the list to one
 * lead; `before` (a dead letter id) pages. Replaying the lead's actions runs what is missing.
 */
export const getActionDeadLetters: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.get<{ Querystring: Query }>(
    '/action-dead-letters',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            leadId: { type: 'integer', minimum: 1, maximum: maxIdValue },
            before: { type: 'integer', minimum: 1, maximum: maxIdValue },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100
      const rows = await listActionDeadLetters(app.deps.sql, {
        leadId: request.query.leadId,
        before: request.query.before,
        limit,
      })
      const nextBefore = rows.length === limit ? rows[rows.length - 1].id : null
      return { deadLetters: rows.map(toResponse), nextBefore }
    },
  )
}

function toResponse(row: ActionDeadLetterRow) {
  return {
    id: row.id,
    eventId: row.event_id,
    leadId: row.lead_id,
    deliveries: row.deliveries,
    reason: row.reason,
    message: row.payload,
    createdAt: row.created_at.toISOString(),
  }
}
