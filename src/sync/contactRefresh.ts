import type { Sql } from '../db/connection.js'
import type { Integration } from '../db/integrations.js'
import type { LeadOrigin } from '../events/leadEvents.js'
import type { ContactsApi } from '../hubspot/client.js'
import { syncedProperties, type HubSpotContact } from '../hubspot/types.js'
import { importContacts, type ImportResult } from './import.js'
import type { MergePlan } from './inboxPlan.js'
import { deleteContacts } from './lifecycle.js'
import { parseContactId, parseMergedIds } from './mapping.js'

export interface RefreshRequest {
  sql: Sql
  api: ContactsApi
  integration: Pick<Integration, 'id' | 'portalId' | 'actions'>
  origin: LeadOrigin
  contactIds: number[]
  /** Merges reported by webhooks; their absorbed ids are added to the survivor's merge list. */
  merges?: MergePlan[]
  runId?: number | null
}

export interface RefreshResult {
  read: number
  imported: ImportResult | null
  /** Leads soft-deleted because HubSpot no longer has their contact. */
  deletedAsMissing: number
}

const emptyResult: RefreshResult = { read: 0, imported: null, deletedAsMissing: 0 }

/**
 * Reads the current state of contacts with batch read (the client splits requests at 100
 * ids) and passes them through the import service. A contact HubSpot reports as not found,
 * and that no returned survivor absorbed, was archived or erased since: its lead is
 * soft-deleted. A read of a merged-away id returns the survivor, which the import handles.
 */
export async function refreshContacts(request: RefreshRequest): Promise<RefreshResult> {
  const ids = [...new Set(request.contactIds)]
  if (ids.length === 0) return emptyResult

  // The deletion time of a contact the read misses. HubSpot responded after this moment, so
  // a restore or edit it reports later is newer than the deletion, as it is in HubSpot.
  // NOTE: this time comes from our clock, so clock skew against HubSpot can still misorder
  // a restore made within the skew of the read.
  const readStartedAt = new Date()
  const read = await request.api.batchReadContacts(ids.map(String), { properties: syncedProperties })
  const contacts = withMergeHints(read.contacts, request.merges ?? [])
  const imported =
    contacts.length === 0
      ? null
      : await importContacts(request.sql, {
          integration: request.integration,
          origin: request.origin,
          contacts,
          runId: request.runId ?? null,
        })

  const missing = unexplainedMisses(read.missingIds, contacts)
  const deletedAsMissing = await deleteContacts(
    request.sql,
    { integration: request.integration, origin: request.origin },
    missing.map((contactId) => ({ contactId, at: readStartedAt })),
  )
  return { read: contacts.length, imported, deletedAsMissing }
}

/** Ids reported missing that are neither returned nor absorbed by a returned contact. */
function unexplainedMisses(missingIds: string[], contacts: HubSpotContact[]): number[] {
  const explained = new Set<number>()
  for (const contact of contacts) {
    const id = parseContactId(contact.id)
    if (id === null) continue
    explained.add(id)
    for (const absorbed of parseMergedIds(contact.properties.hs_merged_object_ids, id)) explained.add(absorbed)
  }
  const missing = missingIds.map((id) => parseContactId(id)).filter((id): id is number => id !== null)
  return missing.filter((id) => !explained.has(id))
}

/**
 * Adds the absorbed ids of a merge event to the survivor's `hs_merged_object_ids` when
 * HubSpot's copy does not list them yet, so the import retires the absorbed leads and
 * announces leads.merged rather than a new lead. HubSpot normally lists them already, and
 * then the contact is passed on unchanged.
 */
function withMergeHints(contacts: HubSpotContact[], merges: MergePlan[]): HubSpotContact[] {
  if (merges.length === 0) return contacts
  return contacts.map((contact) => {
    const id = parseContactId(contact.id)
    if (id === null) return contact
    const listed = parseMergedIds(contact.properties.hs_merged_object_ids, id)
    const absorbed = merges
      .filter((merge) => merge.survivorId === id || listed.includes(merge.survivorId))
      .flatMap((merge) => merge.absorbedIds)
    const added = absorbed.filter((absorbedId) => absorbedId !== id && !listed.includes(absorbedId))
    if (added.length === 0) return contact
    const value = [...listed, ...new Set(added)].join(';')
    return { ...contact, properties: { ...contact.properties, hs_merged_object_ids: value } }
  })
}
