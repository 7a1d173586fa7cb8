import type { Queryable } from './connection.js'

export type RunKind = 'contacts' | 'archived' | 'drift'
export type RunTrigger = 'schedule' | 'manual' | 'cli'
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'rate_limited' | 'interrupted'

/** Names of a run's lead outcome counts, which are also the `sync_runs` count columns. */
export const countNames = ['created', 'updated', 'unchanged', 'skipped', 'deleted', 'failed'] as const

export type CountName = (typeof countNames)[number]

/** Lead outcomes of a run, as stored in the `sync_runs` count columns. */
export type RunCounts = Record<CountName, number>

export function emptyCounts(): RunCounts {
  return Object.fromEntries(countNames.map((name) => [name, 0])) as RunCounts
}

/** Copies the counts out of a row or any other object that has them. */
function pickCounts(source: RunCounts): RunCounts {
  const entries = countNames.map((name) => [name, source[name]])
  return Object.fromEntries(entries) as RunCounts
}

export interface SyncRunRow extends RunCounts {
  id: number
  integration_id: number
  kind: RunKind
  trigger: RunTrigger
  status: RunStatus
  started_at: Date
  finished_at: Date | null
  window_start: Date | null
  window_end: Date | null
  pages: number
  hubspot_calls: number
  rate_limit_waits: number
  details: Record<string, unknown>
  error_code: string | null
  error: string | null
}

/** One reconciliation run, as routes, events and the command line see it. */
export interface SyncRun {
  id: number
  integrationId: number
  kind: RunKind
  trigger: RunTrigger
  status: RunStatus
  startedAt: Date
  finishedAt: Date | null
  windowStart: Date | null
  windowEnd: Date | null
  pages: number
  hubspotCalls: number
  rateLimitWaits: number
  counts: RunCounts
  details: Record<string, unknown>
  errorCode: string | null
  error: string | null
}

export function toSyncRun(row: SyncRunRow): SyncRun {
  return {
    id: row.id,
    integrationId: row.integration_id,
    kind: row.kind,
    trigger: row.trigger,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    windowStart: row.window_start,
    windowEnd: row.window_end,
    pages: row.pages,
    hubspotCalls: row.hubspot_calls,
    rateLimitWaits: row.rate_limit_waits,
    counts: pickCounts(row),
    details: row.details,
    errorCode: row.error_code,
    error: row.error,
  }
}

/**
 * Inserts a running run. It fails with SQLSTATE 23505 on `sync_runs_one_running` while a run
 * of the same kind is marked running, so callers take the run lock and clear stale rows first.
 */
export async function insertRunningRun(
  sql: Queryable,
  integrationId: number,
  kind: RunKind,
  trigger: RunTrigger,
): Promise<SyncRun> {
  const [row] = await sql<SyncRunRow[]>`
    insert into sync_runs (integration_id, kind, trigger)
    values (${integrationId}, ${kind}, ${trigger})
    returning *
  `
  return toSyncRun(row)
}

export interface FailedRunInput {
  integrationId: number
  kind: RunKind
  trigger: RunTrigger
  errorCode: string
  error: string
}

/** Inserts a run that failed before it started, such as one for a paused integration. */
export async function insertFailedRun(sql: Queryable, input: FailedRunInput): Promise<SyncRun> {
  const [row] = await sql<SyncRunRow[]>`
    insert into sync_runs (
      integration_id, kind, trigger, status, finished_at, error_code, error
    ) values (
      ${input.integrationId}, ${input.kind}, ${input.trigger}, 'failed', now(),
      ${input.errorCode}, ${input.error}
    )
    returning *
  `
  return toSyncRun(row)
}

export async function findRun(sql: Queryable, runId: number): Promise<SyncRun | null> {
  const [row] = await sql<SyncRunRow[]>`
    select * from sync_runs where id = ${runId}
  `
  return row ? toSyncRun(row) : null
}

export async function findRunningRun(
  sql: Queryable,
  integrationId: number,
  kind: RunKind,
): Promise<SyncRun | null> {
  const [row] = await sql<SyncRunRow[]>`
    select * from sync_runs
    where integration_id = ${integrationId}
      and kind = ${kind}
      and status = 'running'
  `
  return row ? toSyncRun(row) : null
}

export async function listRuns(
  sql: Queryable,
  integrationId: number,
  limit: number,
): Promise<SyncRun[]> {
  const rows = await sql<SyncRunRow[]>`
    select * from sync_runs
    where integration_id = ${integrationId}
    order by id desc
    limit ${limit}
  `
  return rows.map(toSyncRun)
}

/**
 * Marks runs left `running` by a process that died as interrupted. Only call it while holding
 * the run lock: then no live process can own such a row.
 */
export async function markStaleRunsInterrupted(
  sql: Queryable,
  integrationId: number,
  kind: RunKind,
): Promise<SyncRun[]> {
  const rows = await sql<SyncRunRow[]>`
    update sync_runs
    set status = 'interrupted',
        finished_at = now(),
        error_code = 'SYNC_INTERRUPTED',
        error = 'The process running this run stopped before it finished; the next run resumes from the cursor'
    where integration_id = ${integrationId}
      and kind = ${kind}
      and status = 'running'
    returning *
  `
  return rows.map(toSyncRun)
}

export interface RunProgressUpdate {
  pages: number
  hubspotCalls: number
  rateLimitWaits: number
  counts: RunCounts
  windowStart: Date | null
  windowEnd: Date | null
  details: Record<string, unknown>
}

/** Saves the counters of a run in progress, so `GET /sync-runs/:id` shows live numbers. */
export async function updateRunProgress(
  sql: Queryable,
  runId: number,
  progress: RunProgressUpdate,
): Promise<void> {
  await sql`
    update sync_runs set ${sql(progressColumns(sql, progress))}
    where id = ${runId}
  `
}

export interface RunFinish extends RunProgressUpdate {
  status: Exclude<RunStatus, 'running'>
  errorCode: string | null
  error: string | null
}

/** Finishes a run; returns null when the row was no longer running (already finished). */
export async function finishRun(
  sql: Queryable,
  runId: number,
  finish: RunFinish,
): Promise<SyncRun | null> {
  const columns = {
    ...progressColumns(sql, finish),
    status: finish.status,
    error_code: finish.errorCode,
    error: finish.error,
  }
  const [row] = await sql<SyncRunRow[]>`
    update sync_runs set ${sql(columns)}, finished_at = now()
    where id = ${runId}
      and status = 'running'
    returning *
  `
  return row ? toSyncRun(row) : null
}

function progressColumns(sql: Queryable, progress: RunProgressUpdate): Record<string, unknown> {
  return {
    pages: progress.pages,
    hubspot_calls: progress.hubspotCalls,
    rate_limit_waits: progress.rateLimitWaits,
    window_start: progress.windowStart,
    window_end: progress.windowEnd,
    details: sql.json(progress.details as never),
    ...progress.counts,
  }
}
