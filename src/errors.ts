/** Stable error codes: callers and tests react to these, never to message text. */
export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  ADMIN_DISABLED: 'ADMIN_DISABLED',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  DATABASE_ERROR: 'DATABASE_ERROR',
  MIGRATION_FAILED: 'MIGRATION_FAILED',
  HUBSPOT_RATE_LIMITED: 'HUBSPOT_RATE_LIMITED',
  HUBSPOT_DAILY_LIMIT: 'HUBSPOT_DAILY_LIMIT',
  HUBSPOT_AUTH_FAILED: 'HUBSPOT_AUTH_FAILED',
  HUBSPOT_REAUTH_REQUIRED: 'HUBSPOT_REAUTH_REQUIRED',
  HUBSPOT_UNAVAILABLE: 'HUBSPOT_UNAVAILABLE',
  HUBSPOT_BAD_RESPONSE: 'HUBSPOT_BAD_RESPONSE',
  HUBSPOT_REQUEST_REJECTED: 'HUBSPOT_REQUEST_REJECTED',
  WEBHOOK_SIGNATURE_INVALID: 'WEBHOOK_SIGNATURE_INVALID',
  WEBHOOK_BODY_INVALID: 'WEBHOOK_BODY_INVALID',
  WEBHOOK_NOT_CONFIGURED: 'WEBHOOK_NOT_CONFIGURED',
  SYNC_ALREADY_RUNNING: 'SYNC_ALREADY_RUNNING',
  SYNC_INTERRUPTED: 'SYNC_INTERRUPTED',
  INTEGRATION_PAUSED: 'INTEGRATION_PAUSED',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  NATS_UNAVAILABLE: 'NATS_UNAVAILABLE',
  CRYPTO_FAILED: 'CRYPTO_FAILED',
  INTERNAL: 'INTERNAL',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export interface AppErrorOptions {
  statusCode?: number
  context?: Record<string, unknown>
  cause?: unknown
}

/** The one error class of the service: a stable code, an HTTP status and typed context. */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly context: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.statusCode = options.statusCode ?? 500
    this.context = options.context ?? {}
  }

  /** Renders the error as the JSON body every route sends. */
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    const body: { code: ErrorCode; message: string; details?: Record<string, unknown> } = {
      code: this.code,
      message: this.message,
    }
    if (Object.keys(this.context).length > 0) body.details = this.context
    return body
  }
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  if (!(error instanceof Error) || (error as AppError).code === undefined) return false
  // Fastify's own errors also carry `code` and `statusCode`; only ours render with toJSON.
  if (!(error as AppError).statusCode || typeof (error as AppError).toJSON !== 'function') return false
  return code === undefined || (error as AppError).code === code
}

export interface FieldIssue {
  field: string
  reason: string
}

export const errors = {
  validation(issues: FieldIssue[], what = 'request'): AppError {
    const summary = issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ')
    return new AppError(ErrorCode.VALIDATION_FAILED, `Invalid ${what}: ${summary}`, {
      statusCode: 400,
      context: { issues },
    })
  },
  notFound(what: string, id: string | number): AppError {
    return new AppError(ErrorCode.NOT_FOUND, `${what} ${id} not found`, {
      statusCode: 404,
      context: { id: String(id) },
    })
  },
  conflict(message: string, context: Record<string, unknown> = {}): AppError {
    return new AppError(ErrorCode.CONFLICT, message, { statusCode: 409, context })
  },
  unauthorized(message = 'Missing or invalid bearer token'): AppError {
    return new AppError(ErrorCode.UNAUTHORIZED, message, { statusCode: 401 })
  },
  adminDisabled(): AppError {
    return new AppError(
      ErrorCode.ADMIN_DISABLED,
      'Admin routes are disabled because API_TOKEN is not set; set API_TOKEN and restart',
      { statusCode: 401 },
    )
  },
  databaseUnavailable(cause: unknown): AppError {
    return new AppError(ErrorCode.DATABASE_UNAVAILABLE, 'Database is unavailable; retry later', {
      statusCode: 503,
      cause,
    })
  },
  shuttingDown(): AppError {
    return new AppError(ErrorCode.SHUTTING_DOWN, 'Service is shutting down; retry on another replica', {
      statusCode: 503,
    })
  },
}
