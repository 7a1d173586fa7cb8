import { setTimeout as delay } from 'node:timers/promises'

import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import { findIntegrationByPortal } from '../db/integrations.js'
import {
  claimWebhookEvents,
  inboxChannel,
  markWebhookEventsDone,
  markWebhookEventsIgnored,
  markWebhookEventsRetry,
  readInboxStats,
  type RetryPolicy,
  type WebhookEventRow,
} from '../db/webhookEvents.js'
import { isAppError } from '../errors.js'
import type { HubSpotClients } from '../hubspot/client.js'
import type { Logger } from '../logger.js'
import { inboxDepth, inboxOldestAgeSeconds } from '../metrics.js'
import { applyPortalPlan } from './inboxApply.js'
import { planBatch, type PortalPlan } from './inboxPlan.js'

export interface InboxWorkerOptions {
  sql: Sql
  clients: HubSpotClients
  logger: Logger
  config: Config
  /** Events claimed per batch (plus the other due events of the same contacts); default 500. */
  batchSize?: number
  /** Fallback poll when no notification arrives; default 1000 ms. */
  pollIntervalMs?: number
  /** Wake on the receiver's NOTIFY; default true. */
  listen?: boolean
  /**
   * Pause after waking before claiming, so deliveries that arrive together share one
   * batch read; default 150 ms. HubSpot's burst budget is 100 to 190 calls per 10 s per
   * portal, and one read per delivery would spend it at 10 deliveries a second. Below the
   * receiver's 50 ms notification gap, an event can wait for the next poll.
   */
  gatherDelayMs?: number
  /** How long a claim keeps other replicas off an event; default 120000 ms. */
  leaseMs?: number
  /** First retry delay, doubled per attempt; default 10000 ms. */
  retryBaseDelayMs?: number
  /** Maximum retry delay; default 3600000 ms (1 hour). */
  retryMaxDelayMs?: number
}

export interface InboxWorker {
  /** Processes due events until none is left; returns how many events it processed. */
  drain(): Promise<number>
  /** Finishes the batch in hand and stops. */
  stop(): Promise<void>
}

/**
 * Starts the webhook inbox worker: it wakes on the receiver's notification (and polls as
 * a fallback), claims due events with `FOR UPDATE SKIP LOCKED` so replicas share the inbox,
 * and applies them per integration. A failed group is retried with exponential backoff and
 * ends `failed`, with its reason, after WEBHOOK_MAX_ATTEMPTS claims.
 */
export function startInboxWorker(options: InboxWorkerOptions): InboxWorker {
  const worker = new Worker(options)
  worker.start()
  return { drain: () => worker.drain(), stop: () => worker.stop() }
}

class Worker {
  private stopping = false
  private chain: Promise<unknown> = Promise.resolve()
  private wakeUp: (() => void) | null = null
  /** A notification that came while no sleep was waiting for it. */
  private notified = false
  private loop: Promise<void> | null = null
  private unlisten: (() => Promise<void>) | null = null
  private statsReadAtMs = 0
  private readonly retry: RetryPolicy
  private readonly logger: Logger

  constructor(private readonly options: InboxWorkerOptions) {
    this.logger = options.logger.child({ component: 'inbox' })
    this.retry = {
      maxAttempts: options.config.WEBHOOK_MAX_ATTEMPTS,
      baseDelayMs: options.retryBaseDelayMs ?? 10_000,
      maxDelayMs: options.retryMaxDelayMs ?? 3_600_000,
    }
  }

  start(): void {
    if (this.options.listen !== false) void this.listen()
    this.loop = this.run()
  }

  async drain(): Promise<number> {
    let total = 0
    for (;;) {
      const processed = await this.serialized(() => this.processBatch())
      total += processed
      if (processed === 0) return total
    }
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.wakeUp?.()
    await this.loop
    await this.chain.catch(() => {})
    await this.unlisten?.().catch(() => {})
  }

  private async listen(): Promise<void> {
    try {
      const subscription = await this.options.sql.listen(inboxChannel, () => this.onNotify())
      this.unlisten = () => subscription.unlisten()
      if (this.stopping) await this.unlisten()
    } catch (error) {
      this.logger.warn({ err: error }, 'inbox notifications unavailable; polling only')
    }
  }

