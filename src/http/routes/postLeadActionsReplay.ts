import type { FastifyPluginAsync } from 'fastify'

import { replayLeadActions } from '../../actions/replay.js'
import { listLeadActions } from '../../db/leadActions.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, type IdParams } from '../schemas/params.js'
import { replayBody, replayConfigSource, type ReplayBody } from '../schemas/replayBody.js'

/**
 * `POST /leads/:id/actions/replay`: runs the lead's new-lead actions that have not run yet.
 * With `{"config": "current"}` the integration's settings now decide, and actions recorded
 * as skipped can run too; a done action never runs again. Returns what this replay did and
 * every recorded action of the lead.
 */
export const postLeadActionsReplay: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.post<{ Params: IdParams; Body: ReplayBody | undefined }>(
    '/leads/:id/actions/replay',
    { schema: { params: idParams, body: replayBody } },
    async (request) => {
      const configSource = replayConfigSource(request.body)
      const outcome = await replayLeadActions(app.deps.sql, request.params.id, { configSource })
      const actions = await listLeadActions(app.deps.sql, outcome.leadId)
      request.log.info(
        { leadId: outcome.leadId, configSource, recorded: outcome.results.filter((r) => r.recorded).length },
        'lead actions replayed',
      )
      return { leadId: outcome.leadId, configSource, results: outcome.results, actions }
    },
  )
}
