import type { Queryable } from './connection.js'
import { leadColumns, type LeadMappedColumns, type LeadRow } from './leads.js'

/** What the import service needs to know about a lead before it decides on a write. */
export interface LeadStateRow {
  id: number
  hubspot_contact_id: number
  content_hash: string
  hubspot_updated_at: Date | null
  deleted_at: Date | null
  merged_into_contact_id: number | null
  purged_at: Date | null
}

/** A contact id that HubSpot merged into another contact of the same integration. */
export interface AbsorbedContactRow {
  absorbed_contact_id: number
  survivor_contact_id: number
}

/** The stored state of a batch's contacts: their leads and which of them were absorbed. */
export interface ImportStates {
  leads: LeadStateRow[]
  absorbed: AbsorbedContactRow[]
}

/** One contact as the upsert writes it; times are ISO strings inside the JSON parameter. */
export interface LeadUpsertRow extends LeadMappedColumns {
  hubspot_contact_id: number
  properties: Record<string, string | null>
  hubspot_created_at: string | null
  hubspot_updated_at: string
  content_hash: string
}

/** A lead the upsert wrote. Its other columns hold exactly the values the caller sent. */
export interface UpsertedLeadRow {
  id: number
  hubspot_contact_id: number
  inserted: boolean
}

interface ImportStateRow {
  contact_id: number
  lead_id: number | null
  content_hash: string | null
  hubspot_updated_at: Date | null
  deleted_at: Date | null
  merged_into_contact_id: number | null
  purged_at: Date | null
  survivor_contact_id: number | null
}

/**
 * Reads the leads of the given contacts and the merges that absorbed them, with one
 * statement and no row locks. Each id is looked up on its own: a LATERAL subquery with
 * LIMIT cannot be turned into a join. A plain `= any(ids)` filter could, and with
 * statistics from a nearly empty table PostgreSQL 15 read every lead of the integration
 * instead. Each lookup still uses the unique index only if the plan was made for the
 * table's current size; `importContacts` forces custom plans for that reason.
 */
export async function readImportStates(
  sql: Queryable,
  integrationId: number,
  contactIds: number[],
): Promise<ImportStates> {
  if (contactIds.length === 0) return { leads: [], absorbed: [] }
  const rows = await sql<ImportStateRow[]>`
    select
      c.contact_id,
      l.id as lead_id,
      l.content_hash,
      l.hubspot_updated_at,
      l.deleted_at,
      l.merged_into_contact_id,
      l.purged_at,
      a.survivor_contact_id
    from unnest(${contactIds}::bigint[]) as c (contact_id)
    left join lateral (
      select id, content_hash, hubspot_updated_at, deleted_at, merged_into_contact_id, purged_at
      from leads
      where leads.integration_id = ${integrationId}
        and leads.hubspot_contact_id = c.contact_id
      limit 1
    ) as l on true
    left join lateral (
      select survivor_contact_id
      from absorbed_contacts
      where absorbed_contacts.integration_id = ${integrationId}
        and absorbed_contacts.absorbed_contact_id = c.contact_id
      limit 1
    ) as a on true
    where l.id is not null
      or a.survivor_contact_id is not null
  `
  return splitImportStates(rows)
}

function splitImportStates(rows: ImportStateRow[]): ImportStates {
  const states: ImportStates = { leads: [], absorbed: [] }
  for (const row of rows) {
    if (row.survivor_contact_id !== null) {
      states.absorbed.push({
        absorbed_contact_id: row.contact_id,
        survivor_contact_id: row.survivor_contact_id,
      })
    }
    if (row.lead_id === null || row.content_hash === null) continue
    states.leads.push({
      id: row.lead_id,
      hubspot_contact_id: row.contact_id,
      content_hash: row.content_hash,
      hubspot_updated_at: row.hubspot_updated_at,
      deleted_at: row.deleted_at,
      merged_into_contact_id: row.merged_into_contact_id,
      purged_at: row.purged_at,
    })
  }
  return states
}

/**
 * Inserts new leads and updates existing ones in one statement. The conflict update runs
 * only when the incoming contact is at least as new and its content differs, or when it
 * revives a soft-deleted lead with a modification time after the deletion; purged and
 * merged leads are never written. Rows left untouched are absent from the result, so the
 * caller learns which writes happened even when another transaction got there first.
 * Only the id comes back, because every other written column is a value the caller sent.
 * New leads keep a copy of the integration's actions, which decides their actions later.
 */
