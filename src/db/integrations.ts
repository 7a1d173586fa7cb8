import { open, seal } from '../crypto.js'
import { errors } from '../errors.js'
import type { Queryable } from './connection.js'
import { mapDatabaseError } from './connection.js'

export type AuthType = 'private_app' | 'oauth'
export type IntegrationStatus = 'active' | 'paused' | 'needs_reauth'

/** The secret part of an integration, only ever held sealed in the database. */
export interface Credentials {
  accessToken?: string
  refreshToken?: string
}

export interface IntegrationRow {
  id: number
  portal_id: number
  name: string
  auth_type: AuthType
  credentials: Buffer
  access_token_expires_at: Date | null
  status: IntegrationStatus
  status_reason: string | null
  actions: Record<string, unknown>
  burst_per_10_seconds: number | null
  owner_user_id: number | null
  created_at: Date
  updated_at: Date
}

/** An integration as routes and services see it: no credentials. */
export interface Integration {
  id: number
  portalId: number
  name: string
  authType: AuthType
  accessTokenExpiresAt: Date | null
  status: IntegrationStatus
  statusReason: string | null
  actions: Record<string, unknown>
  burstPer10Seconds: number | null
  ownerUserId: number | null
  createdAt: Date
  updatedAt: Date
}

const columns = [
  'id',
  'portal_id',
  'name',
  'auth_type',
  'access_token_expires_at',
  'status',
  'status_reason',
  'actions',
  'burst_per_10_seconds',
  'owner_user_id',
  'created_at',
  'updated_at',
] as const

export function toIntegration(row: Omit<IntegrationRow, 'credentials'>): Integration {
  return {
    id: row.id,
    portalId: row.portal_id,
    name: row.name,
    authType: row.auth_type,
    accessTokenExpiresAt: row.access_token_expires_at,
    status: row.status,
    statusReason: row.status_reason,
    actions: row.actions,
    burstPer10Seconds: row.burst_per_10_seconds,
    ownerUserId: row.owner_user_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** Binds sealed credentials to their portal, so a sealed value moved to another row fails. */
export function credentialsAssociatedData(portalId: number): string {
  return `hubspot-sync:integration:portal:${portalId}`
}

export interface NewIntegration {
  portalId: number
  name: string
  authType: AuthType
  credentials: Credentials
  accessTokenExpiresAt: Date | null
  actions: Record<string, unknown>
  burstPer10Seconds: number | null
  ownerUserId: number | null
}

export async function insertIntegration(
  sql: Queryable,
  key: Buffer,
  input: NewIntegration,
): Promise<Integration> {
  const sealed = seal(key, input.credentials, credentialsAssociatedData(input.portalId))
  try {
    const [row] = await sql<IntegrationRow[]>`
      insert into integrations (
        portal_id, name, auth_type, credentials, access_token_expires_at,
        actions, burst_per_10_seconds, owner_user_id
      ) values (
        ${input.portalId}, ${input.name}, ${input.authType}, ${sealed},
        ${input.accessTokenExpiresAt}, ${input.actions as never},
        ${input.burstPer10Seconds}, ${input.ownerUserId}
      )
      returning ${sql(columns)}
    `
    return toIntegration(row)
  } catch (error) {
    const mapped = mapDatabaseError(error, 'insertIntegration')
    if (mapped.statusCode === 409) {
      throw errors.conflict(`Portal ${input.portalId} already has an integration`, {
        portalId: input.portalId,
      })
    }
    throw mapped
  }
}

export async function findIntegration(sql: Queryable, id: number): Promise<Integration | null> {
  const [row] = await sql<IntegrationRow[]>`
    select ${sql(columns)} from integrations where id = ${id}
  `
  return row ? toIntegration(row) : null
}

export async function getIntegration(sql: Queryable, id: number): Promise<Integration> {
  const integration = await findIntegration(sql, id)
  if (!integration) throw errors.notFound('Integration', id)
  return integration
}

export async function findIntegrationByPortal(
  sql: Queryable,
  portalId: number,
): Promise<Integration | null> {
  const [row] = await sql<IntegrationRow[]>`
    select ${sql(columns)} from integrations where portal_id = ${portalId}
  `
  return row ? toIntegration(row) : null
}

export async function listIntegrations(sql: Queryable): Promise<Integration[]> {
  const rows = await sql<IntegrationRow[]>`
    select ${sql(columns)} from integrations order by id
  `
  return rows.map(toIntegration)
}

export async function listActiveIntegrations(sql: Queryable): Promise<Integration[]> {
  const rows = await sql<IntegrationRow[]>`
    select ${sql(columns)} from integrations where status = 'active' order by id
  `
  return rows.map(toIntegration)
}

export interface IntegrationPatch {
  name?: string
  status?: 'active' | 'paused'
  actions?: Record<string, unknown>
  burstPer10Seconds?: number | null
  ownerUserId?: number | null
}

export async function updateIntegration(
  sql: Queryable,
  id: number,
  patch: IntegrationPatch,
): Promise<Integration> {
  const [row] = await sql<IntegrationRow[]>`
    update integrations set
      name = coalesce(${patch.name ?? null}, name),
      status = coalesce(${patch.status ?? null}, status),
      status_reason = case when ${patch.status ?? null}::text is null then status_reason else null end,
      actions = coalesce(${(patch.actions ?? null) as never}::jsonb, actions),
      burst_per_10_seconds = case when ${patch.burstPer10Seconds !== undefined}
        then ${patch.burstPer10Seconds ?? null}::int else burst_per_10_seconds end,
      owner_user_id = case when ${patch.ownerUserId !== undefined}
        then ${patch.ownerUserId ?? null}::bigint else owner_user_id end,
      updated_at = now()
    where id = ${id}
    returning ${sql(columns)}
  `
  if (!row) throw errors.notFound('Integration', id)
  return toIntegration(row)
}

/** Opens the sealed credentials of one integration row. */
export function openCredentials(
  key: Buffer,
  row: Pick<IntegrationRow, 'credentials' | 'portal_id'>,
): Credentials {
  return open<Credentials>(key, row.credentials, credentialsAssociatedData(row.portal_id))
}

/** Reads and opens the sealed credentials of one integration. */
export async function readCredentials(sql: Queryable, key: Buffer, id: number): Promise<Credentials> {
  const [row] = await sql<Pick<IntegrationRow, 'credentials' | 'portal_id'>[]>`
    select credentials, portal_id from integrations where id = ${id}
  `
  if (!row) throw errors.notFound('Integration', id)
  return openCredentials(key, row)
}

export async function replaceCredentials(
  sql: Queryable,
  key: Buffer,
  integration: Pick<Integration, 'id' | 'portalId'>,
  credentials: Credentials,
  accessTokenExpiresAt: Date | null,
): Promise<void> {
  const sealed = seal(key, credentials, credentialsAssociatedData(integration.portalId))
  await sql`
    update integrations
    set credentials = ${sealed},
        access_token_expires_at = ${accessTokenExpiresAt},
        updated_at = now()
    where id = ${integration.id}
  `
}

/** Marks an integration whose OAuth grant was revoked; its runs fail until it is re-authorised. */
export async function markNeedsReauth(sql: Queryable, id: number, reason: string): Promise<void> {
  await sql`
    update integrations
    set status = 'needs_reauth', status_reason = ${reason}, updated_at = now()
    where id = ${id}
  `
}
