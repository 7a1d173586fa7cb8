import type { FastifyPluginAsync } from 'fastify'

import { contactsCursor, findCursor, type SyncCursor } from '../../db/cursors.js'
import { getIntegration } from '../../db/integrations.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { idParams, type IdParams } from '../schemas/params.js'

/**
 * `GET /integrations/:id/cursor`: the position of the integration's contacts poll. An
 * integration never synced gets the cursor its first run will create (backfill, idle).
 */
export const getIntegrationCursor: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  app.get<{ Params: IdParams }>('/integrations/:id/cursor', { schema: { params: idParams } }, async (request) => {
    const integration = await getIntegration(app.deps.sql, request.params.id)
    const cursor = await findCursor(app.deps.sql, integration.id, contactsCursor)
    return cursor ?? unsyncedCursor(integration.id)
  })
}

function unsyncedCursor(integrationId: number): Omit<SyncCursor, 'updatedAt'> & { updatedAt: null } {
  return {
    integrationId,
    cursorType: contactsCursor,
    phase: 'backfill',
    lastSyncAt: null,
    windowStart: null,
    windowEnd: null,
    cursorValue: null,
    backfillStartedAt: null,
    recordsSynced: 0,
    status: 'idle',
    lastError: null,
    updatedAt: null,
  }
}
