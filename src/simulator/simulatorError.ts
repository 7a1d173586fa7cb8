import { randomUUID } from 'node:crypto'

/** A JSON error body as HubSpot sends it; every field but `status` and `message` is optional. */
export type ErrorBody = Record<string, unknown> & { status: string; message: string }

/**
 * An error the simulator returns with HubSpot's status and body. Thrown by the store and the
 * routes; the server renders it and fills in `correlationId`.
 */
export class SimulatorError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Omit<ErrorBody, 'correlationId'>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message))
  }

  /** The 404 of a numeric id that does not exist. */
  static notFound(id: number | string): SimulatorError {
    void id
    return new SimulatorError(404, { status: 'error', message: 'resource not found' })
  }

  /** The 404 of a non-numeric id, with HubSpot's two spaces after the period. */
  static notFoundNonNumeric(id: string): SimulatorError {
    return new SimulatorError(404, {
      status: 'error',
      message: 'Object not found.  objectId are usually numeric.',
      context: { id: [id] },
      category: 'OBJECT_NOT_FOUND',
    })
  }

  static validation(message: string, extra: Record<string, unknown> = {}): SimulatorError {
    return new SimulatorError(400, { status: 'error', message, category: 'VALIDATION_ERROR', ...extra })
  }

  /** The generic 400 HubSpot returns, for example for an unparseable filter value. */
  static badRequest(): SimulatorError {
    return new SimulatorError(400, { status: 'error', message: 'There was a problem with the request.' })
  }

  static conflict(message: string): SimulatorError {
    return new SimulatorError(409, { status: 'error', message, category: 'CONFLICT' })
  }
}

/** Returns a body with a fresh correlation id in HubSpot's field order. */
export function withCorrelationId(body: Omit<ErrorBody, 'correlationId'>, correlationId: string = randomUUID()): ErrorBody {
  const { status, message, ...rest } = body
  return { status, message, correlationId, ...rest } as ErrorBody
}
