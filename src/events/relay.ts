import type { JetStreamClient } from '@nats-io/jetstream'

import type { Sql } from '../db/connection.js'
import {
  claimOutboxBatch,
  markOutboxFailed,
  markOutboxPublished,
  readOutboxStats,
  type OutboxRow,
} from '../db/outbox.js'
import type { Logger } from '../logger.js'
import { outboxDepth, outboxPublishLagSeconds } from '../metrics.js'
import { isNoStreamError, type NatsManager } from './nats.js'

export interface OutboxRelayOptions {
  sql: Sql
  nats: NatsManager
  logger: Logger
  /** Rows claimed and published together in one pass. Default 200. */
  batchSize?: number
  /** Time an idle relay sleeps before it polls again without a notification. Default 1000 ms. */
  idleDelayMs?: number
  /** Time one publish waits for its JetStream acknowledgement. Default 5000 ms. */
  publishTimeoutMs?: number
}

export interface OutboxRelay {
  /**
   * Publishes what is waiting now and returns how many events it published. With
   * `untilMs` (epoch ms) it starts no batch after that time and leaves the rest waiting.
   */
  flush(untilMs?: number): Promise<number>
  /** Finishes the batch in hand, then stops. */
  stop(): Promise<void>
  /**
   * Stops the relay's own loop, publishes what is waiting until `untilMs` (epoch ms) as
   * `flush` does, then stops, and returns how many events it published. A batch started
   * before `untilMs` runs to its end, which takes at most the publish timeout.
   */
  flushAndStop(untilMs: number): Promise<number>
}

interface PassResult {
  claimed: number
  published: number
  failed: number
}

const notifyChannel = 'outbox_inserted'
const depthRefreshMs = 1000
const errorLogIntervalMs = 60_000

