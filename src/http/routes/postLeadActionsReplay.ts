import type { FastifyPluginAsync } from 'fastify'

import type { ConfigSource } from '../../actions/decide.js'
import { configSources, replayLeadActions } from '../../actions/replay.js'
import { listLeadActions } from '../../db/leadActions.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, type IdParams } from '../schemas/params.js'

interface Body {
  config?: ConfigSource
}

/**
 * `POST /leads/:id/actions/replay`: runs the lead's new-lead actions that have not run yet.
 * With `{"config": "current"}` the integration's settings now decide, and actions recorded
 * as skipped can run too; a done action never runs again. Returns what this replay did and
 * every recorded action of the lead.
 */
export const postLeadActionsReplay: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  const body = {
    type: ['object', 'null'],
    properties: { config: { type: 'string', enum: configSources } },
    additionalProperties: false,
  }
  app.post<{ Params: IdParams; Body: Body | undefined }>(
    '/leads/:id/actions/replay',
    { schema: { params: idParams, body } },
    async (request) => {
      const configSource = request.body?.config ?? 'import'
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
