import { mapDatabaseError, type Sql, type TransactionSql } from '../db/connection.js'
import type { Integration } from '../db/integrations.js'
import {
  readImportStates,
  upsertLeads,
  type LeadStateRow,
  type UpsertedLeadRow,
} from '../db/leadImport.js'
import { insertOutboxEvents } from '../db/outbox.js'
import type { LeadOrigin } from '../events/leadEvents.js'
import type { HubSpotContact } from '../hubspot/types.js'
import { contactsImported } from '../metrics.js'
import { buildImportEvents, markMerges } from './importMerges.js'
import {
  decide,
  prepareBatch,
  skipped,
  toUpsertRow,
  type ContactOutcome,
  type Decision,
  type Outcome,
  type PreparedBatch,
} from './importPlan.js'
import type { MappedContact } from './mapping.js'

export type ImportOrigin = LeadOrigin

export interface ImportRequest {
  integration: Pick<Integration, 'id' | 'portalId' | 'actions'>
  origin: ImportOrigin
  contacts: HubSpotContact[]
  runId?: number | null
  /** Runs in the same transaction after the upsert (e.g. save the poll cursor). */
  withinTransaction?: (tx: TransactionSql, result: ImportResult) => Promise<void>
}

export interface ImportResult {
  created: number
  updated: number
  unchanged: number
  skipped: number
  merged: number
  restored: number
  failures: { contactId: string | null; reason: string }[]
  nulCharactersRemoved: number
  outcomes: ContactOutcome[]
}

/** One contact of the batch with what the import decided and what the upsert returned. */
export interface PlannedContact {
  contact: MappedContact
  state: LeadStateRow | undefined
  decision: Decision
  row?: UpsertedLeadRow
  outcome?: ContactOutcome
}

/**
 * Imports a batch of HubSpot contacts into `leads` in one transaction: newer-wins upserts,
 * nothing written for unchanged contacts, merge bookkeeping, and the outbox events of every
 * change. A contact that cannot be stored is reported in the result and does not stop the
 * batch. A database failure rolls the whole batch back and is thrown.
 */
export async function importContacts(sql: Sql, request: ImportRequest): Promise<ImportResult> {
  const batch = prepareBatch(request.contacts)
  const callerFailure: { error?: unknown } = {}
  let result: ImportResult
  try {
    result = await sql.begin((tx) => importBatch(tx, request, batch, callerFailure))
  } catch (error) {
    // The caller's own error from withinTransaction reaches it unchanged.
    if ('error' in callerFailure && error === callerFailure.error) throw error
    throw mapDatabaseError(error, 'importContacts')
  }
  countOutcomes(request.origin, result.outcomes)
  return result
}

async function importBatch(
  tx: TransactionSql,
  request: ImportRequest,
  batch: PreparedBatch,
  callerFailure: { error?: unknown },
): Promise<ImportResult> {
  // postgres.js prepares every statement, and PostgreSQL may switch a prepared statement to
  // a cached generic plan after five executions. A generic plan made while `leads` was empty
  // (or analyzed while empty) scans the whole table for each contact id of the state
  // lookups. It is kept as the table grows, so on PostgreSQL 15 the lookup of 200 ids took
  // 1.9 s at 50,000 rows. Custom plans see the table's current size and use the unique
  // index (2.5 ms).
  await tx`set local plan_cache_mode = force_custom_plan`

  const integrationId = request.integration.id
  const contactIds = batch.contacts.map((contact) => contact.contactId)
  const absorbedIds = [...batch.survivorByAbsorbedId.keys()]
  const stored = await readStates(tx, integrationId, [...contactIds, ...absorbedIds])
  const states = stored.leads

  const planned: PlannedContact[] = batch.contacts.map((contact) => {
    const state = states.get(contact.contactId)
    const survivorId = stored.survivorByAbsorbedId.get(contact.contactId)
    return { contact, state, decision: decide(contact, state, survivorId) }
  })
  await writeLeads(tx, request, planned)
  classify(planned, states, batch.survivorByAbsorbedId)

  const merges = await markMerges(tx, integrationId, planned, batch.survivorByAbsorbedId)
  const events = await buildImportEvents(tx, request, planned, merges, states)
  await insertOutboxEvents(tx, events)

  const result = summarize(batch, planned)
  try {
    await request.withinTransaction?.(tx, result)
  } catch (error) {
    callerFailure.error = error
    throw error
  }
  return result
}

