import type http from 'node:http'

import type { Client } from '@hubspot/api-client'

import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import type { Integration } from '../db/integrations.js'
import type { Logger } from '../logger.js'
import type { CallLoopDeps } from './callLoop.js'
import { stoppableClock, systemClock, type Clock } from './clock.js'
import type { BatchReadResult } from './contactPages.js'
import { HubSpotContactsApi } from './contactsApi.js'
import { hubspotErrors } from './hubspotErrors.js'
import { PortalRateLimiters } from './rateLimiter.js'
import type { BackoffOptions } from './retry.js'
import { AccessTokens } from './tokens.js'
import { createHubSpotAgent, createSdkClient } from './transport.js'
import type { ContactPage } from './types.js'

export interface ListContactsOptions {
  /** Opaque cursor from the previous page's `nextAfter`; null or absent starts at the first id. */
  after?: string | null
  /** Page size, at most 100 (default 100). */
  limit?: number
  /** True lists only archived contacts (default false). */
  archived?: boolean
  /** Properties to read (default syncedProperties). */
  properties?: readonly string[]
}

export interface SearchFilter {
  propertyName: string
  operator: string
  value?: string
  values?: string[]
  highValue?: string
}

/** The body of `POST /crm/v3/objects/contacts/search`, sent as given. */
export interface SearchRequest {
  filterGroups?: { filters: SearchFilter[] }[]
  /** One sort, in object form: HubSpot silently ignores sorts sent as strings. */
  sorts?: { propertyName: string; direction: 'ASCENDING' | 'DESCENDING' }[]
  /** Properties to read (default syncedProperties). */
  properties?: readonly string[]
  /** Page size, at most 200. */
  limit?: number
  after?: string | null
  query?: string
}

export interface BatchReadOptions {
  /** Properties to read (default syncedProperties). */
  properties?: readonly string[]
  /** True reads archived contacts only (default false). */
  archived?: boolean
}

/** Counters of one ContactsApi: HTTP calls sent, rate-limit waits and 429s by policy name. */
export interface ContactsApiStats {
  calls: number
  rateLimitWaits: number
  waitedMs: number
  rateLimited: Record<string, number>
}

/** Reads contacts of one integration's portal within the portal's budgets. */
export interface ContactsApi {
  listContacts(opts: ListContactsOptions): Promise<ContactPage>
  searchContacts(request: SearchRequest): Promise<ContactPage>
  /** Reads any number of ids, 100 per request. */
  batchReadContacts(ids: readonly string[], opts?: BatchReadOptions): Promise<BatchReadResult>
  readonly stats: ContactsApiStats
}

export interface HubSpotClientsDeps {
  config: Config
  sql: Sql
  encryptionKey: Buffer
  logger: Logger
  /** Time source for waits, backoff and token expiry (default: the system clock). */
  clock?: Clock
  /** Random source in [0, 1) for backoff jitter (default Math.random). */
  random?: () => number
  /** First backoff ceiling after a 5xx or network failure, doubled per attempt (default 500 ms). */
  retryBaseDelayMs?: number
  /** Largest backoff ceiling (default 30 s). */
  retryMaxDelayMs?: number
  /** 429 waits per call before HUBSPOT_RATE_LIMITED (default 20). */
  maxRateLimitWaits?: number
  /** Refresh an OAuth access token when less than this is left (default 5 minutes). */
  refreshAheadMs?: number
  /** Maximum list URL length in characters; longer property lists go through batch read (default 2000). */
  maxUrlLength?: number
}

export interface HubSpotClients {
  /** Returns a ContactsApi for the integration; its `stats` count only calls made through it. */
  forIntegration(integration: Integration): ContactsApi
  /**
   * Ends every rate-limit pause and retry wait at once and cuts the requests in flight. Calls
   * already running and calls made later fail with SHUTTING_DOWN, but a response that arrived
   * before is still returned, so a page in hand is kept. The service calls it at shutdown.
   */
  stop(): void
  close(): Promise<void>
}

const defaults = {
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  maxRateLimitWaits: 20,
  refreshAheadMs: 5 * 60_000,
  maxUrlLength: 2000,
}

/**
 * Creates the HubSpot clients of one process. Every ContactsApi of a portal shares that
 * portal's request budgets, and every integration's token cache, so the app should create one
 * factory and pass it to every part that calls HubSpot.
 */
export function createHubSpotClients(deps: HubSpotClientsDeps): HubSpotClients {
  const { config } = deps
  const stopping = new AbortController()
  const clock = stoppableClock(deps.clock ?? systemClock, stopping.signal)
  const agent = createHubSpotAgent(config.HUBSPOT_API_URL, config.HUBSPOT_TIMEOUT_MS)
  const backoff: BackoffOptions = {
    baseDelayMs: deps.retryBaseDelayMs ?? defaults.retryBaseDelayMs,
    maxDelayMs: deps.retryMaxDelayMs ?? defaults.retryMaxDelayMs,
    random: deps.random ?? Math.random,
  }
  const limiters = new PortalRateLimiters(clock)
  const tokens = new AccessTokens({
    config,
    sql: deps.sql,
    encryptionKey: deps.encryptionKey,
    logger: deps.logger,
    refreshAheadMs: deps.refreshAheadMs ?? defaults.refreshAheadMs,
    refresh: {
      apiUrl: config.HUBSPOT_API_URL,
      agent,
      clock,
      logger: deps.logger,
      maxAttempts: config.HUBSPOT_MAX_ATTEMPTS,
      backoff,
    },
  })

  return {
    forIntegration(integration) {
      const limiter = limiters.forPortal(integration.portalId, {
        searchPerSecond: config.HUBSPOT_SEARCH_REQUESTS_PER_SECOND,
        burstPer10Seconds: integration.burstPer10Seconds ?? config.HUBSPOT_BURST_PER_10_SECONDS,
      })
      const stats: ContactsApiStats = { calls: 0, rateLimitWaits: 0, waitedMs: 0, rateLimited: {} }
      const loop: CallLoopDeps = {
        integration,
        limiter,
        tokens,
        sdkClient: sdkClientCache(config.HUBSPOT_API_URL, agent),
        clock,
        logger: deps.logger.child({
          integrationId: integration.id,
          portalId: integration.portalId,
        }),
        stats,
        maxAttempts: config.HUBSPOT_MAX_ATTEMPTS,
        maxRateLimitWaits: deps.maxRateLimitWaits ?? defaults.maxRateLimitWaits,
        backoff,
        signal: stopping.signal,
      }
      return new HubSpotContactsApi(loop, {
        apiUrl: config.HUBSPOT_API_URL,
        maxUrlLength: deps.maxUrlLength ?? defaults.maxUrlLength,
      })
    },
    stop() {
      stopping.abort(hubspotErrors.stopped())
      // Destroying the sockets fails the requests in flight, and the call loop, finding the
      // signal aborted, ends them with SHUTTING_DOWN instead of retrying.
      agent.destroy()
    },
    async close() {
      agent.destroy()
    },
  }
}

/** Keeps the SDK client of the current token; a refreshed token gets a new client. */
function sdkClientCache(apiUrl: string, agent: http.Agent): (accessToken: string) => Client {
  let current: { accessToken: string; client: Client } | null = null
  return (accessToken) => {
    if (current?.accessToken !== accessToken) {
      current = { accessToken, client: createSdkClient(apiUrl, agent, accessToken) }
    }
    return current.client
  }
}