/**
 * Starts the relay that moves outbox rows to NATS JetStream. Rows are claimed with
 * FOR UPDATE SKIP LOCKED inside a transaction, so several replicas share the outbox. Every
 * publish of a batch is in flight at once, and a row is marked published only after its
 * acknowledgement. The Nats-Msg-Id header is the event id, so a row published again after a
 * crash between the acknowledgement and the commit is dropped by JetStream, as long as the
 * stream's duplicate window (10 minutes by default) has not passed.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const relay = new OutboxRelayLoop(options)
  relay.start()
  return relay
}

class OutboxRelayLoop implements OutboxRelay {
  private readonly batchSize: number
  private readonly idleDelayMs: number
  private readonly publishTimeoutMs: number
  private stopping = false
  private wakeRequested = false
  private wake: (() => void) | null = null
  private passes: Promise<unknown> = Promise.resolve()
  private loop: Promise<void> = Promise.resolve()
  private unlisten: (() => Promise<void>) | null = null
  private depthRefreshedAt = 0
  private errorLoggedAt = 0

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 200
    this.idleDelayMs = options.idleDelayMs ?? 1000
    this.publishTimeoutMs = options.publishTimeoutMs ?? 5000
  }

  start(): void {
    void this.listen()
    this.loop = this.run()
  }

  async flush(untilMs = Infinity): Promise<number> {
    let total = 0
    while (this.options.nats.isConnected() && Date.now() < untilMs) {
      const result = await this.pass()
      total += result.published
      if (result.claimed < this.batchSize || result.published === 0) break
    }
    await this.refreshDepth(true)
    return total
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.wake?.()
    await this.loop
    await this.passes
    if (this.unlisten) await this.unlisten().catch(() => {})
  }

  async flushAndStop(untilMs: number): Promise<number> {
    // Without the loop stopped first, it would start batches of its own between the flush's.
    this.stopping = true
    this.wake?.()
    const published = await this.flush(untilMs)
    await this.stop()
    return published
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const result = await this.safePass()
      await this.refreshDepth(false)
      if (this.stopping) break
      // A full batch published cleanly means more may be waiting: go again at once.
      if (result.claimed === this.batchSize && result.failed === 0) continue
      await this.sleep(this.idleDelayMs)
    }
  }

  private async safePass(): Promise<PassResult> {
    if (!this.options.nats.isConnected()) return { claimed: 0, published: 0, failed: 0 }
    try {
      return await this.pass()
    } catch (error) {
      this.logThrottled(error)
      return { claimed: 0, published: 0, failed: 1 }
    }
  }

  /** Runs one pass after any pass in progress, so flush() and the loop never overlap. */
  private pass(): Promise<PassResult> {
    const next = this.passes.then(() => this.publishBatch())
    this.passes = next.catch(() => {})
    return next
  }

  private async publishBatch(): Promise<PassResult> {
    const js = this.options.nats.jetstream()
    if (!js) return { claimed: 0, published: 0, failed: 0 }

    const { result, lagsSeconds, streamMissing } = await this.options.sql.begin(async (tx) => {
      const rows = await claimOutboxBatch(tx, this.batchSize)
      if (rows.length === 0) {
        return { result: { claimed: 0, published: 0, failed: 0 }, lagsSeconds: [], streamMissing: false }
      }

      const settled = await Promise.allSettled(rows.map((row) => this.publishRow(js, row)))
      const published = rows.filter((_, index) => settled[index].status === 'fulfilled')
      await markOutboxPublished(tx, published.map((row) => row.id))
      const failed = await this.markFailures(tx, rows, settled)

      // Measured from the outbox insert, not the CloudEvents time, which a caller may set
      // to when the change happened rather than when it was queued.
      const now = Date.now()
      const lags = published.map((row) => Math.max(0, now - row.created_at.getTime()) / 1000)
      const missing = settled.some((outcome) => outcome.status === 'rejected' && isNoStreamError(outcome.reason))
      const counts = { claimed: rows.length, published: published.length, failed }
      return { result: counts, lagsSeconds: lags, streamMissing: missing }
    })
    for (const lag of lagsSeconds) outboxPublishLagSeconds.observe(lag)
    if (streamMissing) await this.redeclareStreams()
    return result
  }

  /**
   * Declares the streams again after a publish found none for its subject, as happens when
   * an operator deletes a stream while the service stays connected. The failed rows are
   * published on the next pass.
   */
  private async redeclareStreams(): Promise<void> {
    try {
      await this.options.nats.ensureStreams()
      this.options.logger.warn('a JetStream stream was missing; streams declared again')
    } catch (error) {
      this.logThrottled(error)
    }
  }

  private publishRow(js: JetStreamClient, row: OutboxRow) {
    return js.publish(this.options.nats.subject(row.subject), JSON.stringify(row.payload), {
      msgID: row.event_id,
      timeout: this.publishTimeoutMs,
    })
  }

  /** Records each failure reason once for its rows, which are retried on a later pass. */
  private async markFailures(
    tx: Parameters<typeof markOutboxFailed>[0],
    rows: OutboxRow[],
    settled: PromiseSettledResult<unknown>[],
  ): Promise<number> {
    const idsByReason = new Map<string, number[]>()
    settled.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') return
      const reason = errorReason(outcome.reason)
      idsByReason.set(reason, [...(idsByReason.get(reason) ?? []), rows[index].id])
    })
    let failed = 0
    for (const [reason, ids] of idsByReason) {
      await markOutboxFailed(tx, ids, reason)
      failed += ids.length
      this.options.logger.warn({ events: ids.length, reason }, 'outbox events not published; retrying later')
    }
    return failed
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested || this.stopping) {
      this.wakeRequested = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake = null
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.wake = done
    })
  }

  private onNotification(): void {
    if (this.wake) this.wake()
    else this.wakeRequested = true
  }

  /** Listens for outbox inserts so the relay wakes at once. When LISTEN is unavailable the relay still polls. */
  private async listen(): Promise<void> {
    try {
      const listener = await this.options.sql.listen(notifyChannel, () => this.onNotification())
      if (this.stopping) await listener.unlisten()
      else this.unlisten = () => listener.unlisten()
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox LISTEN failed; relay polls instead')
    }
  }

  private async refreshDepth(force: boolean): Promise<void> {
    if (!force && Date.now() - this.depthRefreshedAt < depthRefreshMs) return
    this.depthRefreshedAt = Date.now()
    try {
      const stats = await readOutboxStats(this.options.sql)
      outboxDepth.set(stats.depth)
    } catch (error) {
      this.logThrottled(error)
    }
  }

  /**
   * Logs a failed pass, depth refresh or stream declaration at most once a minute. Failures
   * within a minute of the last logged one are not logged.
   */
  private logThrottled(error: unknown): void {
    if (Date.now() - this.errorLoggedAt < errorLogIntervalMs) return
    this.errorLoggedAt = Date.now()
    this.options.logger.error({ err: error }, 'outbox relay pass failed; retrying')
  }
}

function errorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message
}
