import type { Fragment } from 'postgres'

import { errors } from '../errors.js'
import type { Queryable } from './connection.js'
import {
  openCredentials,
  type AuthType,
  type Credentials,
  type IntegrationRow,
  type IntegrationStatus,
} from './integrations.js'

/** The opened credentials of one integration with the columns that decide whether to refresh. */
export interface StoredCredentials {
  authType: AuthType
  status: IntegrationStatus
  statusReason: string | null
  credentials: Credentials
  accessTokenExpiresAt: Date | null
}

type CredentialsRow = Pick<
  IntegrationRow,
  'auth_type' | 'status' | 'status_reason' | 'credentials' | 'portal_id' | 'access_token_expires_at'
>

/** Reads and opens the credentials of an integration without locking its row. */
export async function findStoredCredentials(
  sql: Queryable,
  key: Buffer,
  integrationId: number,
): Promise<StoredCredentials> {
  return selectStoredCredentials(sql, key, integrationId, sql``)
}

/**
 * Locks the integration row until the transaction ends and opens its credentials, so one
 * replica at a time refreshes an OAuth token.
 */
export async function lockStoredCredentials(
  sql: Queryable,
  key: Buffer,
  integrationId: number,
): Promise<StoredCredentials> {
  return selectStoredCredentials(sql, key, integrationId, sql`for update`)
}

async function selectStoredCredentials(
  sql: Queryable,
  key: Buffer,
  integrationId: number,
  lockClause: Fragment,
): Promise<StoredCredentials> {
  const [row] = await sql<CredentialsRow[]>`
    select auth_type, status, status_reason, credentials, portal_id, access_token_expires_at
    from integrations
    where id = ${integrationId}
    ${lockClause}
  `
  if (!row) throw errors.notFound('Integration', integrationId)

  return {
    authType: row.auth_type,
    status: row.status,
    statusReason: row.status_reason,
    credentials: openCredentials(key, row),
    accessTokenExpiresAt: row.access_token_expires_at,
  }
}
