import type { FastifyPluginAsync } from 'fastify'

import { replayIntegrationActions } from '../../actions/replay.js'
import type { Logger } from '../../logger.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, type IdParams } from '../schemas/params.js'
import { replayBody, replayConfigSource, type ReplayBody } from '../schemas/replayBody.js'

/**
 * `POST /integrations/:id/actions/replay`: runs the new-lead actions of every live lead of
 * the integration that misses an action record (with `{"config": "current"}`, also those
 * with a skipped action, decided by the settings now). Returns the counts. The request
 * lasts as long as the replay, one transaction per lead.
 */
export const postIntegrationActionsReplay: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.post<{ Params: IdParams; Body: ReplayBody | undefined }>(
    '/integrations/:id/actions/replay',
    { schema: { params: idParams, body: replayBody } },
    async (request) => {
      const configSource = replayConfigSource(request.body)
      return replayIntegrationActions(app.deps.sql, request.params.id, {
        configSource,
        logger: request.log as Logger,
      })
    },
  )
}
