import type { FastifyPluginAsync } from 'fastify'

import { applyIntegrationUpdate } from '../../db/integrationUpdate.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { requireService } from '../requireService.js'
import { parseIntegrationPatch } from '../schemas/integrationInput.js'
import { idParams, type IdParams } from '../schemas/params.js'

/**
 * `PATCH /integrations/:id`: changes name, status (active or paused), actions, burst budget
 * or owner, and stores new credentials. New credentials return an integration that needs
 * re-authorisation to active.
 */
export const patchIntegration: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.patch<{ Params: IdParams }>('/integrations/:id', { schema: { params: idParams } }, async (request) => {
    const { patch, credentials } = parseIntegrationPatch(request.body, app.deps.config)
    const updated = await applyIntegrationUpdate(app.deps.sql, request.params.id, { patch, credentials }, () =>
      requireService(app, 'encryptionKey'),
    )

    const fields = {
      integrationId: updated.id,
      portalId: updated.portalId,
      changed: Object.keys(patch),
      credentialsReplaced: credentials !== null,
      status: updated.status,
    }
    request.log.info(fields, 'integration updated')
    return updated
  })
}
