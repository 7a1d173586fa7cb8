import type { FastifyPluginAsync } from 'fastify'

import { reauthorizeIntegration } from '../../db/integrationCredentials.js'
import { getIntegration, updateIntegration, type Integration } from '../../db/integrations.js'
import { errors } from '../../errors.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { requireService } from '../requireService.js'
import { parseIntegrationPatch, type CredentialsInput } from '../schemas/integrationInput.js'
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
    const current = await getIntegration(app.deps.sql, request.params.id)
    checkReactivation(current, patch.status, credentials)
    const key = credentials ? requireService(app, 'encryptionKey') : null

    const updated = await app.deps.sql.begin(async (tx) => {
      if (credentials && key) await reauthorizeIntegration(tx, key, current, credentials)
      return updateIntegration(tx, current.id, patch)
    })

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

/** Rejects activating a needs_reauth integration without new credentials. */
function checkReactivation(
  current: Integration,
  status: 'active' | 'paused' | undefined,
  credentials: CredentialsInput | null,
): void {
  if (current.status !== 'needs_reauth' || status !== 'active' || credentials) return
  throw errors.conflict(
    `Integration ${current.id} needs re-authorisation; send new accessToken or oauth credentials to activate it`,
    { integrationId: current.id, status: current.status },
  )
}
