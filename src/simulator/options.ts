/**
 * Knobs of the HubSpot simulator. Every knob can be changed at run time with `sim.setOptions`
 * or `POST /_simulator/options`. Two default sets exist: `testDefaults` keeps an in-process
 * test fast and deterministic, `realisticDefaults` (the CLI default) behaves like production.
 */
import { defaultMaxUriLength, maxConfigurableUriLength } from './uriLength.js'

/** Rate limits of one portal, as HubSpot documents them for API usage. */
export interface RateLimitOptions {
  /** Turn every limit off. */
  enabled: boolean
  /** Search requests per second per portal (HubSpot: 5). Exceeding returns 429 SECONDLY. */
  searchPerSecond: number
  /** Rolling 10-second budget of a private app (100, 190 or 250 by tier). */
  privateAppPer10Seconds: number
  /** Rolling 10-second budget of an OAuth app per installing portal (HubSpot: 110). */
  oauthAppPer10Seconds: number
  /** Daily budget of private-app calls (250,000 to 1,000,000 by tier); null disables it. */
  dailyLimit: number | null
  /** Seconds to send in `Retry-After` on a 429; null sends no header, which is HubSpot's habit. */
  retryAfterSeconds: number | null
}

/** Faults injected into HubSpot API responses (never into `/_simulator` or OAuth). */
export interface FaultOptions {
  /** Probability (0..1) that a request fails with one of `errorStatuses`. */
  errorRate: number
  /** Statuses drawn for injected errors: 500, 502, 503, 504 and 423 are the realistic ones. */
  errorStatuses: number[]
  /** Probability (0..1) that a response is delayed by `slowResponseMs`. */
  slowRate: number
  /** Delay of a slow response, in milliseconds. */
  slowResponseMs: number
  /** Probability (0..1) that the connection is destroyed without any response. */
  dropRate: number
}

/** How loose the search endpoint is, as observed in production. */
export interface SearchOptions {
  /** Milliseconds before a write becomes visible to search (list, get and batch read see it at once). */
  indexLagMs: number
  /**
   * Order of records with equal sort values. `id` sorts ties by id, `seeded` shuffles them the same
   * way for every page of a query, `random` shuffles them anew on every request, so offset paging
   * over ties can skip or repeat records as it can on HubSpot.
   */
  tieOrder: 'id' | 'seeded' | 'random'
  /** Probability (0..1) that a search page carries one extra record outside the requested filters. */
  outOfRangeRate: number
}

/** Webhook delivery knobs, independent of the target set with `sim.webhooks.configure`. */
export interface WebhookFaultOptions {
  /** Probability (0..1) that a batch is delivered twice. */
  duplicateRate: number
  /** Deliver queued batches in reverse order (out-of-order delivery). */
  reorder: boolean
  /** Probability (0..1) that an event reuses the eventId of an earlier, different event. */
  reusedEventIdRate: number
  /** Probability (0..1) that a request carries a timestamp older than 5 minutes. */
  staleTimestampRate: number
  /** Probability (0..1) that the body is altered after it was signed. */
  tamperedBodyRate: number
}

export interface SimulatorOptions {
  rateLimits: RateLimitOptions
  faults: FaultOptions
  search: SearchOptions
  webhookFaults: WebhookFaultOptions
  /** Lifetime of OAuth access tokens in seconds (HubSpot: 1800). */
  accessTokenLifetimeSeconds: number
  /** Host used in the `url` field of records (EU portals use app-eu1.hubspot.com). */
  appHost: string
  /** Maximum request URI length in characters, path and query (HubSpot: about 16,000). Longer gets 414. */
  maxUriLength: number
}

/** A partial update: each group may be given in part. */
export type SimulatorOptionsPatch = {
  [K in keyof SimulatorOptions]?: SimulatorOptions[K] extends object
    ? Partial<SimulatorOptions[K]>
    : SimulatorOptions[K]
}

