import type { FastifyPluginAsync } from 'fastify'

import { getIntegration } from '../../db/integrations.js'
import type { RunKind } from '../../db/syncRuns.js'
import { errors } from '../../errors.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { requireService } from '../requireService.js'
import { maxIdValue } from '../schemas/params.js'

interface Params {
  integrationId: number
}

interface Query {
  wait?: boolean
  kind?: RunKind
}

/**
 * `POST /sync/:integrationId`: starts a manual run and returns 202 with its id, or with
 * `?wait=true` 200 with the finished run. A run of the same kind already in progress, on
 * this replica or another, is returned instead of starting a second one.
 */
export const postSync: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  const schema = {
    params: {
      type: 'object',
      properties: { integrationId: { type: 'integer', minimum: 1, maximum: maxIdValue } },
      required: ['integrationId'],
    },
    querystring: {
      type: 'object',
      properties: {
        wait: { type: 'boolean', default: false },
        kind: { type: 'string', enum: ['contacts', 'archived', 'drift'], default: 'contacts' },
      },
      additionalProperties: false,
    },
  }

  app.post<{ Params: Params; Querystring: Query }>('/sync/:integrationId', { schema }, async (request, reply) => {
    if (app.deps.isShuttingDown?.()) throw errors.shuttingDown()
    const sync = requireService(app, 'sync')
    const integration = await getIntegration(app.deps.sql, request.params.integrationId)

    const started = await sync.startRun(integration.id, 'manual', { kind: request.query.kind })
    const fields = { integrationId: integration.id, portalId: integration.portalId, runId: started.run.id }
    request.log.info({ ...fields, started: started.started, wait: request.query.wait }, 'manual sync requested')
    if (request.query.wait) return reply.code(200).send(await started.done)

    const { run } = started
    return reply.code(202).send({ runId: run.id, status: run.status, started: started.started, run })
  })
}
