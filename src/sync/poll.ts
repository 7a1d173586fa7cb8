import type { TransactionSql } from '../db/connection.js'
import {
  closeWindow,
  ensureCursor,
  findCursor,
  markCursorStatus,
  openWindow,
  savePageProgress,
  type SyncCursor,
} from '../db/cursors.js'
import type { SearchRequest } from '../hubspot/client.js'
import { syncedProperties, type ContactPage, type HubSpotContact } from '../hubspot/types.js'
import { addImportResult, runBackfill } from './backfill.js'
import { runInterrupted } from './runExecution.js'
import { importContacts } from './import.js'
import type { RunContext } from './runTypes.js'

export interface Window {
  start: Date
  end: Date
}

/**
 * Runs a contacts sync: the backfill while the cursor is in that phase, then the window in
 * progress (after a crash or a stop), then one new window up to now minus the settle delay.
 */
export async function runContacts(ctx: RunContext): Promise<void> {
  let cursor = await ensureCursor(ctx.sql, ctx.integration.id)
  await markCursorStatus(ctx.sql, ctx.integration.id, 'running', null)

  if (cursor.phase === 'backfill') {
    await runBackfill(ctx, cursor)
    cursor = (await findCursor(ctx.sql, ctx.integration.id)) as SyncCursor
  }
  ctx.setPhase('incremental')

  if (cursor.windowStart && cursor.windowEnd) {
    const window = { start: cursor.windowStart, end: cursor.windowEnd }
    await readWindow(ctx, window, cursor.cursorValue ?? '0')
    cursor = (await findCursor(ctx.sql, ctx.integration.id)) as SyncCursor
  }

  if (ctx.isStopping()) throw runInterrupted()
  const window = nextWindow(cursor, ctx.now(), ctx.config)
  if (!window) return
  await openWindow(ctx.sql, ctx.integration.id, window.start, window.end)
  await readWindow(ctx, window, '0')
}

/**
 * Returns the next window to read, [last_sync_at - overlap, now - settle), or null when it
 * would be empty. The overlap re-reads writes that reached the search index late. The settle
 * delay leaves the newest writes to a later window, by when the index has them.
 */
export function nextWindow(
  cursor: Pick<SyncCursor, 'lastSyncAt'>,
  now: Date,
  config: { POLL_OVERLAP_SECONDS: number; POLL_SETTLE_SECONDS: number },
): Window | null {
  const lastSyncMs = cursor.lastSyncAt?.getTime() ?? 0
  const startMs = Math.max(0, lastSyncMs - config.POLL_OVERLAP_SECONDS * 1000)
  const endMs = now.getTime() - config.POLL_SETTLE_SECONDS * 1000
  if (endMs <= startMs) return null
  return { start: new Date(startMs), end: new Date(endMs) }
}

/**
 * Builds the search body of one window page. It pages by `hs_object_id GT lastId`, never by
 * `after`, because search stops at 10,000 results per query and a bulk update can stamp more
 * contacts than that with one lastmodifieddate. Contacts filter on `lastmodifieddate` with
 * epoch-ms strings, because `hs_lastmodifieddate` gives wrong or empty results for contacts.
 */
export function buildWindowSearch(
  window: Window,
  lastContactId: string,
  pageSize: number,
): SearchRequest {
  return {
    filterGroups: [
      {
        filters: [
          { propertyName: 'lastmodifieddate', operator: 'GTE', value: String(window.start.getTime()) },
          { propertyName: 'lastmodifieddate', operator: 'LT', value: String(window.end.getTime()) },
          { propertyName: 'hs_object_id', operator: 'GT', value: lastContactId },
        ],
      },
    ],
    sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
    properties: syncedProperties,
    limit: pageSize,
  }
}

async function readWindow(ctx: RunContext, window: Window, fromContactId: string): Promise<void> {
  ctx.setWindow(window.start, window.end)
  const pageSize = ctx.config.POLL_PAGE_SIZE
  let lastContactId = fromContactId

  for (;;) {
    const request = buildWindowSearch(window, lastContactId, pageSize)
    const page = await ctx.api.searchContacts(request)
    ctx.addPage(page.contacts.length + page.invalid.length)

    const selection = selectWindowPage(page, window, lastContactId, pageSize)
    await importWindowPage(ctx, selection)
    await ctx.reportProgress()
    if (selection.isLastPage) return

    lastContactId = selection.lastContactId
    if (ctx.isStopping()) throw runInterrupted()
  }
}

export interface WindowPageSelection {
  /** Contacts to import: id above the resume point and lastmodifieddate inside the window. */
  contacts: HubSpotContact[]
  /** Rows search returned outside the window or at or below the resume point, dropped. */
  outOfWindow: number
  invalid: number
  /** The resume point after this page. */
  lastContactId: string
  isLastPage: boolean
}

/**
 * Decides what one search page contributes. Search does not reliably honour the sort and
 * can return rows outside the filters, so the next resume point is the largest id in the
 * window, never the id of the last row. A row outside the window is dropped: the window
 * its lastmodifieddate belongs to reads it. The window ends on a short page without
 * `paging.next`, or when a page brings no id above the resume point (no progress possible).
 */
export function selectWindowPage(
  page: ContactPage,
  window: Window,
  lastContactId: string,
  pageSize: number,
): WindowPageSelection {
  const floor = BigInt(lastContactId)
  const above = page.contacts.filter((contact) => BigInt(contact.id) > floor)
  const inWindow = above.filter((contact) => isInWindow(contact, window))

  // Without any in-window row, step past the rows seen so a stale page cannot repeat forever.
  const advancing = inWindow.length > 0 ? inWindow : above
  const nextId = advancing.reduce((max, contact) => maxId(max, contact.id), lastContactId)

  const rows = page.contacts.length + page.invalid.length
  const isShortLastPage = page.nextAfter === null && rows < pageSize
  return {
    contacts: inWindow,
    outOfWindow: page.contacts.length - inWindow.length,
    invalid: page.invalid.length,
    lastContactId: nextId,
    isLastPage: isShortLastPage || above.length === 0,
  }
}

function isInWindow(contact: HubSpotContact, window: Window): boolean {
  const modified = contact.properties.lastmodifieddate ?? contact.updatedAt
  const modifiedMs = Date.parse(modified)
  // An unreadable time is left to the import service, which reports the contact.
  if (Number.isNaN(modifiedMs)) return true
  return modifiedMs >= window.start.getTime() && modifiedMs < window.end.getTime()
}

function maxId(a: string, b: string): string {
  return BigInt(a) >= BigInt(b) ? a : b
}

async function importWindowPage(ctx: RunContext, selection: WindowPageSelection): Promise<void> {
  const integrationId = ctx.integration.id
  const read = selection.contacts.length
  const saveCursor = async (tx: TransactionSql) => {
    if (selection.isLastPage) await closeWindow(tx, integrationId, read)
    else await savePageProgress(tx, integrationId, selection.lastContactId, read)
  }

  ctx.addCounts({ failed: selection.invalid })
  if (selection.outOfWindow > 0) ctx.addDetails({ outOfWindow: selection.outOfWindow })
  if (selection.contacts.length === 0) {
    await ctx.sql.begin(saveCursor)
    return
  }
  const result = await importContacts(ctx.sql, {
    integration: ctx.integration,
    origin: 'poll',
    contacts: selection.contacts,
    runId: ctx.runId,
    withinTransaction: saveCursor,
  })
  addImportResult(ctx, result)
}
