import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'

import type { Config } from './config.js'
import type { Sql } from './db/connection.js'
import { mapDatabaseError, isConnectionError } from './db/connection.js'
import { AppError, ErrorCode, isAppError } from './errors.js'
import type { NatsManager } from './events/nats.js'
import { registerFiniteNumberCheck } from './http/finiteNumbers.js'
import { registerJsonBodyParser } from './http/jsonBody.js'
import { routes } from './http/routes.js'
import type { Logger } from './logger.js'
import type { SyncService } from './sync/runner.js'

/**
 * Dependencies of the routes, built once by server.ts (or by a test) and passed in explicitly.
 * Optional parts are those a route can live without; each route checks what it uses.
 */
export interface AppDeps {
  config: Config
  sql: Sql
  logger: Logger
  nats: NatsManager
  /** Set while SIGTERM is being handled: new work is refused with 503. */
  isShuttingDown?: () => boolean
  /** Extra services registered by the parts of the service that own them. */
  services: Partial<AppServices>
}

/**
 * Services owned by other modules, looked up by routes. Each module that adds a service
 * declares its field here.
 */
export interface AppServices {
  [name: string]: unknown
  /** Starts and finds sync runs; POST /sync and GET /sync-runs need it. */
  sync: SyncService
  /** Seals integration credentials; POST and PATCH /integrations need it. */
  encryptionKey: Buffer
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps
  }
}

/** Builds the Fastify app without listening, so tests can `inject` into it. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    requestIdHeader: 'x-request-id',
    logController: new LogController({ disableRequestLogging: isProbeRequest }),
  }) as unknown as FastifyInstance
  app.decorate('deps', deps)
  registerJsonBodyParser(app)
  registerFiniteNumberCheck(app)

  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error)
    if (appError.statusCode >= 500) {
      request.log.error({ err: error, code: appError.code }, 'request failed')
    } else {
      request.log.info({ code: appError.code, statusCode: appError.statusCode }, 'request rejected')
    }
    void reply.code(appError.statusCode).send(appError.toJSON())
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    void reply.code(404).send({ code: ErrorCode.NOT_FOUND, message: `Route ${request.method} ${path} not found` })
  })

  for (const route of routes) void app.register(route)
  return app
}

// Probes and scrapes arrive every few seconds; logging each would bury the real requests.
const probePaths = new Set(['/healthz', '/readyz', '/metrics'])

function isProbeRequest(request: { url: string }): boolean {
  return probePaths.has(request.url.split('?')[0])
}

/** Turns whatever a route threw into the AppError that is rendered. */
export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error
  if (isConnectionError(error)) return mapDatabaseError(error, 'request')

  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    const issues = fastifyError.validation.map((issue) => ({
      field: issue.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'body',
      reason: issue.message ?? 'invalid',
    }))
    return new AppError(ErrorCode.VALIDATION_FAILED, `Invalid request: ${fastifyError.message}`, {
      statusCode: 400,
      context: { issues },
    })
  }

  const statusCode = fastifyError.statusCode
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return new AppError(ErrorCode.VALIDATION_FAILED, fastifyError.message, {
      statusCode,
      context: { fastifyCode: fastifyError.code },
    })
  }
  return new AppError(ErrorCode.INTERNAL, 'Internal error', { statusCode: 500, cause: error })
}
