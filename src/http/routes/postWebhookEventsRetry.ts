import type { FastifyPluginAsync } from 'fastify'

import { requeueFailedWebhookEvents } from '../../db/webhookEvents.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { maxIdValue } from '../schemas/params.js'

interface Body {
  ids?: number[]
}

/**
 * `POST /webhook-events/retry`: puts failed inbox events back in the queue with a fresh
 * attempt budget, the given ids or, with no ids, every failed event. Returns how many
 * were requeued.
 */
export const postWebhookEventsRetry: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.post<{ Body: Body | undefined }>(
    '/webhook-events/retry',
    {
      schema: {
        body: {
          type: ['object', 'null'],
          properties: {
            ids: { type: 'array', items: { type: 'integer', minimum: 1, maximum: maxIdValue }, maxItems: 10_000 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const ids = request.body?.ids ?? null
      const requeued = await requeueFailedWebhookEvents(app.deps.sql, ids)
      request.log.info({ requeued, requested: ids?.length ?? 'all' }, 'failed webhook events requeued')
      return { requeued }
    },
  )
}
