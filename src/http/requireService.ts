import type { FastifyInstance } from 'fastify'

import type { AppServices } from '../app.js'
import { AppError, ErrorCode } from '../errors.js'

/**
 * Returns a service registered in `app.deps.services`, or throws 503 when this instance runs
 * without it (for example an app built by a test that did not pass it).
 */
export function requireService<K extends keyof AppServices & string>(
  app: FastifyInstance,
  name: K,
): NonNullable<AppServices[K]> {
  const service = app.deps.services[name]
  if (service !== undefined && service !== null) return service as NonNullable<AppServices[K]>
  throw new AppError(ErrorCode.INTERNAL, `The ${name} service is not running in this instance`, {
    statusCode: 503,
    context: { service: name },
  })
}
