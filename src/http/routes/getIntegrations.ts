import type { FastifyPluginAsync } from 'fastify'

import { listIntegrations } from '../../db/integrations.js'
import { adminAuth } from '../plugins/adminAuth.js'

/** `GET /integrations`: every registered integration, in id order, without credentials. */
export const getIntegrations: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.get('/integrations', async () => {
    return { integrations: await listIntegrations(app.deps.sql) }
  })
}