  private onNotify(): void {
    if (this.wakeUp) this.wakeUp()
    else this.notified = true
  }

  private async run(): Promise<void> {
    const pollIntervalMs = this.options.pollIntervalMs ?? 1_000
    const batchSize = this.options.batchSize ?? 500
    while (!this.stopping) {
      let processed = 0
      try {
        processed = await this.serialized(() => this.processBatch())
        await this.refreshGauges()
      } catch (error) {
        this.logger.warn({ err: error }, 'inbox batch failed; retrying after the poll interval')
      }
      // A full batch means a backlog: claim the next one at once.
      if (processed >= batchSize || this.stopping) continue
      await this.sleep(pollIntervalMs)
      if (!this.stopping) await delay(this.options.gatherDelayMs ?? 150)
    }
  }

  /** Runs one batch at a time per worker, whether the loop or `drain` requests it. */
  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work)
    this.chain = next.catch(() => {})
    return next
  }

  private sleep(ms: number): Promise<void> {
    if (this.notified) {
      this.notified = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        self.wakeUp = null
        resolve()
      }
      this.wakeUp = done
    })
  }

  private async processBatch(): Promise<number> {
    const { sql } = this.options
    const rows = await claimWebhookEvents(sql, this.options.batchSize ?? 500, this.options.leaseMs ?? 120_000)
    if (rows.length === 0) return 0

    const plan = planBatch(rows)
    for (const { id, reason } of plan.ignored) await markWebhookEventsIgnored(sql, [id], reason)
    await Promise.all(plan.byPortal.map((group) => this.processGroup(group, rows)))
    return rows.length
  }

  private async processGroup(plan: PortalPlan, rows: WebhookEventRow[]): Promise<void> {
    const { sql, clients } = this.options
    const log = this.logger.child({ portalId: plan.portalId })
    try {
      const integration = await findIntegrationByPortal(sql, plan.portalId)
      if (!integration) {
        await markWebhookEventsIgnored(sql, plan.eventIds, 'integration removed')
        return
      }
      const applied = await applyPortalPlan(sql, clients, integration, plan)
      await markWebhookEventsDone(sql, plan.eventIds, integration.id)
      log.info(
        {
          integrationId: integration.id,
          events: plan.eventIds.length,
          purged: applied.purged + applied.refresh.purgedAsErased,
          deleted: applied.deleted + applied.refresh.deletedAsMissing,
          restored: applied.restored,
          read: applied.refresh.read,
          created: applied.refresh.imported?.created ?? 0,
          updated: applied.refresh.imported?.updated ?? 0,
          merged: applied.refresh.imported?.merged ?? 0,
        },
        'webhook events applied',
      )
    } catch (error) {
      await this.scheduleRetry(plan, rows, error, log)
    }
  }

  private async scheduleRetry(
    plan: PortalPlan,
    rows: WebhookEventRow[],
    error: unknown,
    log: Logger,
  ): Promise<void> {
    const reason = describeFailure(error)
    await markWebhookEventsRetry(this.options.sql, plan.eventIds, reason, this.retry)
    const ids = new Set(plan.eventIds)
    const attempts = Math.max(...rows.filter((row) => ids.has(row.id)).map((row) => row.attempts))
    const finalAttempt = attempts >= this.retry.maxAttempts
    const fields = { err: error, events: plan.eventIds.length, attempts, reason }
    if (finalAttempt) log.error(fields, 'webhook events failed for good')
    else log.warn(fields, 'webhook events failed; retry scheduled')
  }

  private async refreshGauges(): Promise<void> {
    if (Date.now() - this.statsReadAtMs < 1_000) return
    this.statsReadAtMs = Date.now()
    const stats = await readInboxStats(this.options.sql)
    inboxDepth.set(stats.depth)
    inboxOldestAgeSeconds.set(stats.oldestAgeSeconds)
  }
}

/** Builds the stored reason of a failure: the error code, when there is one, and the message. */
function describeFailure(error: unknown): string {
  if (isAppError(error)) return `${error.code}: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}
