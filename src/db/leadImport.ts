import type { Queryable } from './connection.js'
import { leadColumns, leadEventColumns, type LeadEventRow, type LeadRow } from './leads.js'

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

/** One contact as the upsert writes it; times are ISO strings inside the JSON parameter. */
export interface LeadUpsertRow {
  hubspot_contact_id: number
  email: string | null
  first_name: string | null
  last_name: string | null
  phone: string | null
  company: string | null
  job_title: string | null
  lifecycle_stage: string | null
  hubspot_owner_id: string | null
  properties: Record<string, string | null>
  hubspot_created_at: string | null
  hubspot_updated_at: string
  content_hash: string
}

export type UpsertedLeadRow = LeadEventRow & { inserted: boolean }

/**
 * Reads the state of the given contacts' leads with one statement and takes no row locks.
 * NOTE: with statistics that show the integration as nearly empty, PostgreSQL 15 filters
 * all of the integration's leads here instead of looking up each id. The cost then grows
 * with the table until the table is analyzed again.
 */
export async function readLeadStates(
  sql: Queryable,
  integrationId: number,
  contactIds: number[],
): Promise<LeadStateRow[]> {
  if (contactIds.length === 0) return []
  return sql<LeadStateRow[]>`
    select
      id,
      hubspot_contact_id,
      content_hash,
      hubspot_updated_at,
      deleted_at,
      merged_into_contact_id,
      purged_at
    from leads
    where integration_id = ${integrationId}
      and hubspot_contact_id = any(${contactIds}::bigint[])
  `
}

/**
 * Inserts new leads and updates existing ones in one statement. The conflict update runs
 * only when the incoming contact is at least as new and its content differs, or when it
 * revives a soft-deleted lead with a modification time after the deletion; purged and
 * merged leads are never written. Rows left untouched are absent from the result, so the
 * caller learns which writes happened even when another transaction got there first.
 */
export async function upsertLeads(
  sql: Queryable,
  integrationId: number,
  importActions: Record<string, unknown>,
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
      ${importActions as never}::jsonb
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
    returning ${sql(leadEventColumns)}, (xmax = 0) as inserted
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
  return sql<MarkedMergeRow[]>`
    update leads
    set merged_into_contact_id = x.survivor_id,
        updated_at = now()
    from jsonb_to_recordset(${rows as never}::jsonb) as x (absorbed_id bigint, survivor_id bigint)
    where leads.integration_id = ${integrationId}
      and leads.hubspot_contact_id = x.absorbed_id
      and leads.merged_into_contact_id is distinct from x.survivor_id
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
  return sql<LeadRow[]>`
    select ${sql(leadColumns)}
    from leads
    where integration_id = ${integrationId}
      and hubspot_contact_id = any(${contactIds}::bigint[])
  `
}
