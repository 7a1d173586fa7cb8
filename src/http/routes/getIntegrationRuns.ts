import type { FastifyPluginAsync } from 'fastify'

import { getIntegration } from '../../db/integrations.js'
import { listRuns } from '../../db/syncRuns.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, type IdParams } from '../schemas/params.js'

interface Query {
  limit: number
}

/** `GET /integrations/:id/runs?limit=`: the integration's latest runs, newest first. */
export const getIntegrationRuns: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  const querystring = {
    type: 'object',
    properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 20 } },
    additionalProperties: false,
  }
  app.get<{ Params: IdParams; Querystring: Query }>(
    '/integrations/:id/runs',
    { schema: { params: idParams, querystring } },
    async (request) => {
      const integration = await getIntegration(app.deps.sql, request.params.id)
      return { runs: await listRuns(app.deps.sql, integration.id, request.query.limit) }
    },
  )
}
