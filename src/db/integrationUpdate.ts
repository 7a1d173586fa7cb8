import { errors } from '../errors.js'
import type { Sql } from './connection.js'
import { reauthorizeIntegration, type NewCredentials } from './integrationCredentials.js'
import { getIntegration, updateIntegration, type Integration, type IntegrationPatch } from './integrations.js'

/** A validated change to one integration: field changes and, optionally, new credentials. */
export interface IntegrationUpdate {
  patch: IntegrationPatch
  credentials: NewCredentials | null
}

/**
 * Applies an update to an integration in one transaction, for `PATCH /integrations/:id` and
 * `hubspot-sync integrations update`. New credentials return a needs_reauth integration to
 * active. `encryptionKey` is called only when there are credentials to seal.
 * Throws NOT_FOUND for an unknown id and CONFLICT when activating a needs_reauth
 * integration without new credentials.
 */
export async function applyIntegrationUpdate(
  sql: Sql,
  id: number,
  update: IntegrationUpdate,
  encryptionKey: () => Buffer | Promise<Buffer>,
): Promise<Integration> {
  const { patch, credentials } = update
  const current = await getIntegration(sql, id)
  checkReactivation(current, patch.status, credentials)
  const key = credentials ? await encryptionKey() : null

  return sql.begin(async (tx) => {
    if (credentials && key) await reauthorizeIntegration(tx, key, current, credentials)
    return updateIntegration(tx, current.id, patch)
  })
}

/** Rejects activating a needs_reauth integration without new credentials. */
function checkReactivation(
  current: Integration,
  status: 'active' | 'paused' | undefined,
  credentials: NewCredentials | null,
): void {
  if (current.status !== 'needs_reauth' || status !== 'active' || credentials) return
  throw errors.conflict(
    `Integration ${current.id} needs re-authorisation; send new accessToken or oauth credentials to activate it`,
    { integrationId: current.id, status: current.status },
  )
}
