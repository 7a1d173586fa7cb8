import type { FastifyPluginAsync } from 'fastify'

/** Liveness: the process is up and serving HTTP. */
export const getHealthz: FastifyPluginAsync = async (app) => {
  app.get('/healthz', async () => ({ status: 'ok' }))
}
