import { setTimeout as delay } from 'node:timers/promises'

import t from 'tap'

import type { ContactsApi } from '../../src/hubspot/client.js'
import { refreshContacts } from '../../src/sync/contactRefresh.js'
import { importContacts } from '../../src/sync/import.js'
import { deleteContacts, purgeContacts, recordRestoreTimes, restoreContacts } from '../../src/sync/lifecycle.js'
import { createTestDatabase } from '../helpers/database.js'
import { createIntegration, hubspotContact, lead, outboxEvents, outboxSubjects } from '../webhooks/fixtures/leads.js'
import { startPipeline } from '../webhooks/fixtures/pipeline.js'

const { sql } = await createTestDatabase(t)
let nextPortalId = 7100

async function integrationWithLead(contactId: number, updatedAt = '2024-03-01T00:00:00.000Z') {
  const integration = await createIntegration(sql, nextPortalId++)
  const contact = hubspotContact(contactId, { email: `c${contactId}@example.com`, firstname: 'Ada' }, updatedAt)
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact] })
  return integration
}

const at = (iso: string) => new Date(iso)

t.test('deletion soft-deletes once and publishes leads.deleted', async (t) => {
  const integration = await integrationWithLead(11)
  const target = { integration, origin: 'webhook' as const }
  t.equal(await deleteContacts(sql, target, [{ contactId: 11, at: at('2024-03-02T00:00:00Z') }]), 1)
  t.equal(await deleteContacts(sql, target, [{ contactId: 11, at: at('2024-03-03T00:00:00Z') }]), 0, 'second deletion is a no-op')
  t.equal(await deleteContacts(sql, target, [{ contactId: 999, at: at('2024-03-03T00:00:00Z') }]), 0, 'unknown contact')

  const row = await lead(sql, integration.id, 11)
  t.same(row?.deletedAt, at('2024-03-02T00:00:00Z'), 'deleted_at is the HubSpot deletion time')
  t.same(await outboxSubjects(sql, integration.id), ['leads.imported', 'leads.deleted'])
})

t.test('deletion older than the stored contact is stale', async (t) => {
  const integration = await integrationWithLead(12, '2024-03-05T00:00:00.000Z')
  const target = { integration, origin: 'webhook' as const }
  t.equal(await deleteContacts(sql, target, [{ contactId: 12, at: at('2024-03-04T00:00:00Z') }]), 0)
  t.equal((await lead(sql, integration.id, 12))?.deletedAt, null)
})

t.test('restore revives a deleted lead and each cycle is announced', async (t) => {
  const integration = await integrationWithLead(13)
  const target = { integration, origin: 'webhook' as const }
  await deleteContacts(sql, target, [{ contactId: 13, at: at('2024-03-02T00:00:00Z') }])
  t.equal(await restoreContacts(sql, target, [{ contactId: 13, at: at('2024-03-01T12:00:00Z') }]), 0, 'restore before the deletion is stale')
  t.equal(await restoreContacts(sql, target, [{ contactId: 13, at: at('2024-03-03T00:00:00Z') }]), 1)
  t.equal((await lead(sql, integration.id, 13))?.deletedAt, null)

  await deleteContacts(sql, target, [{ contactId: 13, at: at('2024-03-04T00:00:00Z') }])
  t.equal(await restoreContacts(sql, target, [{ contactId: 13, at: at('2024-03-05T00:00:00Z') }]), 1)
  const restored = await outboxEvents(sql, 'leads.restored')
  const ids = restored.filter((row) => row.payload.data.integrationId === integration.id).map((row) => row.payload.id)
  t.equal(new Set(ids).size, 2, 'two restores, two distinct event ids')
})

t.test('recorded restore makes an older deletion stale', async (t) => {
  const integration = await integrationWithLead(17)
  const target = { integration, origin: 'webhook' as const }
  const on = (iso: string) => [{ contactId: 17, at: at(iso) }]
  t.equal(await restoreContacts(sql, target, on('2024-03-03T00:00:00Z')), 0, 'nothing to revive')
  t.equal(await recordRestoreTimes(sql, target, on('2024-03-03T00:00:00Z')), 1, 'restore time recorded')
  t.equal(await recordRestoreTimes(sql, target, on('2024-03-02T00:00:00Z')), 0, 'never moves back')
  const stamped = await lead(sql, integration.id, 17)
  t.same(stamped?.hubspotUpdatedAt, at('2024-03-03T00:00:00Z'), 'hubspot_updated_at is the restore time')

  t.equal(await deleteContacts(sql, target, on('2024-03-02T12:00:00Z')), 0, 'deleted before the restore')
  t.equal((await lead(sql, integration.id, 17))?.deletedAt, null, 'still live')
  t.equal(await deleteContacts(sql, target, on('2024-03-04T00:00:00Z')), 1, 'deleted after the restore')
  t.equal(await recordRestoreTimes(sql, target, on('2024-03-05T00:00:00Z')), 0, 'deleted leads are left alone')
  t.same(await outboxSubjects(sql, integration.id), ['leads.imported', 'leads.deleted'])
})

