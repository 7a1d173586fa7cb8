import type { Queryable } from './connection.js'
import { erasedLeadColumns, type PurgedLeadRow } from './leadLifecycle.js'
import { mappedFieldNames } from './leads.js'

/**
 * Returns the contacts merged into the given ones, directly or through a chain of merges
 * (A into B into C), without the given ones. A merge is known from a lead pointed at its
 * survivor or from `absorbed_contacts`, which also lists absorbed contacts that never had a
 * lead. `union` drops repeats, so a cycle in the data ends the walk.
 */
export async function findAbsorbedContactIds(
  sql: Queryable,
  integrationId: number,
  survivorIds: number[],
): Promise<number[]> {
  if (survivorIds.length === 0) return []
  const rows = await sql<{ contact_id: number }[]>`
    with recursive chain (contact_id) as (
      select unnest(${survivorIds}::bigint[])
      union
      select edge.absorbed_id
      from chain
      cross join lateral (
        select leads.hubspot_contact_id as absorbed_id
        from leads
        where leads.integration_id = ${integrationId}
          and leads.merged_into_contact_id = chain.contact_id
        union all
        select absorbed_contacts.absorbed_contact_id
        from absorbed_contacts
        where absorbed_contacts.integration_id = ${integrationId}
          and absorbed_contacts.survivor_contact_id = chain.contact_id
      ) as edge
    )
    select contact_id
    from chain
    where contact_id <> all(${survivorIds}::bigint[])
    order by contact_id
  `
  return rows.map((row) => row.contact_id)
}

/**
 * Erases the personal columns and raw properties of existing leads and stamps `purged_at`,
 * leaving their deletion and merge state as it is. Leads already purged are left alone, and
 * no tombstone is inserted. Returns the leads it purged.
 */
export async function purgeExistingLeads(
  sql: Queryable,
  integrationId: number,
  contactIds: number[],
): Promise<PurgedLeadRow[]> {
  if (contactIds.length === 0) return []
  return sql<PurgedLeadRow[]>`
    update leads
    set ${erasedLeadColumns(sql)},
        purged_at = now(),
        updated_at = now()
    where integration_id = ${integrationId}
      and hubspot_contact_id = any(${contactIds}::bigint[])
      and purged_at is null
    returning id, hubspot_contact_id, purged_at, false as inserted
  `
}

/** The contacts whose copies are erased, and the integration and portal they belong to. */
export interface ErasureTarget {
  integrationId: number
  portalId: number
  contactIds: number[]
}

export interface ErasureResult {
  outboxDeleted: number
  outboxErased: number
  deadLettersErased: number
  inboxErased: number
}

/**
 * Erases the copies of the contacts' personal data kept beside their leads: published
 * outbox events of their leads are deleted, and queued ones keep their ids but lose the
 * mapped fields, as do action dead letters. Stored webhook events keep their ids and
 * status but lose their property values. leads.purged events carry ids only and are kept.
 * Call it in the transaction that purges the leads.
 */
export async function eraseContactCopies(sql: Queryable, target: ErasureTarget): Promise<ErasureResult> {
  if (target.contactIds.length === 0) {
    return { outboxDeleted: 0, outboxErased: 0, deadLettersErased: 0, inboxErased: 0 }
  }
  const leadIds = await findLeadIds(sql, target.integrationId, target.contactIds)

  // Queued events first: a relay may publish one while this waits for its lock, and the
  // delete below then removes it.
  const outboxErased = await eraseQueuedLeadEvents(sql, leadIds)
  const outboxDeleted = await deletePublishedLeadEvents(sql, leadIds)
  const deadLettersErased = await eraseDeadLetters(sql, leadIds)
  const inboxErased = await eraseWebhookEventValues(sql, target.portalId, target.contactIds)
  return { outboxDeleted, outboxErased, deadLettersErased, inboxErased }
}

