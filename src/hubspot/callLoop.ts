import type { Client } from '@hubspot/api-client'

import type { Integration } from '../db/integrations.js'
import type { Logger } from '../logger.js'
import { hubspotCalls, hubspotRateLimited, rateLimitWaits, rateLimitWaitSeconds } from '../metrics.js'
import type { ContactsApiStats } from './client.js'
import type { Clock } from './clock.js'
import { hubspotErrors, type CallContext } from './hubspotErrors.js'
import {
  readRateLimitHeaders,
  type BudgetName,
  type BudgetPermit,
  type PortalRateLimiter,
} from './rateLimiter.js'
import {
  backoffDelayMs,
  classifyResponse,
  networkFailureReason,
  parseErrorBody,
  type BackoffOptions,
  type ErrorBody,
  type RawResponse,
  type Verdict,
} from './retry.js'
import type { AccessTokens } from './tokens.js'
import { sendWithSdk, type SdkCallOptions, type SendOutcome } from './transport.js'

export interface CallLoopDeps {
  integration: Integration
  limiter: PortalRateLimiter
  tokens: AccessTokens
  sdkClient(accessToken: string): Client
  clock: Clock
  logger: Logger
  stats: ContactsApiStats
  /** Attempts per call for 5xx, 423, timeouts and connection failures (HUBSPOT_MAX_ATTEMPTS). */
  maxAttempts: number
  /** 429 waits per call before giving up with HUBSPOT_RATE_LIMITED. */
  maxRateLimitWaits: number
  backoff: BackoffOptions
  /** Aborts at shutdown, which ends every wait and fails the call with SHUTTING_DOWN. */
  signal?: AbortSignal
}

export interface CallSpec {
  endpoint: string
  budget: BudgetName
  send(client: Client, options: SdkCallOptions): Promise<unknown>
}

/** Without Retry-After, a 429 pauses the budget at least this long (HubSpot's shortest window). */
const minRateLimitPauseMs = 1000

interface LoopState {
  attempts: number
  rateLimitWaits: number
  hasRenewedToken: boolean
}

/**
 * Sends one HubSpot call until it succeeds: waits for the portal budget, sends with the current
 * token, and on failure waits and retries (429), backs off (5xx, 423, network), refreshes an
 * OAuth token once (401), or throws an AppError. Returns the 2xx response.
 */
export async function runCall(deps: CallLoopDeps, spec: CallSpec): Promise<RawResponse> {
  const call: CallContext = {
    integrationId: deps.integration.id,
    portalId: deps.integration.portalId,
    endpoint: spec.endpoint,
  }
  const state: LoopState = { attempts: 0, rateLimitWaits: 0, hasRenewedToken: false }
  try {
    return await callUntilDone(deps, call, state, spec)
  } catch (error) {
    // Whatever a stop cut short (a wait, a token refresh, a request) ends the call the same way.
    if (deps.signal?.aborted) throw hubspotErrors.stopped(call)
    throw error
  }
}

async function callUntilDone(
  deps: CallLoopDeps,
  call: CallContext,
  state: LoopState,
  spec: CallSpec,
): Promise<RawResponse> {
  for (;;) {
    deps.signal?.throwIfAborted()
    // The token comes first, so a refresh never counts against the budget.
    const accessToken = await deps.tokens.current(deps.integration)
    const permit = await waitForBudget(deps, spec.budget)
    const outcome = await sendWithSdk((options) => spec.send(deps.sdkClient(accessToken), options))
    permit.finish()
    countCall(deps, spec.endpoint, outcome)

    const verdict = judge(deps, spec.budget, outcome)
    if (verdict.kind === 'success' && outcome.kind === 'response') return outcome.response
    await handleFailure(deps, call, state, { verdict, outcome, accessToken, budget: spec.budget })
  }
}

async function waitForBudget(deps: CallLoopDeps, budget: BudgetName): Promise<BudgetPermit> {
  const permit = await deps.limiter.acquire(budget)
  if (!permit.hasWaited) return permit

  deps.stats.rateLimitWaits++
  deps.stats.waitedMs += permit.waitedMs
  rateLimitWaits.inc({ bucket: budget })
  rateLimitWaitSeconds.inc({ bucket: budget }, permit.waitedMs / 1000)
  return permit
}

function countCall(deps: CallLoopDeps, endpoint: string, outcome: SendOutcome): void {
  deps.stats.calls++
  hubspotCalls.inc({ endpoint, status: outcome.kind === 'response' ? outcome.response.status : 0 })
}

