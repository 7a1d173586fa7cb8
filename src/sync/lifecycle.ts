import { mapDatabaseError, type Sql } from '../db/connection.js'
import type { Integration } from '../db/integrations.js'
import { purgeLeads, restoreLeads, softDeleteLeads, type ContactAt } from '../db/leadLifecycle.js'
import { toLead } from '../db/leads.js'
import { insertOutboxEvents } from '../db/outbox.js'
import { eraseContactCopies, findAbsorbedContactIds, purgeExistingLeads } from '../db/privacy.js'
import { deterministicEventId } from '../events/eventIds.js'
import {
  buildLeadDeletedEvent,
  buildLeadPurgedEvent,
  buildLeadRestoredEvent,
  type LeadOrigin,
} from '../events/leadEvents.js'
import { Subject } from '../events/subjects.js'

export type { ContactAt }

/** Who applies a lifecycle change: the integration and where the news came from. */
export interface LifecycleTarget {
  integration: Pick<Integration, 'id' | 'portalId'>
  origin: LeadOrigin
}

/**
 * Soft-deletes the leads of deleted contacts and queues leads.deleted for each lead that
 * changed, in one transaction. Returns the number of leads deleted.
 */
export async function deleteContacts(sql: Sql, target: LifecycleTarget, items: ContactAt[]): Promise<number> {
  if (items.length === 0) return 0
  return runInTransaction(sql, 'deleteContacts', async (tx) => {
    const rows = await softDeleteLeads(tx, target.integration.id, items)
    const events = rows.map((row) =>
      buildLeadDeletedEvent(toLead(row), {
        portalId: target.integration.portalId,
        origin: target.origin,
        deletedAt: row.deleted_at as Date,
      }),
    )
    await insertOutboxEvents(tx, events)
    return rows.length
  })
}

/**
 * Revives the soft-deleted leads of restored contacts and queues leads.restored for each.
 * The event id names the deletion being undone, so a second delete-and-restore of an
 * unchanged contact is announced again. Returns the number of leads revived.
 */
export async function restoreContacts(sql: Sql, target: LifecycleTarget, items: ContactAt[]): Promise<number> {
  if (items.length === 0) return 0
  return runInTransaction(sql, 'restoreContacts', async (tx) => {
    const deletedAtByContact = await deletionTimes(tx, target.integration.id, items)
    const rows = await restoreLeads(tx, target.integration.id, items)
    const events = rows.map((row) => {
      const event = buildLeadRestoredEvent(toLead(row), {
        portalId: target.integration.portalId,
        origin: target.origin,
      })
      const deletedAt = deletedAtByContact.get(row.hubspot_contact_id) ?? ''
      return { ...event, id: deterministicEventId(Subject.leadsRestored, row.id, deletedAt) }
    })
    await insertOutboxEvents(tx, events)
    return rows.length
  })
}

async function deletionTimes(tx: Sql, integrationId: number, items: ContactAt[]): Promise<Map<number, string>> {
  const ids = items.map((item) => item.contactId)
  const rows = await tx<{ hubspot_contact_id: number; deleted_at: Date }[]>`
    select hubspot_contact_id, deleted_at
    from leads
    where integration_id = ${integrationId}
      and hubspot_contact_id = any(${ids}::bigint[])
      and deleted_at is not null
    for update
  `
  return new Map(rows.map((row) => [row.hubspot_contact_id, row.deleted_at.toISOString()]))
}

/**
 * Raises `hubspot_updated_at` of live leads to the time their contact was restored. A
 * deletion from before the restore that is delivered after it is then stale, because
 * `softDeleteLeads` skips leads HubSpot modified after the deletion. Without it a restore of an unchanged
 * contact leaves no trace, because the import writes nothing for unchanged content. Call it
 * after the restored contacts were read, so the read is never judged against this time.
 * Returns the number of leads stamped.
 */
export async function recordRestoreTimes(sql: Sql, target: LifecycleTarget, items: ContactAt[]): Promise<number> {
  if (items.length === 0) return 0
  const recordset = items.map((item) => ({ contact_id: item.contactId, at: item.at.toISOString() }))
  try {
    const rows = await sql`
      update leads
      set hubspot_updated_at = x.at,
          updated_at = now()
      from jsonb_to_recordset(${recordset as never}::jsonb) as x (contact_id bigint, at timestamptz)
      where leads.integration_id = ${target.integration.id}
        and leads.hubspot_contact_id = x.contact_id
        and leads.deleted_at is null
        and leads.purged_at is null
        and leads.merged_into_contact_id is null
        and (leads.hubspot_updated_at is null or leads.hubspot_updated_at < x.at)
      returning leads.id
    `
    return rows.length
  } catch (error) {
    throw mapDatabaseError(error, 'recordRestoreTimes')
  }
}

/**
 * Erases the personal data of privacy-deleted contacts, keeping a tombstone, and queues
 * leads.purged (ids only) for every lead that existed. HubSpot sends the privacy deletion
 * for the merge survivor only, so the leads merged into it, through chains of merges, are
 * purged too. The copies kept beside the leads (outbox events, dead letters, webhook events)
 * are erased in the same transaction. A later deletion or import never undoes it. Returns
 * the number of existing leads purged.
 */
export async function purgeContacts(sql: Sql, target: LifecycleTarget, items: ContactAt[]): Promise<number> {
  if (items.length === 0) return 0
  const { id: integrationId, portalId } = target.integration
  return runInTransaction(sql, 'purgeContacts', async (tx) => {
    const survivors = await purgeLeads(tx, integrationId, items)
    const contactIds = items.map((item) => item.contactId)
    const absorbedIds = await findAbsorbedContactIds(tx, integrationId, contactIds)
    const absorbed = await purgeExistingLeads(tx, integrationId, absorbedIds)

    await eraseContactCopies(tx, { integrationId, portalId, contactIds: [...contactIds, ...absorbedIds] })

    const purged = [...survivors.filter((row) => !row.inserted), ...absorbed]
    const events = purged.map((row) =>
      buildLeadPurgedEvent(
        {
          leadId: row.id,
          integrationId,
          hubspotContactId: row.hubspot_contact_id,
          purgedAt: row.purged_at,
        },
        { portalId, origin: target.origin },
      ),
    )
    await insertOutboxEvents(tx, events)
    return purged.length
  })
}

async function runInTransaction<T>(sql: Sql, name: string, work: (tx: Sql) => Promise<T>): Promise<T> {
  try {
    return (await sql.begin((tx) => work(tx as unknown as Sql))) as T
  } catch (error) {
    throw mapDatabaseError(error, name)
  }
}
