import { seal } from '../crypto.js'
import type { Queryable } from './connection.js'
import { credentialsAssociatedData, type AuthType, type Credentials, type Integration } from './integrations.js'

export interface NewCredentials {
  authType: AuthType
  credentials: Credentials
  accessTokenExpiresAt: Date | null
}

/**
 * Stores new credentials for an integration, possibly of the other auth type. An integration
 * that was marked needs_reauth becomes active again; a paused one stays paused.
 */
export async function reauthorizeIntegration(
  sql: Queryable,
  key: Buffer,
  integration: Pick<Integration, 'id' | 'portalId'>,
  input: NewCredentials,
): Promise<void> {
  const sealed = seal(key, input.credentials, credentialsAssociatedData(integration.portalId))
  await sql`
    update integrations
    set auth_type = ${input.authType},
        credentials = ${sealed},
        access_token_expires_at = ${input.accessTokenExpiresAt},
        status = case when status = 'needs_reauth' then 'active' else status end,
        status_reason = case when status = 'needs_reauth' then null else status_reason end,
        updated_at = now()
    where id = ${integration.id}
  `
}
