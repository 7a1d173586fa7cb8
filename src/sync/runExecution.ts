import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import { markCursorStatus, type CursorStatus } from '../db/cursors.js'
import type { Integration } from '../db/integrations.js'
import { insertOutboxEvents } from '../db/outbox.js'
import {
  countNames,
  emptyCounts,
  findRun,
  finishRun,
  updateRunProgress,
  type RunCounts,
  type RunStatus,
  type SyncRun,
} from '../db/syncRuns.js'
import { AppError, ErrorCode, isAppError } from '../errors.js'
import { buildRunFinishedEvent } from '../events/syncEvents.js'
import type { ContactsApi } from '../hubspot/client.js'
import type { Logger } from '../logger.js'
import { syncRuns } from '../metrics.js'
import type { KindRunner, RunContext, RunProgress } from './runTypes.js'

/** Saving live counters to the run row more often than this would only add writes. */
const progressWriteIntervalMs = 1000

export interface RunExecutionDeps {
  config: Config
  sql: Sql
  logger: Logger
  integration: Integration
  api: ContactsApi
  run: SyncRun
  runner: KindRunner
  now: () => Date
  isStopping: () => boolean
  onProgress?: (progress: RunProgress) => void
}

interface RunOutcome {
  status: Exclude<RunStatus, 'running'>
  errorCode: string | null
  error: string | null
  err?: unknown
}

/**
 * One run in progress: the counters a kind runner adds to, and the finish that writes the
 * run row, the cursor status and the completion event in one transaction.
 */
export class RunExecution {
  readonly context: RunContext
  private readonly counts: RunCounts = emptyCounts()
  private readonly details: Record<string, unknown> = {}
  private pages = 0
  private contactsRead = 0
  private windowStart: Date | null = null
  private windowEnd: Date | null = null
  private phase: string
  private lastProgressWriteMs = 0
  private readonly startedAtMs = Date.now()
  private readonly callsAtStart: number
  private readonly waitsAtStart: number

  constructor(private readonly deps: RunExecutionDeps) {
    this.callsAtStart = deps.api.stats.calls
    this.waitsAtStart = deps.api.stats.rateLimitWaits
    this.phase = deps.run.kind
    this.context = this.buildContext()
  }

  get runId(): number {
    return this.deps.run.id
  }

  /** Runs the kind runner to its end and finishes the run; never rejects for a run failure. */
  async execute(): Promise<SyncRun> {
    let outcome: RunOutcome
    try {
      const returned = await this.deps.runner(this.context)
      if (returned) Object.assign(this.counts, pickCounts(returned))
      outcome = this.returnedOutcome()
    } catch (error) {
      outcome = classifyFailure(error, this.deps.integration)
    }
    return this.finish(outcome)
  }

  /**
   * Returns the outcome of a runner that returned. Archived and drift runners return early
   * when the service stops, so a return during a stop may be a cut-short pass. The contacts
   * runner throws SYNC_INTERRUPTED instead and returns only when it is done.
   */
  private returnedOutcome(): RunOutcome {
    if (this.deps.run.kind !== 'contacts' && this.deps.isStopping()) {
      const error = runInterrupted()
      return { status: 'interrupted', errorCode: error.code, error: error.message }
    }
    return { status: 'succeeded', errorCode: null, error: null }
  }

  /** Returns the run with its current counters, for a caller that finds it in progress. */
  snapshot(): SyncRun {
    return { ...this.deps.run, ...this.progressFields(), counts: { ...this.counts } }
  }

  private buildContext(): RunContext {
    const { deps } = this
    return {
      integration: deps.integration,
      api: deps.api,
      sql: deps.sql,
      config: deps.config,
      logger: deps.logger,
      runId: deps.run.id,
      kind: deps.run.kind,
      trigger: deps.run.trigger,
      now: deps.now,
      addCounts: (counts) => addCounts(this.counts, counts),
      addPage: (contactsRead = 0) => {
        this.pages++
        this.contactsRead += contactsRead
      },
      setPhase: (phase) => {
        this.phase = phase
      },
      addDetails: (details) => mergeDetails(this.details, details),
      setWindow: (start, end) => {
        this.windowStart = start
        this.windowEnd = end
      },
      counts: () => ({ ...this.counts }),
      isStopping: deps.isStopping,
      reportProgress: () => this.reportProgress(),
    }
  }

  private async reportProgress(): Promise<void> {
    this.deps.onProgress?.(this.progress())
    const nowMs = Date.now()
    if (nowMs - this.lastProgressWriteMs < progressWriteIntervalMs) return

    this.lastProgressWriteMs = nowMs
    await updateRunProgress(this.deps.sql, this.deps.run.id, {
      ...this.progressFields(),
      counts: this.counts,
    })
  }

  private progress(): RunProgress {
    const { integration, run } = this.deps
    const fields = this.progressFields()
    return {
      runId: run.id,
      integrationId: integration.id,
      portalId: integration.portalId,
      kind: run.kind,
      phase: this.phase,
      pages: this.pages,
      contactsRead: this.contactsRead,
      counts: { ...this.counts },
      hubspotCalls: fields.hubspotCalls,
      rateLimitWaits: fields.rateLimitWaits,
      elapsedMs: Date.now() - this.startedAtMs,
    }
  }