function judge(deps: CallLoopDeps, budget: BudgetName, outcome: SendOutcome): Verdict {
  if (outcome.kind === 'failure') {
    const reason = networkFailureReason(outcome.error)
    // Anything else (e.g. a bug in how the request was built) is not HubSpot's failure to retry.
    if (reason === null) throw outcome.error
    return { kind: 'transient', reason, retryAfterMs: null, minDelayMs: 0 }
  }
  deps.limiter.observe(budget, readRateLimitHeaders(outcome.response.headers))
  return classifyResponse(outcome.response, deps.clock.nowMs())
}

interface Failure {
  verdict: Verdict
  outcome: SendOutcome
  accessToken: string
  budget: BudgetName
}

/** Waits before the next attempt, or throws when the call cannot succeed. */
async function handleFailure(
  deps: CallLoopDeps,
  call: CallContext,
  state: LoopState,
  failure: Failure,
): Promise<void> {
  const { verdict, outcome } = failure
  const response = outcome.kind === 'response' ? outcome.response : null
  const body = parseErrorBody(response?.text ?? '')

  switch (verdict.kind) {
    case 'rateLimited':
      return pauseAfterRateLimit(deps, call, state, verdict, failure.budget)
    case 'dailyLimit':
      countRateLimited(deps, 'DAILY')
      throw hubspotErrors.dailyLimit(call, body)
    case 'transient':
      return backOff(deps, call, state, verdict, outcome)
    case 'unauthorized':
      return renewToken(deps, call, state, failure.accessToken, body)
    default:
      throw hubspotErrors.requestRejected(call, response?.status ?? 0, body)
  }
}

function pauseAfterRateLimit(
  deps: CallLoopDeps,
  call: CallContext,
  state: LoopState,
  verdict: Extract<Verdict, { kind: 'rateLimited' }>,
  budget: BudgetName,
): void {
  const { policy, retryAfterMs } = verdict
  countRateLimited(deps, policy)
  state.rateLimitWaits++
  if (state.rateLimitWaits > deps.maxRateLimitWaits) {
    throw hubspotErrors.rateLimitRetriesExhausted(call, deps.maxRateLimitWaits, policy)
  }

  deps.limiter.pauseAfterRateLimit(budget, retryAfterMs, minRateLimitPauseMs)
  deps.logger.warn(
    { portalId: call.portalId, endpoint: call.endpoint, policy, retryAfterMs },
    'HubSpot rate limit hit; waiting',
  )
}

function countRateLimited(deps: CallLoopDeps, policy: string): void {
  deps.stats.rateLimited[policy] = (deps.stats.rateLimited[policy] ?? 0) + 1
  hubspotRateLimited.inc({ policy })
}

async function backOff(
  deps: CallLoopDeps,
  call: CallContext,
  state: LoopState,
  verdict: Extract<Verdict, { kind: 'transient' }>,
  outcome: SendOutcome,
): Promise<void> {
  state.attempts++
  if (state.attempts >= deps.maxAttempts) {
    throw hubspotErrors.unavailable(
      call,
      state.attempts,
      verdict.reason,
      outcome.kind === 'failure' ? outcome.error : undefined,
    )
  }
  const jitteredMs = backoffDelayMs(state.attempts, deps.backoff)
  const delayMs = Math.max(verdict.retryAfterMs ?? jitteredMs, verdict.minDelayMs)
  deps.logger.warn(
    {
      portalId: call.portalId,
      endpoint: call.endpoint,
      attempt: state.attempts,
      reason: verdict.reason,
      delayMs,
    },
    'HubSpot call failed; retrying',
  )
  await deps.clock.sleep(delayMs)
}

/**
 * A 401 on an OAuth integration refreshes the token once and retries; HubSpot also returns 401
 * for a token revoked by reinstalling, which the refresh then reports as needing re-authorisation.
 */
async function renewToken(
  deps: CallLoopDeps,
  call: CallContext,
  state: LoopState,
  rejectedToken: string,
  body: ErrorBody,
): Promise<void> {
  deps.tokens.forget(deps.integration.id)
  if (deps.integration.authType !== 'oauth' || state.hasRenewedToken) {
    throw hubspotErrors.authFailed(call, 401, body)
  }

  state.hasRenewedToken = true
  deps.logger.info(
    { integrationId: call.integrationId, category: body.category },
    'HubSpot rejected the access token; refreshing',
  )
  await deps.tokens.renewAfterRejection(deps.integration, rejectedToken)
}
