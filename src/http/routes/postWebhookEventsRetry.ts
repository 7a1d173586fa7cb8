import { isUtf8 } from 'node:buffer'

import type { FastifyPluginAsync, FastifyRequest } from 'fastify'

import { requeueFailedWebhookEvents } from '../../db/webhookEvents.js'
import { errors } from '../../errors.js'
import { findUnsafeValue } from '../jsonBody.js'
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
  // Scoped to this plugin: an empty body means "every failed event", also when a client
  // sends `Content-Type: application/json` with it, which the shared parser rejects.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseOptionalJsonBody)
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

type Done = (error: Error | null, body?: unknown) => void

/** Parses a JSON body with the shared parser's checks, or returns null for an empty one. */
function parseOptionalJsonBody(_request: FastifyRequest, body: string | Buffer, done: Done): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
  if (!isUtf8(bytes)) return done(errors.validation([{ field: 'body', reason: 'contains bytes that are not valid UTF-8' }]))
  const text = bytes.toString('utf8')
  if (text.trim() === '') return done(null, null)

  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return done(errors.validation([{ field: 'body', reason: `invalid JSON: ${(error as Error).message}` }]))
  }
  const problem = findUnsafeValue(value)
  if (problem) return done(errors.validation([problem]))
  done(null, value)
}
