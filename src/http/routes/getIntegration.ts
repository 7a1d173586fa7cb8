import type { FastifyPluginAsync } from 'fastify'

import { getIntegration as loadIntegration } from '../../db/integrations.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, type IdParams } from '../schemas/params.js'

/** `GET /integrations/:id`: one integration, without credentials; 404 when unknown. */
export const getIntegration: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.get<{ Params: IdParams }>('/integrations/:id', { schema: { params: idParams } }, async (request) => {
    return loadIntegration(app.deps.sql, request.params.id)
  })
}
