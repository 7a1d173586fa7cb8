import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import type { Integration } from '../db/integrations.js'
import type { RunCounts, RunKind, RunTrigger } from '../db/syncRuns.js'
import type { ContactsApi } from '../hubspot/client.js'
import type { Logger } from '../logger.js'

export type { RunCounts, RunKind, RunTrigger }

/** Context of one run, passed to its kind runner. The runner machinery owns the lock, row and events. */
export interface RunContext {
  integration: Integration
  /** HubSpot client of the integration; its calls and rate-limit waits are counted for the run. */
  api: ContactsApi
  sql: Sql
  config: Config
  /** Child logger carrying integrationId, portalId and runId. */
  logger: Logger
  runId: number
  kind: RunKind
  trigger: RunTrigger
  /** Clock of the service (injectable in tests). */
  now(): Date
  /** Adds to the run's counts; they are saved with the run and shown as progress. */
  addCounts(counts: Partial<RunCounts>): void
  /** Counts one page read from HubSpot holding `contactsRead` contacts. */
  addPage(contactsRead?: number): void
  /** Names the step the run is in ('backfill', 'incremental', ...), shown as progress. */
  setPhase(phase: string): void
  /** Merges keys into the run's `details` jsonb (numbers are added, other values replace). */
  addDetails(details: Record<string, unknown>): void
  /** Sets the window the run reads, shown on the run row and in its completion event. */
  setWindow(start: Date | null, end: Date | null): void
  /** The counts added so far. */
  counts(): RunCounts
  /**
   * True once the service is stopping. A runner finishes the page in hand, saves its resume
   * point and returns; the run is then marked interrupted.
   */
  isStopping(): boolean
  /** Saves counts and pages to the run row and calls the progress listener. */
  reportProgress(): Promise<void>
}

/**
 * Runs one kind of reconciliation for one integration. Counts may be added through
 * `ctx.addCounts` while running. The resolved counts, when given, replace the fields they
 * name, so a runner can both report progress and return its totals. A runner that returns
 * while the service is stopping is recorded as interrupted, because it may have cut its
 * pass short.
 * Throwing an AppError fails the run with its code (HUBSPOT_DAILY_LIMIT ends it as
 * rate_limited).
 */
export type KindRunner = (ctx: RunContext) => Promise<Partial<RunCounts> | void>

/** Live progress of a run, for the command line and the progress listener. */
export interface RunProgress {
  runId: number
  integrationId: number
  portalId: number
  kind: RunKind
  /** 'backfill' or 'incremental' for contacts runs, the kind otherwise. */
  phase: string
  pages: number
  /** Contacts read from HubSpot in this run. */
  contactsRead: number
  counts: RunCounts
  hubspotCalls: number
  rateLimitWaits: number
  elapsedMs: number
}