export async function upsertLeads(
  sql: Queryable,
  integrationId: number,
  rows: LeadUpsertRow[],
): Promise<UpsertedLeadRow[]> {
  if (rows.length === 0) return []
  return sql<UpsertedLeadRow[]>`
    insert into leads (
      integration_id,
      hubspot_contact_id,
      email,
      first_name,
      last_name,
      phone,
      company,
      job_title,
      lifecycle_stage,
      hubspot_owner_id,
      properties,
      hubspot_created_at,
      hubspot_updated_at,
      content_hash,
      import_actions
    )
    select
      ${integrationId}::bigint,
      x.hubspot_contact_id,
      x.email,
      x.first_name,
      x.last_name,
      x.phone,
      x.company,
      x.job_title,
      x.lifecycle_stage,
      x.hubspot_owner_id,
      x.properties,
      x.hubspot_created_at,
      x.hubspot_updated_at,
      x.content_hash,
      -- The actions in force at this statement, not when the run loaded the integration,
      -- so a change made during a long backfill applies to the leads created after it.
      (select actions from integrations where id = ${integrationId})
    from jsonb_to_recordset(${rows as never}::jsonb) as x (
      hubspot_contact_id bigint,
      email text,
      first_name text,
      last_name text,
      phone text,
      company text,
      job_title text,
      lifecycle_stage text,
      hubspot_owner_id text,
      properties jsonb,
      hubspot_created_at timestamptz,
      hubspot_updated_at timestamptz,
      content_hash text
    )
    -- One lock order for every importer, so two batches sharing contacts cannot deadlock.
    order by x.hubspot_contact_id
    on conflict (integration_id, hubspot_contact_id) do update set
      email = excluded.email,
      first_name = excluded.first_name,
      last_name = excluded.last_name,
      phone = excluded.phone,
      company = excluded.company,
      job_title = excluded.job_title,
      lifecycle_stage = excluded.lifecycle_stage,
      hubspot_owner_id = excluded.hubspot_owner_id,
      properties = excluded.properties,
      hubspot_created_at = excluded.hubspot_created_at,
      hubspot_updated_at = excluded.hubspot_updated_at,
      content_hash = excluded.content_hash,
      deleted_at = null,
      updated_at = now()
    where leads.purged_at is null
      and leads.merged_into_contact_id is null
      and (
        leads.hubspot_updated_at is null
        or excluded.hubspot_updated_at >= leads.hubspot_updated_at
      )
      and (
        (leads.deleted_at is null and excluded.content_hash <> leads.content_hash)
        or (leads.deleted_at is not null and excluded.hubspot_updated_at > leads.deleted_at)
      )
    returning id, hubspot_contact_id, (xmax = 0) as inserted
  `
}

export interface MergeMark {
  absorbedContactId: number
  survivorContactId: number
}

export interface MarkedMergeRow {
  id: number
  hubspot_contact_id: number
  merged_into_contact_id: number
}

/**
 * Points each absorbed contact's lead at its survivor, leaving leads that already point
 * there alone. Returns the leads it changed.
 */
export async function markLeadsMerged(
  sql: Queryable,
  integrationId: number,
  marks: MergeMark[],
): Promise<MarkedMergeRow[]> {
  if (marks.length === 0) return []
  const rows = marks.map((mark) => ({
    absorbed_id: mark.absorbedContactId,
    survivor_id: mark.survivorContactId,
  }))
  // One lookup per absorbed id, as in readImportStates.
  return sql<MarkedMergeRow[]>`
    update leads
    set merged_into_contact_id = marks.survivor_id,
        updated_at = now()
    from (
      select
        found.id,
        x.survivor_id
      from jsonb_to_recordset(${rows as never}::jsonb) as x (absorbed_id bigint, survivor_id bigint)
      cross join lateral (
        select id
        from leads
        where leads.integration_id = ${integrationId}
          and leads.hubspot_contact_id = x.absorbed_id
        limit 1
      ) as found
    ) as marks
    where leads.id = marks.id
      and leads.merged_into_contact_id is distinct from marks.survivor_id
    returning leads.id, leads.hubspot_contact_id, leads.merged_into_contact_id
  `
}

/** Reads whole leads for the given contacts, for events about leads the upsert left alone. */
export async function readLeadsByContacts(
  sql: Queryable,
  integrationId: number,
  contactIds: number[],
): Promise<LeadRow[]> {
  if (contactIds.length === 0) return []
  // One lookup per id, as in readImportStates.
  return sql<LeadRow[]>`
    select found.*
    from unnest(${contactIds}::bigint[]) as c (contact_id)
    cross join lateral (
      select ${sql(leadColumns)}
      from leads
      where leads.integration_id = ${integrationId}
        and leads.hubspot_contact_id = c.contact_id
      limit 1
    ) as found
  `
}
