import type { Clock } from './clock.js'

/** `search` is HubSpot's per-second search limit; `burst` is the 10-second limit of other calls. */
export type BudgetName = 'search' | 'burst'

/** Values of HubSpot's `X-HubSpot-RateLimit-*` response headers; search responses carry none. */
export interface RateLimitHeaders {
  maxCalls: number | null
  remainingCalls: number | null
  intervalMs: number | null
}

/** One counted request: how long it waited for the budget, and how to mark it finished. */
export interface BudgetPermit {
  hasWaited: boolean
  waitedMs: number
  finish(): void
}

export interface PortalLimits {
  searchPerSecond: number
  burstPer10Seconds: number
}

const searchWindowMs = 1000
const burstWindowMs = 10_000
/** Added to every window to absorb clock and timer imprecision at HubSpot's end. */
const arrivalMarginMs = 50
/** HubSpot's interval header is 10000 today; values outside this range are ignored as invalid. */
const maxHeaderIntervalMs = 60_000

/** One request counted by a budget; `endMs` stays null while the request is in flight. */
interface BudgetEntry {
  endMs: number | null
}

type BudgetDecision =
  | { kind: 'go' }
  | { kind: 'sleep'; durationMs: number }
  | { kind: 'awaitFinish' }

/**
 * A sliding-window budget: at most `limit` requests may reach HubSpot within any `windowMs`.
 * HubSpot counts a request when it arrives, which is some time after we send it and before its
 * response comes back, so a request counts against the budget from when it starts until `windowMs` after
 * its response. That keeps the count at HubSpot within the limit whatever the latency, at the
 * cost of one round trip per window. `pause` holds every request back until a time, as after a 429.
 */
export class SlidingWindowBudget {
  private entries: BudgetEntry[] = []
  private pausedUntilMs = 0
  private headerLimit: number | null = null
  private finishWaiters: (() => void)[] = []

  constructor(
    private configuredLimit: number,
    private windowMs: number,
  ) {}

  /**
   * HubSpot's `X-HubSpot-RateLimit-Max` once a response carried it, because it reflects the
   * app's tier; until then the configured limit.
   */
  get limit(): number {
    return this.headerLimit ?? this.configuredLimit
  }

  configure(limit: number): void {
    this.configuredLimit = limit
  }

  /** Decides whether a request may start now, after a sleep, or once an in-flight one finishes. */
  decide(nowMs: number): BudgetDecision {
    this.prune(nowMs)
    const pauseMs = this.pausedUntilMs - nowMs
    if (pauseMs > 0) return { kind: 'sleep', durationMs: pauseMs }

    const mustExpire = this.entries.length - this.limit + 1
    if (mustExpire <= 0) return { kind: 'go' }
    const finishedEndsMs = this.entries
      .flatMap((entry) => (entry.endMs === null ? [] : [entry.endMs]))
      .sort((a, b) => a - b)
    if (finishedEndsMs.length < mustExpire) return { kind: 'awaitFinish' }
    return {
      kind: 'sleep',
      durationMs: finishedEndsMs[mustExpire - 1] + this.windowMs + arrivalMarginMs - nowMs,
    }
  }

  start(): BudgetEntry {
    const entry: BudgetEntry = { endMs: null }
    this.entries.push(entry)
    return entry
  }

  finish(entry: BudgetEntry, nowMs: number): void {
    entry.endMs = nowMs
    const waiters = this.finishWaiters
    this.finishWaiters = []
    for (const wake of waiters) wake()
  }

  /** Resolves when the next in-flight request finishes. */
  nextFinish(): Promise<void> {
    return new Promise((resolve) => this.finishWaiters.push(resolve))
  }

