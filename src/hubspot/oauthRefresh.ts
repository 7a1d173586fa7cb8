import type http from 'node:http'

import { z } from 'zod'

import type { Logger } from '../logger.js'
import { hubspotCalls } from '../metrics.js'
import type { Clock } from './clock.js'
import { hubspotErrors, type CallContext } from './hubspotErrors.js'
import {
  backoffDelayMs,
  classifyResponse,
  networkFailureReason,
  parseErrorBody,
  type BackoffOptions,
  type ErrorBody,
  type RawResponse,
} from './retry.js'
import { createSdkClient, sendWithSdk } from './transport.js'

export const tokenEndpoint = 'POST /oauth/v1/token'

export interface RefreshRequest {
  integrationId: number
  portalId: number
  refreshToken: string
  clientId: string
  clientSecret: string
}

export type RefreshResult =
  | { kind: 'granted'; accessToken: string; refreshToken: string | null; expiresInSeconds: number }
  | { kind: 'revoked'; reason: string }

export interface RefreshDeps {
  apiUrl: string
  agent: http.Agent
  clock: Clock
  logger: Logger
  maxAttempts: number
  backoff: BackoffOptions
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().positive(),
})

/**
 * Exchanges a refresh token at `POST /oauth/v1/token` (form-encoded, under HUBSPOT_API_URL).
 * 5xx, 423, 429 and network failures are retried with backoff up to `maxAttempts`; a rejected
 * refresh token comes back as `revoked`, other rejections are thrown.
 */
export async function refreshAccessToken(
  deps: RefreshDeps,
  request: RefreshRequest,
): Promise<RefreshResult> {
  const call: CallContext = {
    integrationId: request.integrationId,
    portalId: request.portalId,
    endpoint: tokenEndpoint,
  }
  const client = createSdkClient(deps.apiUrl, deps.agent)

  for (let attempt = 1; ; attempt++) {
    const outcome = await sendWithSdk((options) =>
      client.oauth.tokensApi.createWithHttpInfo(
        'refresh_token',
        undefined,
        undefined,
        request.clientId,
        request.clientSecret,
        request.refreshToken,
        options,
      ),
    )
    hubspotCalls.inc({
      endpoint: tokenEndpoint,
      status: outcome.kind === 'response' ? outcome.response.status : 0,
    })

    const failureReason =
      outcome.kind === 'response'
        ? transientReason(outcome.response, deps.clock)
        : networkFailureReason(outcome.error)
    if (outcome.kind === 'failure' && failureReason === null) throw outcome.error
    if (outcome.kind === 'response' && failureReason === null) {
      return readTokenResponse(call, outcome.response)
    }

    if (attempt >= deps.maxAttempts) {
      throw hubspotErrors.unavailable(
        call,
        attempt,
        failureReason ?? 'unknown',
        outcome.kind === 'failure' ? outcome.error : undefined,
      )
    }
    deps.logger.warn(
      { integrationId: request.integrationId, attempt, reason: failureReason },
      'retrying OAuth token refresh',
    )
    await deps.clock.sleep(backoffDelayMs(attempt, deps.backoff))
  }
}

function transientReason(response: RawResponse, clock: Clock): string | null {
  const verdict = classifyResponse(response, clock.nowMs())
  if (verdict.kind === 'transient') return verdict.reason
  if (verdict.kind === 'rateLimited') return `rate limited (${verdict.policy})`
  return null
}

function readTokenResponse(call: CallContext, response: RawResponse): RefreshResult {
  if (response.status >= 200 && response.status < 300) {
    const parsed = tokenResponseSchema.safeParse(safeJson(response.text))
    if (!parsed.success) {
      throw hubspotErrors.badResponse(
        call,
        'token response without access_token or expires_in',
        response.status,
      )
    }
    const { access_token, refresh_token, expires_in } = parsed.data
    return {
      kind: 'granted',
      accessToken: access_token,
      refreshToken: refresh_token ?? null,
      expiresInSeconds: expires_in,
    }
  }

  const body = parseErrorBody(response.text)
  if (isRevokedGrant(response.status, body)) return { kind: 'revoked', reason: revokedReason(body) }
  if (response.status === 400 || response.status === 401) {
    throw hubspotErrors.oauthClientRejected(call.integrationId, body)
  }
  throw hubspotErrors.requestRejected(call, response.status, body)
}

/**
 * HubSpot's v1 token endpoint responds to a revoked or unknown refresh token with 400 and
 * `status: "BAD_REFRESH_TOKEN"`; standard OAuth 2.0 servers send `error: "invalid_grant"`.
 */
function isRevokedGrant(status: number, body: ErrorBody): boolean {
  if (status !== 400) return false
  return (
    body.status === 'BAD_REFRESH_TOKEN' ||
    body.error === 'invalid_grant' ||
    body.status === 'invalid_grant'
  )
}

function revokedReason(body: ErrorBody): string {
  const detail =
    body.message ?? body.error_description ?? body.status ?? body.error ?? 'invalid_grant'
  return `HubSpot rejected the OAuth refresh token (${detail}); reinstall the app for this portal`
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
