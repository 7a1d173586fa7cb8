import t from 'tap'

import { updateIntegration } from '../../src/db/integrations.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { importContacts } from '../../src/sync/import.js'
import { deleteContacts, purgeContacts } from '../../src/sync/lifecycle.js'
import { contact } from '../events/support.js'
import { createTestDatabase } from '../helpers/database.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import {
  actionEvents,
  allActions,
  countRows,
  createIntegration,
  silentLogger,
  startNats,
  startTestConsumer,
  waitFor,
  waitForRecords,
} from './support.js'

// The whole path: importContacts writes leads and outbox events, the relay publishes them,
// and the consumer acts only on leads.imported.
const { sql } = await createTestDatabase(t)
const nats = startNats(t, uniqueSubjectPrefix(t))
if (!(await nats.waitUntilConnected(10_000))) throw new Error('NATS at 127.0.0.1:4222 did not connect within 10 s')
const integration = await createIntegration(sql, 7_400_001, allActions)
const target = { integration, origin: 'poll' as const }

async function leadIdOf(contactId: number): Promise<number> {
  const [row] = await sql<{ id: number }[]>`
    select id from leads where integration_id = ${integration.id} and hubspot_contact_id = ${contactId}
  `
  return row.id
}

async function publishedCount(subject: string): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from outbox where subject = ${subject} and published_at is not null
  `
  return row.count
}

/** Starts the relay and the consumer once, for the rest of the file. */
function startPipeline(): void {
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 50 })
  t.teardown(() => relay.stop())
  startTestConsumer(t, { sql, nats })
}

t.test('leads purged or archived before their actions ran get none', async (t) => {
  await importContacts(sql, {
    ...target,
    contacts: [
      contact(601, { email: 'a@example.com' }, '2024-05-01T00:00:00.000Z'),
      contact(602, { email: 'a2@example.com' }, '2024-05-01T00:00:00.000Z'),
    ],
  })
  await purgeContacts(sql, target, [{ contactId: 601, at: new Date('2024-05-02T00:00:00.000Z') }])
  await deleteContacts(sql, target, [{ contactId: 602, at: new Date('2024-05-02T00:00:00.000Z') }])
  const purged = await leadIdOf(601)
  const archived = await leadIdOf(602)

  startPipeline()
  t.ok(await waitForRecords(sql, [purged, archived]))
  const reasonsOf = async (leadId: number) =>
    (await sql`select distinct decision->>'reason' as reason from lead_actions where lead_id = ${leadId}`).map(
      (r) => r.reason,
    )
  t.same(await reasonsOf(purged), ['lead_purged'])
  t.same(await reasonsOf(archived), ['lead_deleted'])
  t.equal((await actionEvents(sql, purged)).length, 0)
  t.equal((await actionEvents(sql, archived)).length, 0)
})

t.test('new leads get actions; updates and merges do not', async (t) => {
  await importContacts(sql, {
    ...target,
    contacts: [
      contact(701, { email: 'b@example.com' }, '2024-05-01T00:00:00.000Z'),
      contact(702, { email: 'c@example.com' }, '2024-05-01T00:00:00.000Z'),
    ],
  })
  const created = [await leadIdOf(701), await leadIdOf(702)]
  t.ok(await waitForRecords(sql, created), 'actions ran for both new leads')
  t.ok(await waitFor(async () => (await actionEvents(sql)).length === 8), 'four events each')

  // An update of 701, and a new contact 703 that absorbed 702 in a HubSpot merge.
  const result = await importContacts(sql, {
    ...target,
    contacts: [
      contact(701, { email: 'b2@example.com' }, '2024-05-03T00:00:00.000Z'),
      contact(703, { email: 'c@example.com', hs_merged_object_ids: '702' }, '2024-05-03T00:00:00.000Z'),
    ],
  })
  t.equal(result.updated, 1)
  t.equal(result.merged, 1)
  const survivor = await leadIdOf(703)
  t.ok(await waitFor(async () => (await publishedCount('leads.merged')) === 1), 'merge published')
  t.ok(await waitFor(async () => (await publishedCount('leads.updated')) === 1), 'update published')

  // Wait for the consumer to drain what it was sent, then check nothing more happened.
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const jsm = await jetstreamManager(nats.connection()!)
  t.ok(
    await waitFor(async () => {
      const info = await jsm.consumers.info(nats.streamName('LEADS'), 'lead-actions')
      return info.num_pending === 0 && info.num_ack_pending === 0
    }),
  )
  t.equal(await countRows(sql, [survivor]), 0, 'no actions for a merge survivor')
  t.equal(await countRows(sql, created), 8, 'no further records for the updated lead')
  t.equal((await actionEvents(sql)).length, 8, 'no further action events')
})

t.test('each lead keeps the settings in force at its import', async (t) => {
  const before = await updateIntegration(sql, integration.id, {
    actions: { sequence: { enabled: true, sequenceId: 'before-change' } },
  })
  await importContacts(sql, { integration: before, origin: 'poll', contacts: [contact(801, {}, '2024-06-01T00:00:00.000Z')] })
  const after = await updateIntegration(sql, integration.id, {
    actions: { notify: { enabled: true, channel: 'email', recipients: ['sales@example.com'] } },
  })
  await importContacts(sql, { integration: after, origin: 'poll', contacts: [contact(802, {}, '2024-06-01T00:00:00.000Z')] })
  const oldLead = await leadIdOf(801)
  const newLead = await leadIdOf(802)
  t.ok(await waitForRecords(sql, [oldLead, newLead]))

  t.same((await actionEvents(sql, oldLead)).map((e) => [e.subject, e.payload.data.sequenceId]), [
    ['sequences.enrollment.requested', 'before-change'],
  ])
  t.same((await actionEvents(sql, newLead)).map((e) => [e.subject, e.payload.data.recipients]), [
    ['notifications.requested', ['sales@example.com']],
  ])
  const [decision] = await sql`
    select decision from lead_actions where lead_id = ${oldLead} and action = 'sequence'
  `
  t.equal(decision.decision.config.sequenceId, 'before-change', 'the decision records the settings used')
})
