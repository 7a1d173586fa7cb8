import type { Fragment } from 'postgres'

import type { Queryable } from './connection.js'
import { leadColumns, type LeadRow } from './leads.js'

/** A contact and the HubSpot time of the change applied to its lead. */
export interface ContactAt {
  contactId: number
  at: Date
}

/** Turns the items into a table `x (contact_id, at)` for a `from` clause. */
function contactTimesTable(sql: Queryable, items: ContactAt[]): Fragment {
  const rows = items.map((item) => ({ contact_id: item.contactId, at: item.at.toISOString() }))
  return sql`
    jsonb_to_recordset(${rows as never}::jsonb) as x (contact_id bigint, at timestamptz)
  `
}

/**
 * Soft-deletes live leads, stamping `deleted_at` with the HubSpot time of the deletion.
 * A lead HubSpot modified after that time was restored since, so it is left alone, as are
 * purged and merged leads. Returns the leads it deleted.
 */
export async function softDeleteLeads(
  sql: Queryable,
  integrationId: number,
  items: ContactAt[],
): Promise<LeadRow[]> {
  return updateUnretiredLeads(sql, integrationId, items, {
    set: sql`deleted_at = x.at`,
    where: sql`
      leads.deleted_at is null
      and (leads.hubspot_updated_at is null or leads.hubspot_updated_at <= x.at)
    `,
  })
}

/**
 * Revives soft-deleted leads whose deletion happened at or before the restore. Purged and
 * merged leads stay retired. Returns the leads it revived.
 */
export async function restoreLeads(
  sql: Queryable,
  integrationId: number,
  items: ContactAt[],
): Promise<LeadRow[]> {
  return updateUnretiredLeads(sql, integrationId, items, {
    set: sql`deleted_at = null`,
    where: sql`
      leads.deleted_at is not null
      and leads.deleted_at <= x.at
    `,
  })
}

interface LeadChange {
  /** The assignments, in which `x.at` is the HubSpot time of the contact's change. */
  set: Fragment
  /** Conditions beside the contact match, which may read `x.at` too. */
  where: Fragment
}

/**
 * Applies `change` to the leads of the items' contacts, leaving purged and merged leads
 * alone. Returns the leads it changed.
 */
async function updateUnretiredLeads(
  sql: Queryable,
  integrationId: number,
  items: ContactAt[],
  change: LeadChange,
): Promise<LeadRow[]> {
  if (items.length === 0) return []
  return sql<LeadRow[]>`
    update leads
    set ${change.set},
        updated_at = now()
    from ${contactTimesTable(sql, items)}
    where leads.integration_id = ${integrationId}
      and leads.hubspot_contact_id = x.contact_id
      and leads.purged_at is null
      and leads.merged_into_contact_id is null
      and ${change.where}
    returning ${sql(leadColumns)}
  `
}

export interface PurgedLeadRow {
  id: number
  hubspot_contact_id: number
  purged_at: Date
  /** True when no lead existed and a bare tombstone was inserted. */
  inserted: boolean
}

/** The content hash of an erased lead; no real property set hashes to it. */
export const purgedContentHash = 'purged'

/**
 * Erases the personal columns and raw properties of the contacts' leads and stamps
 * `purged_at` (and `deleted_at`, when unset). A contact without a lead gets a bare
 * tombstone row, so a late creation event or a lagging poll cannot bring the person back.
 * Leads already purged are left alone. Returns the rows it purged or inserted.
 */
export async function purgeLeads(
  sql: Queryable,
  integrationId: number,
  items: ContactAt[],
): Promise<PurgedLeadRow[]> {
  if (items.length === 0) return []
  return sql<PurgedLeadRow[]>`
    insert into leads (
      integration_id,
      hubspot_contact_id,
      content_hash,
      deleted_at,
      purged_at
    )
    select ${integrationId}::bigint, x.contact_id, ${purgedContentHash}, x.at, now()
    from ${contactTimesTable(sql, items)}
    order by x.contact_id
    on conflict (integration_id, hubspot_contact_id) do update set
      ${erasedLeadColumns(sql)},
      deleted_at = coalesce(leads.deleted_at, excluded.deleted_at),
      purged_at = now(),
      updated_at = now()
    where leads.purged_at is null
    returning id, hubspot_contact_id, purged_at, (xmax = 0) as inserted
  `
}

/**
 * Builds the assignments that erase a lead's personal columns and raw properties, for the
 * `set` list of an update. The caller sets `purged_at` and `updated_at`.
 */
export function erasedLeadColumns(sql: Queryable): Fragment {
  return sql`
    email = null,
    first_name = null,
    last_name = null,
    phone = null,
    company = null,
    job_title = null,
    lifecycle_stage = null,
    hubspot_owner_id = null,
    properties = '{}'::jsonb,
    content_hash = ${purgedContentHash}
  `
}

export type LeadState = 'live' | 'deleted' | 'retired'

export interface LeadStateInRange {
  hubspot_contact_id: number
  /** `retired` is merged or purged: the contact id is gone from HubSpot for good. */
  state: LeadState
}

/**
 * Lists an integration's leads with contact ids in `(afterId, upToId]` (an open end when
 * `upToId` is null) in id order, with their state.
 */
export async function listLeadStatesInRange(
  sql: Queryable,
  integrationId: number,
  afterId: number,
  upToId: number | null,
): Promise<LeadStateInRange[]> {
  return sql<LeadStateInRange[]>`
    select
      hubspot_contact_id,
      case
        when purged_at is not null or merged_into_contact_id is not null then 'retired'
        when deleted_at is not null then 'deleted'
        else 'live'
      end as state
    from leads
    where integration_id = ${integrationId}
      and hubspot_contact_id > ${afterId}
      and (${upToId}::bigint is null or hubspot_contact_id <= ${upToId}::bigint)
    order by hubspot_contact_id
  `
}

/** Returns which of the given contacts have a lead not yet pointed at a merge survivor. */
export async function findUnmergedLeadContacts(
  sql: Queryable,
  integrationId: number,
  contactIds: number[],
): Promise<number[]> {
  if (contactIds.length === 0) return []
  const rows = await sql<{ hubspot_contact_id: number }[]>`
    select hubspot_contact_id
    from leads
    where integration_id = ${integrationId}
      and hubspot_contact_id = any(${contactIds}::bigint[])
      and merged_into_contact_id is null
  `
  return rows.map((row) => row.hubspot_contact_id)
}
