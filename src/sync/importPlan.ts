import type { LeadStateRow, LeadUpsertRow } from '../db/leadImport.js'
import type { LeadEventFields } from '../db/leads.js'
import { mapContact, parseContactId, type MappedContact } from './mapping.js'

export type Outcome = 'created' | 'updated' | 'unchanged' | 'skipped' | 'merged' | 'restored' | 'failed'

export interface ContactOutcome {
  contactId: number
  leadId: number | null
  outcome: Outcome
  reason?: string
}

/** A batch after mapping, before the database is read. */
export interface PreparedBatch {
  /** One contact per id, the newest of any duplicates, in input order. */
  contacts: MappedContact[]
  /** Outcomes decided without the database: failures, duplicates, archived, absorbed. */
  outcomes: ContactOutcome[]
  failures: { contactId: string | null; reason: string }[]
  nulCharactersRemoved: number
  /** Absorbed contact id to the id of the contact that absorbed it. */
  survivorByAbsorbedId: Map<number, number>
}

/**
 * Maps every contact, reports the ones that cannot be stored, keeps the newest of duplicate
 * ids (the later one on a tie) and leaves out contacts that another contact of the batch
 * absorbed in a merge.
 */
export function prepareBatch(input: readonly unknown[]): PreparedBatch {
  const batch: PreparedBatch = {
    contacts: [],
    outcomes: [],
    failures: [],
    nulCharactersRemoved: 0,
    survivorByAbsorbedId: new Map(),
  }
  const newest = new Map<number, MappedContact>()
  for (const item of input) {
    const mapped = mapContact(item)
    if (!mapped.ok) {
      recordFailure(batch, mapped.contactId, mapped.reason)
      continue
    }
    keepNewest(batch, newest, mapped.contact)
  }

  collectMerges(batch, newest)
  for (const contact of newest.values()) {
    if (contact.archived) {
      batch.outcomes.push(skipped(contact.contactId, null, 'archived'))
    } else if (batch.survivorByAbsorbedId.has(contact.contactId)) {
      batch.outcomes.push(skipped(contact.contactId, null, 'merged'))
    } else {
      batch.contacts.push(contact)
      batch.nulCharactersRemoved += contact.nulCharactersRemoved
    }
  }
  return batch
}

function recordFailure(batch: PreparedBatch, rawId: string | null, reason: string): void {
  batch.failures.push({ contactId: rawId, reason })
  const contactId = parseContactId(rawId)
  if (contactId !== null) batch.outcomes.push({ contactId, leadId: null, outcome: 'failed', reason })
}

function keepNewest(
  batch: PreparedBatch,
  newest: Map<number, MappedContact>,
  contact: MappedContact,
): void {
  const seen = newest.get(contact.contactId)
  if (seen && seen.hubspotUpdatedAt > contact.hubspotUpdatedAt) {
    batch.outcomes.push(skipped(contact.contactId, null, 'duplicate'))
    return
  }
  if (seen) {
    batch.outcomes.push(skipped(seen.contactId, null, 'duplicate'))
    // Delete first so the kept copy takes the later position, as the input order has it.
    newest.delete(contact.contactId)
  }
  newest.set(contact.contactId, contact)
}

/**
 * Maps each absorbed id to its survivor; an id absorbed by two survivors of one batch goes
 * to the newer one. Absorbed ids from earlier batches come from `absorbed_contacts`.
 */
function collectMerges(batch: PreparedBatch, contacts: Map<number, MappedContact>): void {
  const survivorTime = new Map<number, Date>()
  for (const contact of contacts.values()) {
    if (contact.archived) continue
    for (const absorbedId of contact.mergedContactIds) {
      const time = survivorTime.get(absorbedId)
      if (time && time > contact.hubspotUpdatedAt) continue
      survivorTime.set(absorbedId, contact.hubspotUpdatedAt)
      batch.survivorByAbsorbedId.set(absorbedId, contact.contactId)
    }
  }
}

export function skipped(contactId: number, leadId: number | null, reason: string): ContactOutcome {
  return { contactId, leadId, outcome: 'skipped', reason }
}

export type Decision =
  | { kind: 'write'; expected: 'created' | 'updated' | 'restored' }
  | { kind: 'unchanged' }
  | { kind: 'skip'; reason: 'purged' | 'merged' | 'stale' | 'deleted' }

/**
 * Decides what the import does with one contact given its lead's current state and the
 * survivor that absorbed it in an earlier batch, if any. The upsert's conflict condition
 * applies the same rules again in SQL, so a concurrent import cannot make a stale write
 * through a decision taken on an older read.
 */
export function decide(
  contact: MappedContact,
  state: LeadStateRow | undefined,
  survivorContactId?: number,
): Decision {
  if (!state && survivorContactId !== undefined) return { kind: 'skip', reason: 'merged' }
  if (!state) return { kind: 'write', expected: 'created' }
  if (state.purged_at !== null) return { kind: 'skip', reason: 'purged' }
  if (state.merged_into_contact_id !== null) return { kind: 'skip', reason: 'merged' }

  const incomingMs = contact.hubspotUpdatedAt.getTime()
  if (state.hubspot_updated_at !== null && incomingMs < state.hubspot_updated_at.getTime()) {
    return { kind: 'skip', reason: 'stale' }
  }
  if (state.deleted_at !== null) {
    if (incomingMs > state.deleted_at.getTime()) return { kind: 'write', expected: 'restored' }
    return { kind: 'skip', reason: 'deleted' }
  }
  // NOTE: a newer modification time with the same content hash is 'unchanged' and leaves
  // hubspot_updated_at at the older time, so a later read between the two times still wins.
  if (contact.contentHash === state.content_hash) return { kind: 'unchanged' }
  return { kind: 'write', expected: 'updated' }
}

export function toUpsertRow(contact: MappedContact): LeadUpsertRow {
  return {
    hubspot_contact_id: contact.contactId,
    email: contact.email,
    first_name: contact.firstName,
    last_name: contact.lastName,
    phone: contact.phone,
    company: contact.company,
    job_title: contact.jobTitle,
    lifecycle_stage: contact.lifecycleStage,
    hubspot_owner_id: contact.hubspotOwnerId,
    properties: contact.properties,
    hubspot_created_at: contact.hubspotCreatedAt?.toISOString() ?? null,
    hubspot_updated_at: contact.hubspotUpdatedAt.toISOString(),
    content_hash: contact.contentHash,
  }
}

/** The lead event fields of a contact the upsert wrote, which stored exactly these values. */
export function toWrittenLead(
  contact: MappedContact,
  leadId: number,
  integrationId: number,
): LeadEventFields {
  return {
    id: leadId,
    integrationId,
    hubspotContactId: contact.contactId,
    email: contact.email,
    firstName: contact.firstName,
    lastName: contact.lastName,
    phone: contact.phone,
    company: contact.company,
    jobTitle: contact.jobTitle,
    lifecycleStage: contact.lifecycleStage,
    hubspotOwnerId: contact.hubspotOwnerId,
    hubspotCreatedAt: contact.hubspotCreatedAt,
    hubspotUpdatedAt: contact.hubspotUpdatedAt,
    contentHash: contact.contentHash,
  }
}
