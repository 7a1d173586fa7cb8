import type { FastifyPluginAsync } from 'fastify'

import { getIntegration } from '../../db/integrations.js'
import { listLeads } from '../../db/leads.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, maxIdValue, type IdParams } from '../schemas/params.js'

interface Query {
  limit: number
  after?: number
}

/**
 * `GET /integrations/:id/leads?limit=&after=`: the integration's leads in id order, one
 * keyset page at a time; pass `nextAfter` of a page as `after` to read the next one.
 */
export const getIntegrationLeads: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  const querystring = {
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      after: { type: 'integer', minimum: 0, maximum: maxIdValue },
    },
    additionalProperties: false,
  }
  app.get<{ Params: IdParams; Querystring: Query }>(
    '/integrations/:id/leads',
    { schema: { params: idParams, querystring } },
    async (request) => {
      const integration = await getIntegration(app.deps.sql, request.params.id)
      const { limit, after } = request.query
      return listLeads(app.deps.sql, integration.id, { limit, after: after ?? null })
    },
  )
}
