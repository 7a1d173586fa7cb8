import { recordAbsorbedContacts } from '../db/absorbedContacts.js'
import type { TransactionSql } from '../db/connection.js'
import {
  markLeadsMerged,
  readLeadsByContacts,
  type LeadStateRow,
  type MarkedMergeRow,
} from '../db/leadImport.js'
import { toLead, type LeadEventFields } from '../db/leads.js'
import type { CloudEvent } from '../events/envelope.js'
import {
  buildLeadImportedEvent,
  buildLeadMergedEvent,
  buildLeadRestoredEvent,
  buildLeadUpdatedEvent,
  type LeadEventContext,
} from '../events/leadEvents.js'
import type { ImportRequest, PlannedContact } from './import.js'
import { toWrittenLead } from './importPlan.js'

/** Survivor contact id to the absorbed leads this import pointed at it. */
export type MergeMarks = Map<number, MarkedMergeRow[]>

/**
 * Records every absorbed contact id of the batch, so a later batch does not make it a lead,
 * and points the leads of absorbed contacts at their survivor. Only survivors whose lead is
 * live after this import mark leads; a survivor that is itself merged, deleted or purged
 * leaves its absorbed leads alone.
 */
export async function markMerges(
  tx: TransactionSql,
  integrationId: number,
  planned: PlannedContact[],
  survivorByAbsorbedId: Map<number, number>,
): Promise<MergeMarks> {
  const absorbed = [...survivorByAbsorbedId].map(([absorbedId, survivorId]) => ({
    absorbed_contact_id: absorbedId,
    survivor_contact_id: survivorId,
  }))
  await recordAbsorbedContacts(tx, integrationId, absorbed)

  const live = new Set(planned.filter(isLiveSurvivor).map((entry) => entry.contact.contactId))
  const marks = [...survivorByAbsorbedId]
    .filter(([, survivorId]) => live.has(survivorId))
    .map(([absorbedContactId, survivorContactId]) => ({ absorbedContactId, survivorContactId }))

  const rows = await markLeadsMerged(tx, integrationId, marks)
  const bySurvivor: MergeMarks = new Map()
  for (const row of rows) {
    const list = bySurvivor.get(row.merged_into_contact_id) ?? []
    list.push(row)
    bySurvivor.set(row.merged_into_contact_id, list)
  }
  return bySurvivor
}

function isLiveSurvivor(entry: PlannedContact): boolean {
  if (entry.contact.mergedContactIds.length === 0 || !entry.outcome) return false
  if (entry.outcome.outcome !== 'skipped') return entry.outcome.outcome !== 'failed'
  return entry.outcome.reason === 'stale'
}

/**
 * Builds the outbox events of an import: leads.imported for new leads, leads.updated and
 * leads.restored for written changes, and leads.merged, never leads.imported, for a
 * survivor that absorbed leads this integration already had.
 */
export async function buildImportEvents(
  tx: TransactionSql,
  request: ImportRequest,
  planned: PlannedContact[],
  merges: MergeMarks,
  states: Map<number, LeadStateRow>,
): Promise<CloudEvent<unknown>[]> {
  const context: LeadEventContext = {
    portalId: request.integration.portalId,
    origin: request.origin,
    time: new Date(),
  }
  const events: CloudEvent<unknown>[] = []
  for (const entry of planned) {
    const event = changeEvent(entry, request.integration.id, context, merges, states)
    if (event) events.push(event)
  }
  events.push(...(await survivorMergeEvents(tx, request, planned, merges, context)))
  return events
}

function changeEvent(
  entry: PlannedContact,
  integrationId: number,
  context: LeadEventContext,
  merges: MergeMarks,
  states: Map<number, LeadStateRow>,
): CloudEvent<unknown> | null {
  if (!entry.row || !entry.outcome) return null
  const lead = toWrittenLead(entry.contact, entry.row.id, integrationId)
  switch (entry.outcome.outcome) {
    case 'created':
      return buildLeadImportedEvent(lead, context)
    case 'updated':
      return buildLeadUpdatedEvent(lead, context)
    case 'restored':
      return buildLeadRestoredEvent(lead, context)
    case 'merged':
      return newSurvivorEvent(entry, lead, context, merges, states)
    default:
      return null
  }
}

/** Builds leads.merged for a new survivor with every absorbed lead, marked now or earlier. */
function newSurvivorEvent(
  entry: PlannedContact,
  lead: LeadEventFields,
  context: LeadEventContext,
  merges: MergeMarks,
  states: Map<number, LeadStateRow>,
): CloudEvent<unknown> {
  const absorbed = new Map<number, number>()
  for (const contactId of entry.contact.mergedContactIds) {
    const state = states.get(contactId)
    if (state) absorbed.set(contactId, state.id)
  }
  for (const row of merges.get(lead.hubspotContactId) ?? []) absorbed.set(row.hubspot_contact_id, row.id)
  return buildLeadMergedEvent(lead, {
    ...context,
    mergedContactIds: [...absorbed.keys()],
    mergedLeadIds: [...absorbed.values()],
  })
}

/** An existing survivor publishes leads.merged for the absorbed leads marked by this import. */
async function survivorMergeEvents(
  tx: TransactionSql,
  request: ImportRequest,
  planned: PlannedContact[],
  merges: MergeMarks,
  context: LeadEventContext,
): Promise<CloudEvent<unknown>[]> {
  const pending = planned.filter(
    (entry) => merges.has(entry.contact.contactId) && entry.outcome?.outcome !== 'merged',
  )
  if (pending.length === 0) return []

  const unread = pending.filter((entry) => !entry.row).map((entry) => entry.contact.contactId)
  const readRows = await readLeadsByContacts(tx, request.integration.id, unread)
  const leads = new Map<number, LeadEventFields>(
    readRows.map((row) => [row.hubspot_contact_id, toLead(row)]),
  )
  for (const entry of pending) {
    if (!entry.row) continue
    leads.set(entry.contact.contactId, toWrittenLead(entry.contact, entry.row.id, request.integration.id))
  }

  return pending.flatMap((entry) => {
    const lead = leads.get(entry.contact.contactId)
    const marked = merges.get(entry.contact.contactId) ?? []
    if (!lead) return []
    return [
      buildLeadMergedEvent(lead, {
        ...context,
        mergedContactIds: marked.map((row) => row.hubspot_contact_id),
        mergedLeadIds: marked.map((row) => row.id),
      }),
    ]
  })
}
