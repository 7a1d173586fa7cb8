import type { FastifyPluginAsync } from 'fastify'

import { insertIntegration } from '../../db/integrations.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { requireService } from '../requireService.js'
import { parseNewIntegration } from '../schemas/integrationInput.js'

/**
 * `POST /integrations`: registers a HubSpot portal with a private-app token or an OAuth
 * grant. Credentials are sealed before they reach the database and never sent back.
 */
export const postIntegrations: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.post('/integrations', async (request, reply) => {
    const input = parseNewIntegration(request.body, app.deps.config)
    const key = requireService(app, 'encryptionKey')
    const integration = await insertIntegration(app.deps.sql, key, input)

    const fields = { integrationId: integration.id, portalId: integration.portalId, authType: integration.authType }
    request.log.info(fields, 'integration registered')
    return reply.code(201).header('location', `/integrations/${integration.id}`).send(integration)
  })
}