t.test('purge erases personal data and keeps a tombstone', async (t) => {
  const integration = await integrationWithLead(14)
  const target = { integration, origin: 'webhook' as const }
  t.equal(await purgeContacts(sql, target, [{ contactId: 14, at: at('2024-03-02T00:00:00Z') }]), 1)
  t.equal(await purgeContacts(sql, target, [{ contactId: 14, at: at('2024-03-02T00:00:00Z') }]), 0, 'purged once')

  const row = await lead(sql, integration.id, 14)
  t.equal(row?.email, null)
  t.equal(row?.firstName, null)
  t.same(row?.properties, {})
  t.ok(row?.purgedAt, 'purged_at set')
  t.ok(row?.deletedAt, 'deleted_at set')

  const [purged] = (await outboxEvents(sql, 'leads.purged')).filter((e) => e.payload.data.integrationId === integration.id)
  t.same(Object.keys(purged.payload.data).sort(), ['hubspotContactId', 'integrationId', 'leadId', 'origin', 'portalId', 'purgedAt'])
  t.notMatch(JSON.stringify(purged.payload), /example\.com|Ada/, 'no personal data in the event')
})

t.test('deletion and restore never undo a purge', async (t) => {
  const integration = await integrationWithLead(15)
  const target = { integration, origin: 'webhook' as const }
  await purgeContacts(sql, target, [{ contactId: 15, at: at('2024-03-02T00:00:00Z') }])
  t.equal(await deleteContacts(sql, target, [{ contactId: 15, at: at('2024-03-03T00:00:00Z') }]), 0)
  t.equal(await restoreContacts(sql, target, [{ contactId: 15, at: at('2024-03-09T00:00:00Z') }]), 0)
  const later = hubspotContact(15, { email: 'back@example.com' }, '2024-03-10T00:00:00.000Z')
  const result = await importContacts(sql, { integration, origin: 'poll', contacts: [later] })
  t.equal(result.outcomes[0].reason, 'purged')
  t.equal((await lead(sql, integration.id, 15))?.email, null)
  t.same(await outboxSubjects(sql, integration.id), ['leads.imported', 'leads.purged'])
})

t.test('purge of an unknown contact leaves a tombstone that blocks a late import', async (t) => {
  const integration = await createIntegration(sql, nextPortalId++)
  const target = { integration, origin: 'webhook' as const }
  t.equal(await purgeContacts(sql, target, [{ contactId: 16, at: at('2024-03-02T00:00:00Z') }]), 0, 'nothing to announce')
  const late = hubspotContact(16, { email: 'late@example.com' }, '2024-03-01T00:00:00.000Z')
  const result = await importContacts(sql, { integration, origin: 'webhook', contacts: [late] })
  t.equal(result.outcomes[0].reason, 'purged')
  t.same(await outboxSubjects(sql, integration.id), [])
})

/**
 * Wraps a real client so that `afterRead` runs after each batch read responds, while the
 * service still waits for the response. `reads` lists the reads, with whether each was of
 * archived contacts.
 */
function withReadHook(api: ContactsApi, afterRead: (archived: boolean, count: number) => Promise<void> | void) {
  const reads: { archived: boolean }[] = []
  const wrapped: ContactsApi = {
    listContacts: (options) => api.listContacts(options),
    searchContacts: (request) => api.searchContacts(request),
    get stats() {
      return api.stats
    },
    async batchReadContacts(ids, options) {
      const result = await api.batchReadContacts(ids, options)
      reads.push({ archived: options?.archived === true })
      await afterRead(options?.archived === true, reads.length)
      return result
    },
  }
  return { wrapped, reads }
}

/**
 * Restores a contact right after the batch read of archived contacts, which confirms the
 * deletion. `state.restoredAt` is the restore time.
 */
