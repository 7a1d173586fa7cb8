import { listLeadStatesInRange, type LeadState } from '../db/leadLifecycle.js'
import type { ContactPage } from '../hubspot/types.js'
import { driftFound } from '../metrics.js'
import { purgeErasedContacts, refreshContacts } from './contactRefresh.js'
import { restoreContacts } from './lifecycle.js'
import { parseContactId } from './mapping.js'
import type { KindRunner, RunContext } from './runner.js'

const listPageSize = 100
/** The maximum number of ids in one batch read. */
const batchReadSize = 100

export interface DriftCounts {
  hubspotContacts: number
  /** Live in HubSpot, with no lead. */
  missingLocally: number
  /** Live in HubSpot, with a soft-deleted lead: a restore no webhook reported. */
  deletedLocally: number
  /** A live lead whose contact HubSpot no longer lists: deleted or merged away. */
  missingInHubspot: number
  /** Leads purged because HubSpot has their contact neither live nor archived. */
  erasedInHubspot: number
}

/**
 * Runs the `drift` check. It walks HubSpot's contact ids in ascending order (the list
 * endpoint, ids only) beside the integration's leads in the same id range. Each difference
 * is repaired through the normal paths. Missing contacts are read and imported, and leads
 * of contacts HubSpot still has are revived. Leads of contacts HubSpot no longer lists are
 * re-read, so merges retire them under their survivor, archived contacts soft-delete them,
 * and contacts HubSpot has neither live nor archived purge them. Soft-deleted leads are
 * looked up among the archived contacts too, so a privacy deletion of an archived contact
 * purges its lead. The differences are saved in the run's details and counted in the
 * drift metric.
 */
export const runDriftCheck: KindRunner = async (ctx) => {
  const totals: DriftCounts = { hubspotContacts: 0, missingLocally: 0, deletedLocally: 0, missingInHubspot: 0, erasedInHubspot: 0 }
  let after: string | null = null
  let checkedUpTo = 0
  // Soft-deleted leads to look up among the archived contacts, gathered over pages so that
  // each batch read carries up to 100 of them.
  const deletedUnlisted: number[] = []
  do {
    const page: ContactPage = await ctx.api.listContacts({ after, limit: listPageSize, properties: ['hs_object_id'] })
    ctx.addPage(page.contacts.length)
    const ids = page.contacts.map((contact) => parseContactId(contact.id)).filter((id): id is number => id !== null)
    after = page.nextAfter
    // The last page closes the range, so leads above HubSpot's highest id are compared too.
    const upTo = after === null ? null : Math.max(checkedUpTo, ...ids)
    const drift = await compareRange(ctx, ids, checkedUpTo, upTo)
    const erased = await repair(ctx, drift)
    addTotals(totals, ids.length, drift, erased)
    deletedUnlisted.push(...drift.deletedUnlisted)
    while (deletedUnlisted.length >= batchReadSize) {
      totals.erasedInHubspot += await purgeErasedLeads(ctx, deletedUnlisted.splice(0, batchReadSize))
    }
    checkedUpTo = upTo ?? checkedUpTo
    await ctx.reportProgress()
  } while (after !== null && !ctx.isStopping())
  // A stopped run leaves the rest to the next run.
  if (!ctx.isStopping()) totals.erasedInHubspot += await purgeErasedLeads(ctx, deletedUnlisted)

  ctx.addDetails({ ...totals })
  driftFound.inc({ kind: 'missing_locally' }, totals.missingLocally + totals.deletedLocally)
  driftFound.inc({ kind: 'missing_in_hubspot' }, totals.missingInHubspot)
  driftFound.inc({ kind: 'erased_in_hubspot' }, totals.erasedInHubspot)
  ctx.logger.info({ ...totals }, 'drift check finished')
}

interface RangeDrift {
  missingLocally: number[]
  deletedLocally: number[]
  missingInHubspot: number[]
  /** Soft-deleted leads whose contact HubSpot does not list live, as expected while it is archived. */
  deletedUnlisted: number[]
}

async function compareRange(
  ctx: RunContext,
  hubspotIds: number[],
  afterId: number,
  upToId: number | null,
): Promise<RangeDrift> {
  const leads = await listLeadStatesInRange(ctx.sql, ctx.integration.id, afterId, upToId)
  const local = new Map<number, LeadState>(leads.map((lead) => [lead.hubspot_contact_id, lead.state]))
  const inHubspot = new Set(hubspotIds)
  return {
    missingLocally: hubspotIds.filter((id) => !local.has(id)),
    deletedLocally: hubspotIds.filter((id) => local.get(id) === 'deleted'),
    missingInHubspot: leads
      .filter((lead) => lead.state === 'live' && !inHubspot.has(lead.hubspot_contact_id))
      .map((lead) => lead.hubspot_contact_id),
    deletedUnlisted: leads
      .filter((lead) => lead.state === 'deleted' && !inHubspot.has(lead.hubspot_contact_id))
      .map((lead) => lead.hubspot_contact_id),
  }
}

/** Repairs one range and returns the number of leads purged because HubSpot no longer has their contact. */
async function repair(ctx: RunContext, drift: RangeDrift): Promise<number> {
  const target = { integration: ctx.integration, origin: 'poll' as const }
  const now = ctx.now()
  const restored = await restoreContacts(
    ctx.sql,
    target,
    drift.deletedLocally.map((contactId) => ({ contactId, at: now })),
  )
  const refresh = await refreshContacts({
    sql: ctx.sql,
    api: ctx.api,
    integration: ctx.integration,
    origin: 'poll',
    contactIds: [...drift.missingLocally, ...drift.deletedLocally, ...drift.missingInHubspot],
    runId: ctx.runId,
  })
  const imported = refresh.imported
  ctx.addCounts({
    created: imported?.created ?? 0,
    updated: (imported?.updated ?? 0) + restored,
    unchanged: imported?.unchanged ?? 0,
    skipped: imported?.skipped ?? 0,
    deleted: refresh.deletedAsMissing,
    failed: imported?.failures.length ?? 0,
  })
  return refresh.purgedAsErased
}

function purgeErasedLeads(ctx: RunContext, contactIds: number[]): Promise<number> {
  return purgeErasedContacts({ sql: ctx.sql, api: ctx.api, integration: ctx.integration, origin: 'poll', contactIds })
}

function addTotals(totals: DriftCounts, hubspotContacts: number, drift: RangeDrift, erased: number): void {
  totals.hubspotContacts += hubspotContacts
  totals.erasedInHubspot += erased
  totals.missingLocally += drift.missingLocally.length
  totals.deletedLocally += drift.deletedLocally.length
  totals.missingInHubspot += drift.missingInHubspot.length
}
