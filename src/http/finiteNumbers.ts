import type { FastifyInstance, FastifyRequest } from 'fastify'

import { errors } from '../errors.js'

/**
 * Rejects path and query parameters that schema coercion turned into Infinity. Ajv (8.x)
 * coerces `1e400` to Infinity for an `integer` schema and skips `minimum` and `maximum` for
 * numbers that are not finite, so the value would otherwise reach PostgreSQL and fail there.
 */
export function registerFiniteNumberCheck(app: FastifyInstance): void {
  app.addHook('preHandler', async (request: FastifyRequest) => {
    const field = nonFiniteField(request.params) ?? nonFiniteField(request.query)
    if (field !== null) throw errors.validation([{ field, reason: 'must be a finite number within range' }])
  })
}

function nonFiniteField(values: unknown): string | null {
  if (values === null || typeof values !== 'object') return null
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'number' && !Number.isFinite(value)) return key
  }
  return null
}
