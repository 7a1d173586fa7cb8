import type { FastifyPluginAsync } from 'fastify'

import { findRun } from '../../db/syncRuns.js'
import { errors } from '../../errors.js'
import { adminAuth } from '../plugins/adminAuth.js'
import { maxIdValue } from '../schemas/params.js'

interface Params {
  runId: number
}

/** `GET /sync-runs/:runId`: one run with its status, window, counts and error. */
export const getSyncRun: FastifyPluginAsync = async (app) => {
  await app.register(adminAuth)
  const params = {
    type: 'object',
    properties: { runId: { type: 'integer', minimum: 1, maximum: maxIdValue } },
    required: ['runId'],
  }
  app.get<{ Params: Params }>('/sync-runs/:runId', { schema: { params } }, async (request) => {
    const run = await findRun(app.deps.sql, request.params.runId)
    if (!run) throw errors.notFound('Sync run', request.params.runId)
    return run
  })
}
