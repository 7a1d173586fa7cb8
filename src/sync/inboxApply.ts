import type { Sql } from '../db/connection.js'
import type { Integration } from '../db/integrations.js'
import { eraseWebhookEventsOfPurgedContacts } from '../db/privacy.js'
import type { HubSpotClients } from '../hubspot/client.js'
import { refreshContacts, type RefreshResult } from './contactRefresh.js'
import type { PortalPlan } from './inboxPlan.js'
import {
  deleteContacts,
  purgeContacts,
  recordRestoreTimes,
  restoreContacts,
  type ContactAt,
  type LifecycleTarget,
} from './lifecycle.js'

export interface AppliedPlan {
  purged: number
  deleted: number
  restored: number
  refresh: RefreshResult
}

/**
 * Applies one integration's coalesced events: privacy deletions first (nothing later may
 * bring the person back), then deletions and restores, then one batch read of every
 * contact that was created, changed, restored or merged, imported with origin `webhook`.
 * Then the restore times are recorded, so a deletion delivered late stays stale. Last, the
 * property values of events about purged contacts are erased: HubSpot can deliver an event
 * again after the privacy deletion, and the inbox stores it anew.
 * Each step is idempotent, so a retry after a failure part-way repeats nothing visible.
 */
export async function applyPortalPlan(
  sql: Sql,
  clients: HubSpotClients,
  integration: Integration,
  plan: PortalPlan,
): Promise<AppliedPlan> {
  const target: LifecycleTarget = { integration, origin: 'webhook' }
  const purging = plan.contacts.filter((contact) => contact.purgeAt !== null)
  const live = plan.contacts.filter((contact) => contact.purgeAt === null)

  const purged = await purgeContacts(
    sql,
    target,
    purging.map((contact) => ({ contactId: contact.contactId, at: contact.purgeAt as Date })),
  )
  const deleted = await deleteContacts(
    sql,
    target,
    live
      .filter((contact) => contact.deleteAt !== null)
      .map((contact) => ({ contactId: contact.contactId, at: contact.deleteAt as Date })),
  )
  const restores: ContactAt[] = live
    .filter((contact) => contact.restoreAt !== null)
    .map((contact) => ({ contactId: contact.contactId, at: contact.restoreAt as Date }))
  const restored = await restoreContacts(sql, target, restores)

  const purgedIds = new Set(purging.map((contact) => contact.contactId))
  const toRead = [
    ...live.filter((contact) => contact.read).map((contact) => contact.contactId),
    ...plan.merges.flatMap((merge) => [merge.survivorId, ...merge.absorbedIds]),
  ].filter((contactId) => !purgedIds.has(contactId))

  const refresh = await refreshContacts({
    sql,
    api: clients.forIntegration(integration),
    integration,
    origin: 'webhook',
    contactIds: toRead,
    merges: plan.merges,
  })
  await recordRestoreTimes(sql, target, restores)
  await eraseWebhookEventsOfPurgedContacts(sql, {
    integrationId: integration.id,
    portalId: integration.portalId,
    contactIds: [...plan.contacts.map((contact) => contact.contactId), ...toRead],
  })
  return { purged, deleted, restored, refresh }
}