function restoreAfterRead(api: ContactsApi, restore: () => Date) {
  const state = { restoredAt: null as Date | null }
  const { wrapped } = withReadHook(api, async (archived) => {
    if (!archived || state.restoredAt !== null) return
    // A few milliseconds on each side keep the restore apart from the read and the deletion.
    await delay(3)
    state.restoredAt = restore()
    await delay(3)
  })
  return { wrapped, state }
}

t.test('contact missing from a read is deleted as of the read', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email: 'gap@example.com', firstname: 'Before' }).id)
  const api = p.clients.forIntegration(p.integration)
  const request = { sql: p.db.sql, integration: p.integration, origin: 'webhook' as const, contactIds: [id] }
  await refreshContacts({ ...request, api })
  t.equal((await lead(p.db.sql, p.integration.id, id))?.firstName, 'Before', 'lead imported')

  p.sim.contacts.archive(id)
  const racing = restoreAfterRead(api, () => new Date(p.sim.contacts.restore(id).updatedAt))
  const result = await refreshContacts({ ...request, api: racing.wrapped })
  t.equal(result.deletedAsMissing, 1, 'lead deleted as missing')

  const restoredAt = racing.state.restoredAt as Date
  const deleted = await lead(p.db.sql, p.integration.id, id)
  t.ok(deleted?.deletedAt, 'deleted_at set')
  t.ok((deleted?.deletedAt as Date) < restoredAt, 'deletion is older than the restore HubSpot made after the read')

  const target = { integration: p.integration, origin: 'webhook' as const }
  t.equal(await restoreContacts(p.db.sql, target, [{ contactId: id, at: restoredAt }]), 1, 'restore event revives the lead')
  p.sim.contacts.update(id, { firstname: 'After' })
  await refreshContacts({ ...request, api })
  const revived = await lead(p.db.sql, p.integration.id, id)
  t.equal(revived?.deletedAt, null, 'lead live')
  t.equal(revived?.firstName, 'After', 'lead has the edit made after the restore')
})

t.test('contact gone from HubSpot is purged by a read', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email: 'gone@example.com', firstname: 'Gone' }).id)
  const archivedId = Number(p.sim.contacts.create({ email: 'binned@example.com', firstname: 'Binned' }).id)
  const api = p.clients.forIntegration(p.integration)
  const request = { sql: p.db.sql, integration: p.integration, origin: 'webhook' as const, contactIds: [id, archivedId] }
  await refreshContacts({ ...request, api })

  p.sim.contacts.gdprDelete(id)
  p.sim.contacts.archive(archivedId)
  const result = await refreshContacts({ ...request, api })
  t.equal(result.purgedAsErased, 1, 'one lead purged')
  t.equal(result.deletedAsMissing, 1, 'one lead soft-deleted')

  const purged = await lead(p.db.sql, p.integration.id, id)
  t.ok(purged?.purgedAt, 'the erased contact is purged')
  t.equal(purged?.email, null, 'its email is erased')
  t.equal(purged?.firstName, null, 'its name is erased')
  const archived = await lead(p.db.sql, p.integration.id, archivedId)
  t.ok(archived?.deletedAt, 'the archived contact is soft-deleted')
  t.equal(archived?.purgedAt, null, 'the archived contact is not purged')
  t.equal(archived?.email, 'binned@example.com', 'the archived contact keeps its data')
  t.same(await outboxSubjects(p.db.sql, p.integration.id), ['leads.imported', 'leads.imported', 'leads.deleted', 'leads.purged'])
})

t.test('contact restored between reads stays live', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email: 'back@example.com', firstname: 'Back' }).id)
  const api = p.clients.forIntegration(p.integration)
  const request = { sql: p.db.sql, integration: p.integration, origin: 'webhook' as const, contactIds: [id] }
  await refreshContacts({ ...request, api })

  p.sim.contacts.archive(id)
  const racing = withReadHook(api, (_archived, count) => {
    if (count === 1) p.sim.contacts.restore(id)
  })
  const result = await refreshContacts({ ...request, api: racing.wrapped })
  t.same(
    racing.reads.map((read) => read.archived),
    [false, true, false],
    'a live read, an archived read, and a second live read',
  )
  t.equal(result.deletedAsMissing, 0, 'nothing soft-deleted')
  t.equal(result.purgedAsErased, 0, 'nothing purged')
  const row = await lead(p.db.sql, p.integration.id, id)
  t.equal(row?.deletedAt, null, 'lead live')
  t.equal(row?.purgedAt, null, 'lead not purged')
  t.equal(row?.email, 'back@example.com', 'lead keeps its data')
})