  private progressFields() {
    const stats = this.deps.api.stats
    return {
      pages: this.pages,
      hubspotCalls: stats.calls - this.callsAtStart,
      rateLimitWaits: stats.rateLimitWaits - this.waitsAtStart,
      windowStart: this.windowStart,
      windowEnd: this.windowEnd,
      details: { ...this.details, contactsRead: this.contactsRead },
    }
  }

  private async finish(outcome: RunOutcome): Promise<SyncRun> {
    const { sql, integration, run } = this.deps
    const finish = { ...this.progressFields(), counts: this.counts, ...outcome }

    const finished = await sql.begin(async (tx) => {
      const row = await finishRun(tx, run.id, finish)
      if (!row) return null
      await insertOutboxEvents(tx, [buildRunFinishedEvent(row, integration)])
      if (run.kind === 'contacts') {
        await markCursorStatus(tx, integration.id, cursorStatusOf(outcome.status), outcome.error)
      }
      return row
    })
    const result = finished ?? (await findRun(sql, run.id)) ?? run

    syncRuns.inc({ kind: run.kind, trigger: run.trigger, outcome: result.status })
    this.logFinished(result, outcome.err)
    return result
  }

  private logFinished(run: SyncRun, err: unknown): void {
    const fields = {
      status: run.status,
      kind: run.kind,
      trigger: run.trigger,
      ...run.counts,
      pages: run.pages,
      contactsRead: this.contactsRead,
      hubspotCalls: run.hubspotCalls,
      rateLimitWaits: run.rateLimitWaits,
      durationMs: Date.now() - this.startedAtMs,
      errorCode: run.errorCode ?? undefined,
    }
    const { logger } = this.deps
    if (run.status === 'failed') logger.error({ ...fields, err }, 'sync run finished')
    else if (run.status === 'rate_limited') logger.warn(fields, 'sync run finished')
    else logger.info(fields, 'sync run finished')
  }
}

/** Creates the error a runner throws when the service stops between two pages. */
export function runInterrupted(): AppError {
  return new AppError(
    ErrorCode.SYNC_INTERRUPTED,
    'The service stopped during the run; the next run resumes from the saved cursor',
    { statusCode: 503 },
  )
}

/** Maps what a runner threw to the run's final status, code and reason. */
export function classifyFailure(error: unknown, integration: Integration): RunOutcome {
  if (isAppError(error, ErrorCode.SYNC_INTERRUPTED)) {
    return { status: 'interrupted', errorCode: error.code, error: error.message }
  }
  // The HubSpot clients cut the call in flight at shutdown.
  if (isAppError(error, ErrorCode.SHUTTING_DOWN)) {
    const interrupted = runInterrupted()
    return { status: 'interrupted', errorCode: interrupted.code, error: interrupted.message }
  }
  if (isAppError(error, ErrorCode.HUBSPOT_DAILY_LIMIT)) {
    return { status: 'rate_limited', errorCode: error.code, error: error.message }
  }
  if (isAppError(error, ErrorCode.HUBSPOT_REAUTH_REQUIRED)) {
    return { status: 'failed', errorCode: error.code, error: reauthReason(integration), err: error }
  }
  if (isAppError(error)) {
    return { status: 'failed', errorCode: error.code, error: error.message, err: error }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { status: 'failed', errorCode: ErrorCode.INTERNAL, error: message, err: error }
}

export function reauthReason(integration: Pick<Integration, 'id' | 'portalId'>): string {
  return (
    `Integration ${integration.id} needs re-authorisation: HubSpot rejected its OAuth grant. ` +
    `Re-authorise the app for portal ${integration.portalId} and store the new tokens, then run again`
  )
}

/** Returns the error code and reason of a run for an integration that is not active. */
export function inactiveReason(integration: Integration): { errorCode: string; error: string } {
  if (integration.status === 'needs_reauth') {
    return { errorCode: ErrorCode.HUBSPOT_REAUTH_REQUIRED, error: reauthReason(integration) }
  }
  return {
    errorCode: ErrorCode.INTEGRATION_PAUSED,
    error: `Integration ${integration.id} is paused; set its status to active to sync it`,
  }
}

function cursorStatusOf(status: Exclude<RunStatus, 'running'>): CursorStatus {
  return status === 'succeeded' ? 'idle' : status
}

function addCounts(target: RunCounts, counts: Partial<RunCounts>): void {
  for (const name of countNames) target[name] += counts[name] ?? 0
}

function pickCounts(counts: Partial<RunCounts>): Partial<RunCounts> {
  const picked: Partial<RunCounts> = {}
  for (const name of countNames) if (typeof counts[name] === 'number') picked[name] = counts[name]
  return picked
}

function mergeDetails(target: Record<string, unknown>, details: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(details)) {
    const current = target[key]
    const isSum = typeof current === 'number' && typeof value === 'number'
    target[key] = isSum ? current + value : value
  }
}
