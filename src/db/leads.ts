import { errors } from '../errors.js'
import type { Queryable } from './connection.js'

/**
 * Names of a lead's mapped fields: the typed columns the import maps from HubSpot contact
 * properties. Lead events and action events carry these fields, and action conditions name them.
 */
export const mappedFieldNames = [
  'email',
  'firstName',
  'lastName',
  'phone',
  'company',
  'jobTitle',
  'lifecycleStage',
  'hubspotOwnerId',
] as const

export type MappedFieldName = (typeof mappedFieldNames)[number]

/** A lead's mapped fields, null where the contact property is missing or empty. */
export type LeadMappedFields = Record<MappedFieldName, string | null>

/** The mapped fields as the `leads` columns store them. */
export interface LeadMappedColumns {
  email: string | null
  first_name: string | null
  last_name: string | null
  phone: string | null
  company: string | null
  job_title: string | null
  lifecycle_stage: string | null
  hubspot_owner_id: string | null
}

export interface LeadRow extends LeadMappedColumns {
  id: number
  integration_id: number
  hubspot_contact_id: number
  properties: Record<string, string | null>
  hubspot_created_at: Date | null
  hubspot_updated_at: Date | null
  content_hash: string
  deleted_at: Date | null
  merged_into_contact_id: number | null
  purged_at: Date | null
  assigned_user_id: number | null
  assigned_team_id: string | null
  assigned_at: Date | null
  import_actions: Record<string, unknown> | null
  created_at: Date
  updated_at: Date
}

/** A lead as services and routes see it. */
export interface Lead extends LeadMappedFields {
  id: number
  integrationId: number
  hubspotContactId: number
  properties: Record<string, string | null>
  hubspotCreatedAt: Date | null
  hubspotUpdatedAt: Date | null
  contentHash: string
  deletedAt: Date | null
  mergedIntoContactId: number | null
  purgedAt: Date | null
  assignedUserId: number | null
  assignedTeamId: string | null
  assignedAt: Date | null
  importActions: Record<string, unknown> | null
  createdAt: Date
  updatedAt: Date
}

export const leadColumns = [
  'id',
  'integration_id',
  'hubspot_contact_id',
  'email',
  'first_name',
  'last_name',
  'phone',
  'company',
  'job_title',
  'lifecycle_stage',
  'hubspot_owner_id',
  'properties',
  'hubspot_created_at',
  'hubspot_updated_at',
  'content_hash',
  'deleted_at',
  'merged_into_contact_id',
  'purged_at',
  'assigned_user_id',
  'assigned_team_id',
  'assigned_at',
  'import_actions',
  'created_at',
  'updated_at',
] as const

export function toLead(row: LeadRow): Lead {
  return {
    id: row.id,
    integrationId: row.integration_id,
    hubspotContactId: row.hubspot_contact_id,
    ...toMappedFields(row),
    properties: row.properties,
    hubspotCreatedAt: row.hubspot_created_at,
    hubspotUpdatedAt: row.hubspot_updated_at,
    contentHash: row.content_hash,
    deletedAt: row.deleted_at,
    mergedIntoContactId: row.merged_into_contact_id,
    purgedAt: row.purged_at,
    assignedUserId: row.assigned_user_id,
    assignedTeamId: row.assigned_team_id,
    assignedAt: row.assigned_at,
    importActions: row.import_actions,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export function toMappedFields(row: LeadMappedColumns): LeadMappedFields {
  return {
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    phone: row.phone,
    company: row.company,
    jobTitle: row.job_title,
    lifecycleStage: row.lifecycle_stage,
    hubspotOwnerId: row.hubspot_owner_id,
  }
}

/** Copies the mapped fields out of a lead, a mapped contact or anything else that has them. */
export function pickMappedFields(source: LeadMappedFields): LeadMappedFields {
  const entries = mappedFieldNames.map((name) => [name, source[name]])
  return Object.fromEntries(entries) as LeadMappedFields
}

/** The lead fields a lead event carries; a whole `Lead` fits. */
export type LeadEventFields = Pick<
  Lead,
  | MappedFieldName
  | 'id'
  | 'integrationId'
  | 'hubspotContactId'
  | 'hubspotCreatedAt'
  | 'hubspotUpdatedAt'
  | 'contentHash'
>

export async function findLead(sql: Queryable, id: number): Promise<Lead | null> {
  const [row] = await sql<LeadRow[]>`
    select ${sql(leadColumns)}
    from leads
    where id = ${id}
  `
  return row ? toLead(row) : null
}

export async function getLead(sql: Queryable, id: number): Promise<Lead> {
  const lead = await findLead(sql, id)
  if (!lead) throw errors.notFound('Lead', id)
  return lead
}

export async function findLeadByContact(
  sql: Queryable,
  integrationId: number,
  hubspotContactId: number,
): Promise<Lead | null> {
  const [row] = await sql<LeadRow[]>`
    select ${sql(leadColumns)}
    from leads
    where integration_id = ${integrationId}
      and hubspot_contact_id = ${hubspotContactId}
  `
  return row ? toLead(row) : null
}

export interface LeadPage {
  leads: Lead[]
  /** The `after` value for the next page, or null on the last page. */
  nextAfter: number | null
}

export interface ListLeadsOptions {
  /** Page size; default 100, at most 1000. */
  limit?: number
  /** Returns leads with an id greater than this one (keyset paging). */
  after?: number | null
}

/** Lists an integration's leads in id order, one keyset page at a time. */
export async function listLeads(
  sql: Queryable,
  integrationId: number,
  options: ListLeadsOptions = {},
): Promise<LeadPage> {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000)
  const rows = await sql<LeadRow[]>`
    select ${sql(leadColumns)}
    from leads
    where integration_id = ${integrationId}
      and id > ${options.after ?? 0}
    order by id
    limit ${limit + 1}
  `
  const hasMore = rows.length > limit
  const page = hasMore ? rows.slice(0, limit) : rows
  return {
    leads: page.map(toLead),
    nextAfter: hasMore ? page[page.length - 1].id : null,
  }
}