async function findLeadIds(sql: Queryable, integrationId: number, contactIds: number[]): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    select id
    from leads
    where integration_id = ${integrationId}
      and hubspot_contact_id = any(${contactIds}::bigint[])
  `
  return rows.map((row) => row.id)
}

/** Subject of the events that announce the erasure. They carry ids only and are kept. */
const purgedSubject = 'leads.purged'

async function deletePublishedLeadEvents(sql: Queryable, leadIds: number[]): Promise<number> {
  if (leadIds.length === 0) return 0
  const result = await sql`
    delete from outbox
    where (payload -> 'data' ->> 'leadId') = any(${leadIds.map(String)}::text[])
      and published_at is not null
      and subject <> ${purgedSubject}
  `
  return result.count
}

interface JsonRow {
  id: number
  payload: unknown
}

/**
 * Nulls the mapped fields in queued events, so consumers still receive each event in order
 * but without the person's data. Waits for a relay that has locked one of the rows, and
 * skips a row that relay marked published meanwhile.
 */
async function eraseQueuedLeadEvents(sql: Queryable, leadIds: number[]): Promise<number> {
  if (leadIds.length === 0) return 0
  const rows = await sql<JsonRow[]>`
    select id, payload
    from outbox
    where (payload -> 'data' ->> 'leadId') = any(${leadIds.map(String)}::text[])
      and published_at is null
      and subject <> ${purgedSubject}
    order by id
    for update
  `
  return writeErasedPayloads(sql, 'outbox', rows)
}

async function eraseDeadLetters(sql: Queryable, leadIds: number[]): Promise<number> {
  if (leadIds.length === 0) return 0
  const rows = await sql<JsonRow[]>`
    select id, payload
    from action_dead_letters
    where lead_id = any(${leadIds}::bigint[])
    order by id
    for update
  `
  return writeErasedPayloads(sql, 'action_dead_letters', rows)
}

/**
 * Writes each row's payload back to `table` with its mapped fields nulled. The rows must be
 * locked by the caller's transaction. Returns the number of rows written.
 */
async function writeErasedPayloads(
  sql: Queryable,
  table: 'outbox' | 'action_dead_letters',
  rows: JsonRow[],
): Promise<number> {
  if (rows.length === 0) return 0
  const erased = rows.map((row) => ({ id: row.id, payload: withoutMappedFields(row.payload) }))
  await sql`
    update ${sql(table)} as target
    set payload = x.payload
    from jsonb_to_recordset(${erased as never}::jsonb) as x (id bigint, payload jsonb)
    where target.id = x.id
  `
  return erased.length
}

/**
 * Returns a copy of a CloudEvents envelope with every mapped lead field in `data` (lead
 * events) and `data.lead` (action events) set to null. Fields that are absent stay absent,
 * so the event still matches its subject's schema.
 */
export function withoutMappedFields(payload: unknown): unknown {
  if (!isObject(payload) || !isObject(payload.data)) return payload
  const data = nullMappedFields(payload.data)
  if (isObject(data.lead)) data.lead = nullMappedFields(data.lead)
  return { ...payload, data }
}

function nullMappedFields(fields: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...fields }
  for (const name of mappedFieldNames) {
    if (name in copy) copy[name] = null
  }
  return copy
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Nulls `propertyValue` in the stored webhook events of the portal's contacts. The dedup key
 * of such an event contains the value (or a hash of it), so it is replaced by one built from
 * the row id. A copy of the event that HubSpot delivers again is then stored as new, and the
 * inbox worker erases it too (`eraseWebhookEventsOfPurgedContacts`).
 */
async function eraseWebhookEventValues(sql: Queryable, portalId: number, contactIds: number[]): Promise<number> {
  const result = await sql`
    update webhook_events
    set event = jsonb_set(event, '{propertyValue}', 'null'::jsonb),
        dedup_key = 'erased:' || id
    where portal_id = ${portalId}
      and object_id = any(${contactIds}::bigint[])
      and event ? 'propertyValue'
      and event -> 'propertyValue' <> 'null'::jsonb
  `
  return result.count
}

/**
 * Erases the property values of stored webhook events of those contacts whose lead is
 * purged, which covers events that arrive after the privacy deletion. Returns the number of
 * events erased.
 */
export async function eraseWebhookEventsOfPurgedContacts(sql: Queryable, target: ErasureTarget): Promise<number> {
  if (target.contactIds.length === 0) return 0
  const rows = await sql<{ hubspot_contact_id: number }[]>`
    select hubspot_contact_id
    from leads
    where integration_id = ${target.integrationId}
      and hubspot_contact_id = any(${target.contactIds}::bigint[])
      and purged_at is not null
  `
  if (rows.length === 0) return 0
  const purgedIds = rows.map((row) => row.hubspot_contact_id)
  return eraseWebhookEventValues(sql, target.portalId, purgedIds)
}