const hubSpotRateLimits: RateLimitOptions = {
  enabled: true,
  searchPerSecond: 5,
  privateAppPer10Seconds: 190,
  oauthAppPer10Seconds: 110,
  dailyLimit: 625_000,
  retryAfterSeconds: null,
}

const noFaults: FaultOptions = {
  errorRate: 0,
  errorStatuses: [500, 502, 503, 504, 423],
  slowRate: 0,
  slowResponseMs: 0,
  dropRate: 0,
}

const noWebhookFaults: WebhookFaultOptions = {
  duplicateRate: 0,
  reorder: false,
  reusedEventIdRate: 0,
  staleTimestampRate: 0,
  tamperedBodyRate: 0,
}

/** Defaults for tests started in-process: HubSpot's limits, no lag, no random faults. */
export const testDefaults: SimulatorOptions = {
  rateLimits: hubSpotRateLimits,
  faults: noFaults,
  search: { indexLagMs: 0, tieOrder: 'seeded', outOfRangeRate: 0 },
  webhookFaults: noWebhookFaults,
  accessTokenLifetimeSeconds: 1800,
  appHost: 'app.hubspot.com',
  maxUriLength: defaultMaxUriLength,
}

/**
 * Defaults of the CLI: a few seconds of index lag, ties shuffled per request, a rare stray
 * search row and rare 5xx responses. NOTE: HubSpot publishes no bound for index lag or its
 * error rate, so 3 s and 0.2% are guesses.
 */
export const realisticDefaults: SimulatorOptions = {
  rateLimits: hubSpotRateLimits,
  faults: { ...noFaults, errorRate: 0.002, slowRate: 0.01, slowResponseMs: 1500 },
  search: { indexLagMs: 3000, tieOrder: 'random', outOfRangeRate: 0.01 },
  webhookFaults: { ...noWebhookFaults, duplicateRate: 0.005 },
  accessTokenLifetimeSeconds: 1800,
  appHost: 'app.hubspot.com',
  maxUriLength: defaultMaxUriLength,
}

/** Returns `base` with `patch` applied group by group; the inputs are not changed. */
export function mergeOptions(base: SimulatorOptions, patch: SimulatorOptionsPatch = {}): SimulatorOptions {
  const merged = structuredClone(base)
  for (const key of Object.keys(patch) as (keyof SimulatorOptions)[]) {
    const value = patch[key]
    if (value === undefined) continue
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      Object.assign(merged[key] as object, value)
    } else {
      ;(merged as unknown as Record<string, unknown>)[key] = value
    }
  }
  validateOptions(merged)
  return merged
}

function validateOptions(options: SimulatorOptions): void {
  const rates: [string, number][] = [
    ['faults.errorRate', options.faults.errorRate],
    ['faults.slowRate', options.faults.slowRate],
    ['faults.dropRate', options.faults.dropRate],
    ['search.outOfRangeRate', options.search.outOfRangeRate],
    ['webhookFaults.duplicateRate', options.webhookFaults.duplicateRate],
    ['webhookFaults.reusedEventIdRate', options.webhookFaults.reusedEventIdRate],
    ['webhookFaults.staleTimestampRate', options.webhookFaults.staleTimestampRate],
    ['webhookFaults.tamperedBodyRate', options.webhookFaults.tamperedBodyRate],
  ]
  for (const [name, rate] of rates) {
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${rate}`)
  }
  if (!['id', 'seeded', 'random'].includes(options.search.tieOrder)) {
    throw new RangeError(`search.tieOrder must be id, seeded or random, got ${options.search.tieOrder}`)
  }
  if (options.faults.errorStatuses.length === 0) throw new RangeError('faults.errorStatuses must not be empty')
  const uriLength = options.maxUriLength
  if (!(Number.isInteger(uriLength) && uriLength >= 1 && uriLength <= maxConfigurableUriLength)) {
    throw new RangeError(`maxUriLength must be an integer from 1 to ${maxConfigurableUriLength}, got ${uriLength}`)
  }
}
