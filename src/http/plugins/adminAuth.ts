import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

import { safeEqual } from '../../crypto.js'
import { errors } from '../../errors.js'

const bearerPrefix = /^Bearer\s+/i

/**
 * onRequest hook for admin routes: the request must carry `Authorization: Bearer $API_TOKEN`.
 * Without API_TOKEN configured every admin request is refused with ADMIN_DISABLED (server.ts
 * logs why once at start).
 */
export async function requireAdmin(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const expected = request.server.deps.config.API_TOKEN
  if (!expected) throw errors.adminDisabled()

  const header = request.headers.authorization
  if (typeof header !== 'string' || !bearerPrefix.test(header)) throw errors.unauthorized()

  const presented = header.replace(bearerPrefix, '').trim()
  if (!safeEqual(presented, expected)) throw errors.unauthorized()
}

/**
 * Plugin form of `requireAdmin`: `await app.register(adminAuth)` inside a route plugin puts
 * every route of that plugin behind the bearer token.
 */
export const adminAuth: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', requireAdmin)
}

// Same effect as wrapping with fastify-plugin: the hook lands in the registering plugin's
// scope (the route file), not in a child scope that contains no routes.
Object.assign(adminAuth, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'adminAuth',
})
