import { AppError, ErrorCode } from '../errors.js'
import type { ErrorBody } from './retry.js'

/** Ids that identify the failed call; never tokens, bodies or contact data. */
export interface CallContext {
  integrationId: number
  portalId: number
  endpoint: string
}

/** Factories for the errors the HubSpot client throws; callers react to `code`. */
export const hubspotErrors = {
  dailyLimit(call: CallContext, body: ErrorBody): AppError {
    const message =
      `HubSpot daily API limit reached for portal ${call.portalId}; ` +
      `calls resume after midnight in the portal's time zone`
    return new AppError(ErrorCode.HUBSPOT_DAILY_LIMIT, message, {
      statusCode: 429,
      context: { ...call, correlationId: body.correlationId },
    })
  },

  rateLimitRetriesExhausted(call: CallContext, retries: number, policy: string): AppError {
    const message =
      `HubSpot kept answering 429 (${policy}) after ${retries} waits; ` +
      `lower the request budgets or retry later`
    return new AppError(ErrorCode.HUBSPOT_RATE_LIMITED, message, {
      statusCode: 429,
      context: { ...call, policy, retries },
    })
  },

  /** Creates the error of HubSpot calls cut at shutdown; `call` names the cut call, if any. */
  stopped(call?: CallContext): AppError {
    const target = call ? `HubSpot call ${call.endpoint}` : 'HubSpot calls'
    return new AppError(
      ErrorCode.SHUTTING_DOWN,
      `${target} cancelled because the service is shutting down; the work is retried after the restart`,
      { statusCode: 503, context: call ? { ...call } : {} },
    )
  },

  unavailable(call: CallContext, attempts: number, reason: string, cause?: unknown): AppError {
    return new AppError(
      ErrorCode.HUBSPOT_UNAVAILABLE,
      `HubSpot ${call.endpoint} failed ${attempts} times (last: ${reason}); retry later`,
      { statusCode: 503, context: { ...call, attempts, reason }, cause },
    )
  },

  badResponse(call: CallContext, reason: string, status: number, correlationId?: string): AppError {
    return new AppError(
      ErrorCode.HUBSPOT_BAD_RESPONSE,
      `HubSpot ${call.endpoint} sent an invalid response: ${reason}`,
      {
        statusCode: 502,
        context: { ...call, status, correlationId },
      },
    )
  },

  requestRejected(call: CallContext, status: number, body: ErrorBody): AppError {
    const message = body.message ?? 'no message'
    return new AppError(
      ErrorCode.HUBSPOT_REQUEST_REJECTED,
      `HubSpot rejected ${call.endpoint} with ${status}: ${message}`,
      {
        statusCode: 502,
        context: { ...call, status, category: body.category, correlationId: body.correlationId },
      },
    )
  },

  authFailed(call: CallContext, status: number, body: ErrorBody): AppError {
    const message =
      `HubSpot rejected the credentials of integration ${call.integrationId} ` +
      `with ${status}: ${body.message ?? 'no message'}`
    return new AppError(ErrorCode.HUBSPOT_AUTH_FAILED, message, {
      statusCode: 502,
      context: { ...call, status, category: body.category, correlationId: body.correlationId },
    })
  },

  missingAccessToken(integrationId: number): AppError {
    return new AppError(
      ErrorCode.HUBSPOT_AUTH_FAILED,
      `Integration ${integrationId} has no stored access token; store new credentials for it`,
      { statusCode: 502, context: { integrationId } },
    )
  },

  oauthClientMissing(integrationId: number): AppError {
    const message =
      `Integration ${integrationId} uses OAuth, so HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET ` +
      `must be set to refresh its access token; set both and restart`
    return new AppError(ErrorCode.HUBSPOT_AUTH_FAILED, message, {
      statusCode: 502,
      context: { integrationId },
    })
  },

  oauthClientRejected(integrationId: number, body: ErrorBody): AppError {
    const reason = body.status ?? body.error ?? 'no status'
    const detail = body.message ?? body.error_description ?? 'no message'
    const message =
      `HubSpot rejected the OAuth client while refreshing the token of integration ` +
      `${integrationId} (${reason}: ${detail}); check HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET`
    return new AppError(ErrorCode.HUBSPOT_AUTH_FAILED, message, {
      statusCode: 502,
      context: { integrationId, correlationId: body.correlationId },
    })
  },

  reauthRequired(integrationId: number, reason: string): AppError {
    return new AppError(
      ErrorCode.HUBSPOT_REAUTH_REQUIRED,
      `Integration ${integrationId} needs re-authorisation: ${reason}`,
      {
        statusCode: 409,
        context: { integrationId, reason },
      },
    )
  },
}
