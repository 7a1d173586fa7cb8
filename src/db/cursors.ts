import type { Fragment } from 'postgres'

import type { Queryable } from './connection.js'

/** The only cursor type so far: the contacts poll of an integration. */
export const contactsCursor = 'contacts'

export type CursorPhase = 'backfill' | 'incremental'
export type CursorStatus = 'idle' | 'running' | 'failed' | 'rate_limited' | 'interrupted'

export interface SyncCursorRow {
  integration_id: number
  cursor_type: string
  phase: CursorPhase
  last_sync_at: Date | null
  window_start: Date | null
  window_end: Date | null
  cursor_value: string | null
  backfill_started_at: Date | null
  records_synced: number
  status: CursorStatus
  last_error: string | null
  updated_at: Date
}

/**
 * Progress of an integration's contacts runs. `lastSyncAt` is the end of the last fully read
 * window. `windowStart` and `windowEnd` are set while a window is being read, and
 * `cursorValue` is the resume point inside it: the last hs_object_id read, or the list
 * `after` during the backfill.
 */
export interface SyncCursor {
  integrationId: number
  cursorType: string
  phase: CursorPhase
  lastSyncAt: Date | null
  windowStart: Date | null
  windowEnd: Date | null
  cursorValue: string | null
  backfillStartedAt: Date | null
  recordsSynced: number
  status: CursorStatus
  lastError: string | null
  updatedAt: Date
}

export function toSyncCursor(row: SyncCursorRow): SyncCursor {
  return {
    integrationId: row.integration_id,
    cursorType: row.cursor_type,
    phase: row.phase,
    lastSyncAt: row.last_sync_at,
    windowStart: row.window_start,
    windowEnd: row.window_end,
    cursorValue: row.cursor_value,
    backfillStartedAt: row.backfill_started_at,
    recordsSynced: row.records_synced,
    status: row.status,
    lastError: row.last_error,
    updatedAt: row.updated_at,
  }
}

/** Builds the `where` condition that selects one cursor of an integration. */
function cursorCondition(
  sql: Queryable,
  integrationId: number,
  cursorType = contactsCursor,
): Fragment {
  return sql`
    integration_id = ${integrationId}
    and cursor_type = ${cursorType}
  `
}

export async function findCursor(
  sql: Queryable,
  integrationId: number,
  cursorType = contactsCursor,
): Promise<SyncCursor | null> {
  const [row] = await sql<SyncCursorRow[]>`
    select * from sync_cursors
    where ${cursorCondition(sql, integrationId, cursorType)}
  `
  return row ? toSyncCursor(row) : null
}

/** Returns the cursor, creating it in the backfill phase for an integration never synced. */
export async function ensureCursor(
  sql: Queryable,
  integrationId: number,
  cursorType = contactsCursor,
): Promise<SyncCursor> {
  await sql`
    insert into sync_cursors (integration_id, cursor_type)
    values (${integrationId}, ${cursorType})
    on conflict (integration_id, cursor_type) do nothing
  `
  const cursor = await findCursor(sql, integrationId, cursorType)
  return cursor as SyncCursor
}

/** Records when the backfill began, once; a resumed backfill keeps the first time. */
export async function markBackfillStarted(
  sql: Queryable,
  integrationId: number,
  startedAt: Date,
): Promise<Date> {
  const [row] = await sql<{ backfill_started_at: Date }[]>`
    update sync_cursors
    set backfill_started_at = coalesce(backfill_started_at, ${startedAt}),
        updated_at = now()
    where ${cursorCondition(sql, integrationId)}
    returning backfill_started_at
  `
  return row.backfill_started_at
}

/**
 * Saves where the contacts run resumes and adds the page's contacts to `records_synced`.
 * The resume point is the list `after` during the backfill, and the last hs_object_id read
 * in the window in progress after it.
 */
export async function savePageProgress(
  sql: Queryable,
  integrationId: number,
  cursorValue: string,
  contactsRead: number,
): Promise<void> {
  await sql`
    update sync_cursors
    set cursor_value = ${cursorValue},
        records_synced = records_synced + ${contactsRead},
        updated_at = now()
    where ${cursorCondition(sql, integrationId)}
  `
}

/** Ends the backfill: windows start from `lastSyncAt` from now on. */
export async function completeBackfill(
  sql: Queryable,
  integrationId: number,
  lastSyncAt: Date,
  contactsRead: number,
): Promise<void> {
  await sql`
    update sync_cursors
    set phase = 'incremental',
        last_sync_at = ${lastSyncAt},
        cursor_value = null,
        window_start = null,
        window_end = null,
        records_synced = records_synced + ${contactsRead},
        updated_at = now()
    where ${cursorCondition(sql, integrationId)}
  `
}

/** Records the window about to be read, so a crash resumes the same window. */
export async function openWindow(
  sql: Queryable,
  integrationId: number,
  windowStart: Date,
  windowEnd: Date,
): Promise<void> {
  await sql`
    update sync_cursors
    set window_start = ${windowStart},
        window_end = ${windowEnd},
        cursor_value = null,
        updated_at = now()
    where ${cursorCondition(sql, integrationId)}
  `
}

/** Marks the window in progress fully read: `last_sync_at` moves to its end. */
export async function closeWindow(
  sql: Queryable,
  integrationId: number,
  contactsRead: number,
): Promise<void> {
  await sql`
    update sync_cursors
    set last_sync_at = window_end,
        window_start = null,
        window_end = null,
        cursor_value = null,
        records_synced = records_synced + ${contactsRead},
        updated_at = now()
    where ${cursorCondition(sql, integrationId)}
      and window_end is not null
  `
}

export async function markCursorStatus(
  sql: Queryable,
  integrationId: number,
  status: CursorStatus,
  lastError: string | null,
): Promise<void> {
  await sql`
    update sync_cursors
    set status = ${status},
        last_error = ${lastError},
        updated_at = now()
    where ${cursorCondition(sql, integrationId)}
  `
}
