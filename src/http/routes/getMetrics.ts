import type { FastifyPluginAsync } from 'fastify'

import { registry } from '../../metrics.js'

/** `GET /metrics`: every metric of the process in the Prometheus text format. */
export const getMetrics: FastifyPluginAsync = async (app) => {
  app.get('/metrics', async (_request, reply) => {
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}
