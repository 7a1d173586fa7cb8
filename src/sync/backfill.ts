import type { TransactionSql } from '../db/connection.js'
import { completeBackfill, markBackfillStarted, savePageProgress, type SyncCursor } from '../db/cursors.js'
import type { ContactPage } from '../hubspot/types.js'
import { ListPageReader, OrderedImports } from './backfillPipeline.js'
import { importContacts, type ImportResult } from './import.js'
import { runInterrupted } from './runExecution.js'
import type { RunContext } from './runTypes.js'

/**
 * Pages read ahead of the import. Each list call needs the `after` of the page before it, so
 * only the calls are chained, and the import of earlier pages runs meanwhile.
 */
const readAheadPages = 4
/** Page imports in flight at once; their cursor writes still commit in page order. */
const concurrentImports = 2
/** Maximum wait of a page import for the commit of the page before it. */
const previousCommitWaitMs = 30_000

/**
 * Reads every contact through the list endpoint (ascending ids, no 10,000 cap) and imports
 * each page with its resume point in one transaction, so a crash resumes from the saved
 * page. When the list is exhausted the cursor switches to windows that start at the time
 * the backfill began, minus the overlap. Pages are fetched ahead and imported two at a
 * time, with resume points committed in page order, so the HubSpot budget rather than the
 * database sets the pace.
 */
export async function runBackfill(ctx: RunContext, cursor: SyncCursor): Promise<void> {
  ctx.setPhase('backfill')
  const startedAt = await markBackfillStarted(ctx.sql, ctx.integration.id, ctx.now())
  const overlapMs = ctx.config.POLL_OVERLAP_SECONDS * 1000
  const lastSyncAt = new Date(startedAt.getTime() - overlapMs)

  const reader = new ListPageReader(ctx, cursor.cursorValue, readAheadPages)
  const imports = new OrderedImports(concurrentImports, previousCommitWaitMs)
  let isListRead = false
  try {
    while (!isListRead && !ctx.isStopping()) {
      const page = await reader.next()
      ctx.addPage(page.contacts.length + page.invalid.length)
      isListRead = page.nextAfter === null

      await imports.add((afterPrevious) => importBackfillPage(ctx, page, lastSyncAt, afterPrevious))
      await ctx.reportProgress()
    }
  } finally {
    // Every import started must end before the run does, even when one failed.
    await imports.settle()
  }
  await imports.drain()
  await ctx.reportProgress()
  if (!isListRead) throw runInterrupted()
}

async function importBackfillPage(
  ctx: RunContext,
  page: ContactPage,
  lastSyncAt: Date,
  afterPrevious: () => Promise<void>,
): Promise<void> {
  const integrationId = ctx.integration.id
  const read = page.contacts.length
  const saveCursor = async (tx: TransactionSql) => {
    // The resume point may only move past pages that are committed.
    await afterPrevious()
    if (page.nextAfter === null) await completeBackfill(tx, integrationId, lastSyncAt, read)
    else await savePageProgress(tx, integrationId, page.nextAfter, read)
  }

  ctx.addCounts({ failed: page.invalid.length })
  if (page.contacts.length === 0) {
    await ctx.sql.begin(saveCursor)
    return
  }
  const result = await importContacts(ctx.sql, {
    integration: ctx.integration,
    origin: 'backfill',
    contacts: page.contacts,
    runId: ctx.runId,
    withinTransaction: saveCursor,
  })
  addImportResult(ctx, result)
}

/** Adds an import's outcomes to the run: counts in columns, the rest in details. */
export function addImportResult(ctx: RunContext, result: ImportResult): void {
  ctx.addCounts({
    created: result.created,
    updated: result.updated,
    unchanged: result.unchanged,
    skipped: result.skipped,
    failed: result.failures.length,
  })
  ctx.addDetails({
    merged: result.merged,
    restored: result.restored,
    nulCharactersRemoved: result.nulCharactersRemoved,
  })
}