  pause(untilMs: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, untilMs)
  }

  /**
   * Adapts to HubSpot's own count: its maximum and interval replace ours, and when it reports
   * fewer remaining calls than we count (other replicas share the budget), the difference is
   * recorded as calls that finished just now.
   */
  observe(headers: RateLimitHeaders, nowMs: number): void {
    const { maxCalls, remainingCalls, intervalMs } = headers
    if (intervalMs !== null && intervalMs > 0 && intervalMs <= maxHeaderIntervalMs) {
      this.windowMs = intervalMs
    }
    if (maxCalls !== null && maxCalls > 0) this.headerLimit = maxCalls
    if (remainingCalls === null || remainingCalls < 0) return

    this.prune(nowMs)
    const localRemaining = this.limit - this.entries.length
    const unseenCalls = Math.min(localRemaining - remainingCalls, this.limit)
    for (let index = 0; index < unseenCalls; index++) this.entries.push({ endMs: nowMs })
  }

  /** Records the budget as used up now, after HubSpot rejected a request with 429. */
  fill(nowMs: number): void {
    this.prune(nowMs)
    while (this.entries.length < this.limit) this.entries.push({ endMs: nowMs })
  }

  private prune(nowMs: number): void {
    const cutoffMs = nowMs - this.windowMs - arrivalMarginMs
    this.entries = this.entries.filter((entry) => entry.endMs === null || entry.endMs > cutoffMs)
  }
}

/**
 * The request budgets of one portal, shared by every ContactsApi of that portal in a
 * HubSpotClients factory.
 */
export class PortalRateLimiter {
  private readonly budgets: Record<BudgetName, SlidingWindowBudget>

  constructor(
    limits: PortalLimits,
    private readonly clock: Clock,
  ) {
    this.budgets = {
      search: new SlidingWindowBudget(limits.searchPerSecond, searchWindowMs),
      burst: new SlidingWindowBudget(limits.burstPer10Seconds, burstWindowMs),
    }
  }

  configure(limits: PortalLimits): void {
    this.budgets.search.configure(limits.searchPerSecond)
    this.budgets.burst.configure(limits.burstPer10Seconds)
  }

  /**
   * Waits until the budget allows one more request and counts it. The caller must call
   * `finish` on the permit once the response (or failure) is in.
   */
  async acquire(name: BudgetName): Promise<BudgetPermit> {
    const budget = this.budgets[name]
    const startedMs = this.clock.nowMs()
    let hasWaited = false
    for (;;) {
      const decision = budget.decide(this.clock.nowMs())
      if (decision.kind === 'go') break
      hasWaited = true
      if (decision.kind === 'sleep') await this.clock.sleep(decision.durationMs)
      else await budget.nextFinish()
    }

    const entry = budget.start()
    return {
      hasWaited,
      waitedMs: this.clock.nowMs() - startedMs,
      finish: () => budget.finish(entry, this.clock.nowMs()),
    }
  }

  observe(name: BudgetName, headers: RateLimitHeaders): void {
    this.budgets[name].observe(headers, this.clock.nowMs())
  }

  /**
   * Holds every request of the budget back after a 429. With HubSpot's Retry-After the pause is
   * exactly that; without it the budget counts as used up now and pauses for `minPauseMs`.
   */
  pauseAfterRateLimit(name: BudgetName, retryAfterMs: number | null, minPauseMs: number): void {
    const nowMs = this.clock.nowMs()
    if (retryAfterMs !== null) {
      this.budgets[name].pause(nowMs + retryAfterMs)
      return
    }
    this.budgets[name].fill(nowMs)
    this.budgets[name].pause(nowMs + minPauseMs)
  }
}

/** One PortalRateLimiter per portal id, created on first use. */
export class PortalRateLimiters {
  private readonly limiters = new Map<number, PortalRateLimiter>()

  constructor(private readonly clock: Clock) {}

  forPortal(portalId: number, limits: PortalLimits): PortalRateLimiter {
    const existing = this.limiters.get(portalId)
    if (existing) {
      existing.configure(limits)
      return existing
    }
    const limiter = new PortalRateLimiter(limits, this.clock)
    this.limiters.set(portalId, limiter)
    return limiter
  }
}

/** Reads the `X-HubSpot-RateLimit-*` headers (header names in lower case). */
export function readRateLimitHeaders(headers: Record<string, string>): RateLimitHeaders {
  return {
    maxCalls: numberHeader(headers['x-hubspot-ratelimit-max']),
    remainingCalls: numberHeader(headers['x-hubspot-ratelimit-remaining']),
    intervalMs: numberHeader(headers['x-hubspot-ratelimit-interval-milliseconds']),
  }
}

function numberHeader(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null
  const parsed = Number(value)
  return Number.isFinite(parsed) ? parsed : null
}
