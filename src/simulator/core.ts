import type { AuthRegistry } from './auth.js'
import type { SimulatorOptions, SimulatorOptionsPatch } from './options.js'
import type { RateLimiter } from './rateLimits.js'
import type { RenderContext } from './render.js'
import type { SearchEngine } from './search.js'
import type { ContactStore } from './store.js'
import type { WebhookSender } from './webhooks.js'

/** The parts of one simulated portal that the routes share. */
export interface SimulatorCore {
  store: ContactStore
  auth: AuthRegistry
  search: SearchEngine
  limiter: RateLimiter
  webhooks: WebhookSender
  portalId: number
  appId: number
  options(): SimulatorOptions
  setOptions(patch: SimulatorOptionsPatch): SimulatorOptions
  renderContext(): RenderContext
  nowMs(): number
  /** Base URL of the running server, e.g. http://127.0.0.1:4010. */
  baseUrl(): string
}

/** Counts of requests per endpoint and status, and of 429s per policy. */
export interface RequestCounts {
  total: number
  byEndpoint: Record<string, { total: number; byStatus: Record<string, number> }>
  rateLimited: { SECONDLY: number; TEN_SECONDLY_ROLLING: number; DAILY: number }
  /** Connections dropped on purpose by fault injection. */
  dropped: number
}

export class RequestCounter {
  private counts: Omit<RequestCounts, 'rateLimited'> = { total: 0, byEndpoint: {}, dropped: 0 }

  record(endpoint: string, status: number | 'dropped'): void {
    this.counts.total++
    const entry = (this.counts.byEndpoint[endpoint] ??= { total: 0, byStatus: {} })
    entry.total++
    entry.byStatus[String(status)] = (entry.byStatus[String(status)] ?? 0) + 1
    if (status === 'dropped') this.counts.dropped++
  }

  snapshot(rateLimited: RequestCounts['rateLimited']): RequestCounts {
    return { ...structuredClone(this.counts), rateLimited: { ...rateLimited } }
  }

  reset(): void {
    this.counts = { total: 0, byEndpoint: {}, dropped: 0 }
  }
}
