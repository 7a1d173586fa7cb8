import { randomUUID } from 'node:crypto'
import type { TokenKind } from './auth.js'
import type { RateLimitOptions } from './options.js'
import { SimulatorError } from './simulatorError.js'

const tenSecondsMs = 10_000
const oneSecondMs = 1000
const dayMs = 24 * 3600 * 1000

export type RateLimitPolicy = 'SECONDLY' | 'TEN_SECONDLY_ROLLING' | 'DAILY'

/** Timestamps of accepted requests inside a rolling window. */
class RollingWindow {
  private times: number[] = []
  private head = 0

  constructor(private readonly windowMs: number) {}

  count(nowMs: number): number {
    while (this.head < this.times.length && this.times[this.head] <= nowMs - this.windowMs) this.head++
    if (this.head > 1024) {
      this.times = this.times.slice(this.head)
      this.head = 0
    }
    return this.times.length - this.head
  }

  add(nowMs: number): void {
    this.times.push(nowMs)
  }
}

/**
 * Rate limits of one portal as HubSpot documents them: search at a few requests per second per
 * portal, a rolling 10-second budget per app (private app, or the OAuth app for this portal),
 * and a daily budget for private apps. Requests rejected with 429 use none of the budget.
 */
export class RateLimiter {
  private readonly search = new RollingWindow(oneSecondMs)
  private readonly burst: Record<TokenKind, RollingWindow> = {
    privateApp: new RollingWindow(tenSecondsMs),
    oauth: new RollingWindow(tenSecondsMs),
  }
  private dailyCount = 0
  private dailyStartMs = 0
  readonly rejected: Record<RateLimitPolicy, number> = { SECONDLY: 0, TEN_SECONDLY_ROLLING: 0, DAILY: 0 }

  constructor(
    private readonly options: () => RateLimitOptions,
    private readonly portalId: number,
  ) {}

  /**
   * Counts one request and returns the headers to send; throws a 429 SimulatorError when a
   * limit is reached. Search responses carry no rate-limit headers, as on HubSpot.
   */
  take(kind: TokenKind, isSearch: boolean, nowMs: number): Record<string, string> {
    const options = this.options()
    if (!options.enabled) return {}
    this.rollDay(nowMs)
    const burstMax = kind === 'privateApp' ? options.privateAppPer10Seconds : options.oauthAppPer10Seconds
    const burst = this.burst[kind]
    const hasDailyLimit = kind === 'privateApp' && options.dailyLimit !== null

    if (hasDailyLimit && this.dailyCount >= (options.dailyLimit ?? Infinity)) throw this.reject('DAILY', kind, isSearch, nowMs)
    if (isSearch && this.search.count(nowMs) >= options.searchPerSecond) throw this.reject('SECONDLY', kind, isSearch, nowMs)
    // Search is exempt from the ten-secondly limit (x-hubspot-rate-limit-exemptions in HubSpot's spec).
    if (!isSearch && burst.count(nowMs) >= burstMax) throw this.reject('TEN_SECONDLY_ROLLING', kind, isSearch, nowMs)

    if (isSearch) this.search.add(nowMs)
    else burst.add(nowMs)
    this.dailyCount++
    return isSearch ? {} : this.headers(kind, nowMs)
  }

  private headers(kind: TokenKind, nowMs: number): Record<string, string> {
    const options = this.options()
    const burstMax = kind === 'privateApp' ? options.privateAppPer10Seconds : options.oauthAppPer10Seconds
    const remaining = Math.max(0, burstMax - this.burst[kind].count(nowMs))
    const headers: Record<string, string> = {
      'x-hubspot-ratelimit-interval-milliseconds': String(tenSecondsMs),
      'x-hubspot-ratelimit-max': String(burstMax),
      'x-hubspot-ratelimit-remaining': String(remaining),
      // Deprecated and not enforced by HubSpot, but still sent.
      'x-hubspot-ratelimit-secondly': String(Math.ceil(burstMax / 10)),
      'x-hubspot-ratelimit-secondly-remaining': String(Math.max(0, Math.ceil(burstMax / 10) - 1)),
    }
    // The daily pair is sent for private apps only; OAuth apps have no daily limit.
    if (kind === 'privateApp' && options.dailyLimit !== null) {
      headers['x-hubspot-ratelimit-daily'] = String(options.dailyLimit)
      headers['x-hubspot-ratelimit-daily-remaining'] = String(Math.max(0, options.dailyLimit - this.dailyCount))
    }
    return headers
  }

  private reject(policy: RateLimitPolicy, kind: TokenKind, isSearch: boolean, nowMs: number): SimulatorError {
    this.rejected[policy]++
    const retryAfter = this.options().retryAfterSeconds
    const headers = isSearch ? {} : this.headers(kind, nowMs)
    if (retryAfter !== null) headers['retry-after'] = String(retryAfter)
    const groups: Record<RateLimitPolicy, string> = {
      SECONDLY: `publicapi:search-secondly:${this.portalId}`,
      TEN_SECONDLY_ROLLING: `publicapi:${kind === 'oauth' ? 'oauth' : 'private-app'}-api-calls-ten-secondly:${this.portalId}`,
      DAILY: `publicapi:private-app-api-calls-daily:${this.portalId}`,
    }
    return new SimulatorError(
      429,
      {
        status: 'error',
        message: `You have reached your ${policy === 'TEN_SECONDLY_ROLLING' ? 'ten_secondly_rolling' : policy.toLowerCase()} limit.`,
        errorType: 'RATE_LIMIT',
        policyName: policy,
        groupName: groups[policy],
        requestId: randomUUID().replaceAll('-', ''),
      },
      headers,
    )
  }

  /** Resets the daily budget at midnight, using UTC as the portal's time zone. */
  private rollDay(nowMs: number): void {
    const dayStartMs = nowMs - (nowMs % dayMs)
    if (dayStartMs === this.dailyStartMs) return
    this.dailyStartMs = dayStartMs
    this.dailyCount = 0
  }

  /** Calls counted today, as the private-app usage endpoint reports them. */
  get dailyUsage(): number {
    return this.dailyCount
  }
}
