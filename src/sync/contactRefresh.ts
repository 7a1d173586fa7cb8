import type { Sql } from '../db/connection.js'
import type { Integration } from '../db/integrations.js'
import type { LeadOrigin } from '../events/leadEvents.js'
import type { ContactsApi } from '../hubspot/client.js'
import { syncedProperties, type HubSpotContact } from '../hubspot/types.js'
import { importContacts, type ImportResult } from './import.js'
import type { MergePlan } from './inboxPlan.js'
import { deleteContacts, purgeContacts } from './lifecycle.js'
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
  /** Leads soft-deleted because their contact is archived in HubSpot. */
  deletedAsMissing: number
  /** Leads purged because HubSpot no longer has their contact, archived or not. */
  purgedAsErased: number
}

const emptyResult: RefreshResult = { read: 0, imported: null, deletedAsMissing: 0, purgedAsErased: 0 }

/**
 * Reads the current state of contacts with batch read (the client splits requests at 100
 * ids) and passes them through the import service. A read of a merged-away id returns the
 * survivor, which the import handles. A contact HubSpot reports as not found, and that no
 * returned survivor absorbed, is looked up among the archived contacts. An archived one has
 * its lead soft-deleted, and one HubSpot no longer has at all has its lead purged, as a
 * privacy deletion does.
 */
export async function refreshContacts(request: RefreshRequest): Promise<RefreshResult> {
  const ids = [...new Set(request.contactIds)]
  if (ids.length === 0) return emptyResult

  // The deletion time of a contact the read misses. HubSpot responded after this moment, so
  // a restore or edit it reports later is newer than the deletion, as it is in HubSpot.
  // NOTE: this time comes from our clock, so clock skew against HubSpot can still misorder
  // a restore made within the skew of the read.
  const readStartedAt = new Date()
  const merges = request.merges ?? []
  const read = await request.api.batchReadContacts(ids.map(String), { properties: syncedProperties })
  const found = withMergeHints(read.contacts, merges)
  const misses = await classifyMisses(request.api, unexplainedMisses(read.missingIds, found), merges)
  const contacts = [...found, ...misses.returned]
  const imported =
    contacts.length === 0
      ? null
      : await importContacts(request.sql, {
          integration: request.integration,
          origin: request.origin,
          contacts,
          runId: request.runId ?? null,
        })

  const target = { integration: request.integration, origin: request.origin }
  const at = (contactId: number) => ({ contactId, at: readStartedAt })
  const deletedAsMissing = await deleteContacts(request.sql, target, misses.archived.map(at))
  const purgedAsErased = await purgeContacts(request.sql, target, misses.erased.map(at))
  return { read: contacts.length, imported, deletedAsMissing, purgedAsErased }
}

/**
 * Purges the soft-deleted leads of contacts HubSpot no longer has, archived or not, after a
 * privacy deletion of an archived contact or the end of its 90 days in the recycle bin.
 * `contactIds` are contacts the caller found missing from HubSpot's live list. Returns
 * the number of leads purged.
 */
export async function purgeErasedContacts(request: Omit<RefreshRequest, 'merges'>): Promise<number> {
  const ids = [...new Set(request.contactIds)]
  if (ids.length === 0) return 0
  const readStartedAt = new Date()
  const misses = await classifyMisses(request.api, ids, [])
  const target = { integration: request.integration, origin: request.origin }
  return purgeContacts(request.sql, target, misses.erased.map((contactId) => ({ contactId, at: readStartedAt })))
}

interface ClassifiedMisses {
  /** Contacts archived in HubSpot. */
  archived: number[]
  /** Contacts found live by a later read, restored since the first. */
  returned: HubSpotContact[]
  /** Contacts HubSpot has neither live nor archived. */
  erased: number[]
}

/**
 * Sorts contacts a live read reported as not found by reading what is still missing
 * archived, live, archived and live again (`archived=true` on every other read). An id
 * counts as archived when an archived read returns it or a survivor that absorbed it, and
 * as erased only when every read returns not found and no returned survivor absorbed it.
 * An id a read returns another error for is left as it is. HubSpot returns not found after
 * a privacy deletion and after a permanent deletion alike, so both count as erased.
 * Because the reads alternate, a contact that still exists counts as erased only if it
 * moves between live and archived in each of the three gaps between the last four reads,
 * and it then ends archived. NOTE: a merged-away id whose archived survivor HubSpot does
 * not return for it would count as erased too. The simulator returns the survivor, and
 * HubSpot's documentation does not describe the case.
 */
async function classifyMisses(api: ContactsApi, ids: number[], merges: MergePlan[]): Promise<ClassifiedMisses> {
  const first = await readArchived(api, ids, merges)
  const second = await readLive(api, first.missing, merges)
  const third = await readArchived(api, second.missing, merges)
  const fourth = await readLive(api, third.missing, merges)
  return {
    archived: [...first.archived, ...third.archived],
    returned: [...second.returned, ...fourth.returned],
    erased: fourth.missing,
  }
}

/** Reads contacts live. Returns the contacts and the ids the read reported as not found. */
async function readLive(api: ContactsApi, ids: number[], merges: MergePlan[]) {
  if (ids.length === 0) return { returned: [], missing: [] }
  const read = await api.batchReadContacts(ids.map(String), { properties: syncedProperties })
  const returned = withMergeHints(read.contacts, merges)
  return { returned, missing: unexplainedMisses(read.missingIds, returned) }
}

/**
 * Reads contacts with `archived=true`. Returns the ids found archived, directly or through a
 * returned survivor, and the ids the read reported as not found.
 */
async function readArchived(api: ContactsApi, ids: number[], merges: MergePlan[]) {
  if (ids.length === 0) return { archived: [], missing: [] }
  const read = await api.batchReadContacts(ids.map(String), {
    properties: ['hs_object_id', 'hs_merged_object_ids'],
    archived: true,
  })
  const contacts = withMergeHints(read.contacts, merges)
  const found = explainedIds(contacts)
  return { archived: ids.filter((id) => found.has(id)), missing: unexplainedMisses(read.missingIds, contacts) }
}

/** Ids reported missing that are neither returned nor absorbed by a returned contact. */
function unexplainedMisses(missingIds: string[], contacts: HubSpotContact[]): number[] {
  const explained = explainedIds(contacts)
  const missing = missingIds.map((id) => parseContactId(id)).filter((id): id is number => id !== null)
  return missing.filter((id) => !explained.has(id))
}

/** Returns the ids of the contacts and of every contact they absorbed, from `hs_merged_object_ids`. */
function explainedIds(contacts: HubSpotContact[]): Set<number> {
  const explained = new Set<number>()
  for (const contact of contacts) {
    const id = parseContactId(contact.id)
    if (id === null) continue
    explained.add(id)
    for (const absorbed of parseMergedIds(contact.properties.hs_merged_object_ids, id)) explained.add(absorbed)
  }
  return explained
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
