import type { FastifyPluginAsync } from 'fastify'

import { hasPendingMigrations } from '../../db/migrate.js'

/** Readiness: the database answers, migrations are applied and NATS is connected. */
export const getReadyz: FastifyPluginAsync = async (app) => {
  app.get('/readyz', async (request, reply) => {
    const checks = { database: 'ok', migrations: 'ok', nats: 'ok' }
    try {
      await app.deps.sql`select 1`
      if (await hasPendingMigrations(app.deps.sql)) checks.migrations = 'pending'
    } catch (error) {
      request.log.warn({ err: error }, 'readiness database check failed')
      checks.database = 'unavailable'
      checks.migrations = 'unknown'
    }
    if (!app.deps.nats.isConnected()) checks.nats = 'disconnected'

    // A replica that is shutting down leaves the load balancer's rotation first.
    const shuttingDown = app.deps.isShuttingDown?.() ?? false
    // NATS down is reported but does not take the replica out: events wait in the outbox.
    const ready = checks.database === 'ok' && checks.migrations === 'ok' && !shuttingDown
    let status = ready ? 'ready' : 'not_ready'
    if (shuttingDown) status = 'shutting_down'
    return reply.code(ready ? 200 : 503).send({ status, checks })
  })
}
