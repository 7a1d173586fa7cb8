import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsync } from 'fastify'

import { loadOpenapi } from '../openapiDocument.js'

/**
 * `GET /docs`: Swagger UI over openapi.yaml (assets bundled, nothing fetched from outside),
 * and `GET /openapi.yaml`: the document itself. Both are public.
 */
export const getDocs: FastifyPluginAsync = async (app) => {
  const { text, document } = loadOpenapi()
  await app.register(fastifySwagger, {
    mode: 'static',
    specification: { document: document as never },
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })

  app.get('/openapi.yaml', async (_request, reply) => {
    return reply.type('application/yaml; charset=utf-8').send(text)
  })
}
