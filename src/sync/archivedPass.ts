import { findUnmergedLeadContacts } from '../db/leadLifecycle.js'
import { syncedProperties, type ContactPage, type HubSpotContact } from '../hubspot/types.js'
import { importContacts } from './import.js'
import { deleteContacts } from './lifecycle.js'
import { parseContactId, parseHubSpotTime, parseMergedIds } from './mapping.js'
import type { KindRunner, RunContext } from './runner.js'

/** The list endpoint returns at most 100 contacts a page. */
const listPageSize = 100

/**
 * Runs the `archived` pass, which finds deletions and merges that no webhook reported. It lists the
 * archived contacts (`archived=true`) and soft-deletes their live leads, then lists the
 * live contacts and imports every survivor whose `hs_merged_object_ids` names a lead not
 * yet marked merged, which retires the absorbed leads and announces leads.merged.
 */
export const runArchivedPass: KindRunner = async (ctx) => {
  await deleteArchivedContacts(ctx)
  if (ctx.isStopping()) return
  await markMissedMerges(ctx)
}

async function deleteArchivedContacts(ctx: RunContext): Promise<void> {
  const target = { integration: ctx.integration, origin: 'poll' as const }
  let after: string | null = null
  do {
    const page: ContactPage = await ctx.api.listContacts({ after, limit: listPageSize, archived: true, properties: ['hs_object_id'] })
    ctx.addPage(page.contacts.length)
    const items = page.contacts.flatMap((contact) => archivedItem(contact))
    const deleted = await deleteContacts(ctx.sql, target, items)
    ctx.addCounts({ deleted })
    ctx.addDetails({ archivedContacts: page.contacts.length, archivedDeleted: deleted })
    await ctx.reportProgress()
    after = page.nextAfter
  } while (after !== null && !ctx.isStopping())
}

function archivedItem(contact: HubSpotContact): { contactId: number; at: Date }[] {
  const contactId = parseContactId(contact.id)
  if (contactId === null) return []
  const at = parseHubSpotTime(contact.archivedAt) ?? parseHubSpotTime(contact.updatedAt) ?? new Date()
  return [{ contactId, at }]
}

async function markMissedMerges(ctx: RunContext): Promise<void> {
  let after: string | null = null
  do {
    const page: ContactPage = await ctx.api.listContacts({ after, limit: listPageSize, properties: syncedProperties })
    ctx.addPage(page.contacts.length)
    await importSurvivors(ctx, page.contacts)
    await ctx.reportProgress()
    after = page.nextAfter
  } while (after !== null && !ctx.isStopping())
}

async function importSurvivors(ctx: RunContext, contacts: HubSpotContact[]): Promise<void> {
  const absorbedBySurvivor = new Map<HubSpotContact, number[]>()
  for (const contact of contacts) {
    const id = parseContactId(contact.id)
    const absorbed = id === null ? [] : parseMergedIds(contact.properties.hs_merged_object_ids, id)
    if (absorbed.length > 0) absorbedBySurvivor.set(contact, absorbed)
  }
  const allAbsorbed = [...absorbedBySurvivor.values()].flat()
  const unmerged = new Set(await findUnmergedLeadContacts(ctx.sql, ctx.integration.id, allAbsorbed))
  if (unmerged.size === 0) return

  const survivors = [...absorbedBySurvivor]
    .filter(([, absorbed]) => absorbed.some((id) => unmerged.has(id)))
    .map(([contact]) => contact)
  const result = await importContacts(ctx.sql, {
    integration: ctx.integration,
    origin: 'poll',
    contacts: survivors,
    runId: ctx.runId,
  })
  ctx.addCounts({ created: result.created, updated: result.updated, unchanged: result.unchanged })
  ctx.addDetails({ survivorsImported: survivors.length, absorbedLeadsFound: unmerged.size })
}
