import type { FastifyPluginAsync } from 'fastify'

import { listLeadActions } from '../../db/leadActions.js'
import { getLead as loadLead } from '../../db/leads.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, type IdParams } from '../schemas/params.js'

/**
 * `GET /leads/:id`: one lead with its mapped fields, raw synced properties, assignment and
 * the recorded outcome of each new-lead action.
 */
export const getLead: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.get<{ Params: IdParams }>('/leads/:id', { schema: { params: idParams } }, async (request) => {
    const lead = await loadLead(app.deps.sql, request.params.id)
    const actions = await listLeadActions(app.deps.sql, lead.id)
    const assignment =
      lead.assignedAt === null
        ? null
        : { userId: lead.assignedUserId, teamId: lead.assignedTeamId, assignedAt: lead.assignedAt }
    return { ...lead, assignment, actions }
  })
}