/** Sends only the contacts that need a write to the upsert, so unchanged rows stay unlocked. */
async function writeLeads(
  tx: TransactionSql,
  request: ImportRequest,
  planned: PlannedContact[],
): Promise<void> {
  const writes = planned.filter((entry) => entry.decision.kind === 'write')
  const rows = await upsertLeads(
    tx,
    request.integration.id,
    writes.map((entry) => toUpsertRow(entry.contact)),
  )
  const byId = byContactId(rows)
  for (const entry of writes) entry.row = byId.get(entry.contact.contactId)

  // A write the conflict condition turned down lost a race with another import: decide
  // again on the state that import committed.
  const refused = writes.filter((entry) => entry.row === undefined)
  if (refused.length === 0) return
  const ids = refused.map((entry) => entry.contact.contactId)
  const fresh = await readStates(tx, request.integration.id, ids)
  for (const entry of refused) {
    const contactId = entry.contact.contactId
    entry.state = fresh.leads.get(contactId)
    entry.decision = decide(entry.contact, entry.state, fresh.survivorByAbsorbedId.get(contactId))
  }
}

async function readStates(
  tx: TransactionSql,
  integrationId: number,
  contactIds: number[],
): Promise<{ leads: Map<number, LeadStateRow>; survivorByAbsorbedId: Map<number, number> }> {
  const stored = await readImportStates(tx, integrationId, contactIds)
  const survivorByAbsorbedId = new Map(
    stored.absorbed.map((row) => [row.absorbed_contact_id, row.survivor_contact_id]),
  )
  return { leads: byContactId(stored.leads), survivorByAbsorbedId }
}

function classify(
  planned: PlannedContact[],
  states: Map<number, LeadStateRow>,
  survivorByAbsorbedId: Map<number, number>,
): void {
  for (const entry of planned) {
    const contactId = entry.contact.contactId
    const leadId = entry.row?.id ?? entry.state?.id ?? null
    entry.outcome = { contactId, leadId, outcome: writtenOutcome(entry, states, survivorByAbsorbedId) }
    if (entry.decision.kind === 'skip') entry.outcome = skipped(contactId, leadId, entry.decision.reason)
  }
}

function writtenOutcome(
  entry: PlannedContact,
  states: Map<number, LeadStateRow>,
  survivorByAbsorbedId: Map<number, number>,
): Outcome {
  const { row, contact } = entry
  if (!row) return 'unchanged'
  if (!row.inserted) return entry.state?.deleted_at ? 'restored' : 'updated'
  const absorbedLocally = contact.mergedContactIds.some(
    (id) => states.has(id) && survivorByAbsorbedId.get(id) === contact.contactId,
  )
  return absorbedLocally ? 'merged' : 'created'
}

function summarize(batch: PreparedBatch, planned: PlannedContact[]): ImportResult {
  const outcomes = [...batch.outcomes, ...planned.map((entry) => entry.outcome as ContactOutcome)]
  const count = (outcome: Outcome) => outcomes.filter((item) => item.outcome === outcome).length
  return {
    created: count('created'),
    updated: count('updated'),
    unchanged: count('unchanged'),
    skipped: count('skipped'),
    merged: count('merged'),
    restored: count('restored'),
    failures: batch.failures,
    nulCharactersRemoved: batch.nulCharactersRemoved,
    outcomes,
  }
}

function countOutcomes(origin: ImportOrigin, outcomes: ContactOutcome[]): void {
  const counts = new Map<Outcome, number>()
  for (const item of outcomes) counts.set(item.outcome, (counts.get(item.outcome) ?? 0) + 1)
  for (const [outcome, count] of counts) contactsImported.inc({ origin, outcome }, count)
}

export function byContactId<Row extends { hubspot_contact_id: number }>(rows: Row[]): Map<number, Row> {
  return new Map(rows.map((row) => [row.hubspot_contact_id, row]))
}
