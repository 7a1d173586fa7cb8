import { jetstreamManager } from '@nats-io/jetstream'
import t from 'tap'

import { startOutboxRelay } from '../../src/events/relay.js'
import { prefixedStreamName } from '../../src/events/subjects.js'
import { importContacts } from '../../src/sync/import.js'
import { contact } from '../events/support.js'
import { createTestDatabase } from '../helpers/database.js'
import { checkOutboxAgainstStreams } from '../helpers/jetstream.js'
import { startOwnNats } from '../helpers/ownNats.js'
import {
  actionEvents,
  allActions,
  countRows,
  createIntegration,
  recordsOf,
  silentLogger,
  startNats,
  startTestConsumer,
  waitFor,
  waitForRecords,
} from './support.js'

// The consumer runs against a NATS server of this test's own, which the test stops and
// starts again. The shared server on 4222 is never touched. The store directory survives a
// stop, so the restarted server keeps the streams, the durable consumer and its
// unacknowledged messages.
const { sql } = await createTestDatabase(t)
const own = await startOwnNats(t)
const prefix = 'actout'
const streams = ['LEADS', 'HUBSPOT_SYNC', 'NOTIFICATIONS', 'SEQUENCES'].map((name) => prefixedStreamName(prefix, name))
const integration = await createIntegration(sql, 7_700_001, allActions)
const target = { integration, origin: 'poll' as const }

// Everything starts while NATS is down.
await own.stop()
const nats = startNats(t, prefix, own.url)
const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 50 })
t.teardown(() => relay.stop())

/** How many runs of each lead committed, by lead id. */
const handled = new Map<number, number>()
let crashLeadId: number | null = null
startTestConsumer(
  t,
  { sql, nats },
  {
    beforeAck: async (leadId) => {
      handled.set(leadId, (handled.get(leadId) ?? 0) + 1)
      if (leadId !== crashLeadId || handled.get(leadId)! > 1) return
      // The server goes away after the commit and before the ack, so the ack never arrives.
      await own.stop()
      throw new Error('NATS stopped before the ack')
    },
  },
)

async function importLeads(contactIds: number[]): Promise<number[]> {
  const contacts = contactIds.map((id) => contact(id, { email: `c${id}@example.com` }, '2024-07-01T00:00:00.000Z'))
  await importContacts(sql, { ...target, contacts })
  const rows = await sql<{ id: number }[]>`
    select id from leads
    where integration_id = ${integration.id} and hubspot_contact_id = any(${contactIds}::bigint[])
    order by id
  `
  return rows.map((row) => row.id)
}

async function unpublishedImports(): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from outbox where subject = 'leads.imported' and published_at is null
  `
  return row.count
}

async function consumerPending(): Promise<number> {
  const jsm = await jetstreamManager(nats.connection()!)
  const info = await jsm.consumers.info(nats.streamName('LEADS'), 'lead-actions')
  return info.num_pending + info.num_ack_pending
}

t.test('a consumer started while NATS is down begins once it is up', async (t) => {
  const leads = await importLeads([1001, 1002, 1003])
  t.equal(nats.isConnected(), false, 'NATS is down')
  t.equal(await unpublishedImports(), 3, 'the imports wait in the outbox')
  t.equal(await countRows(sql, leads), 0, 'no action ran')

  await own.start()
  t.ok(await waitForRecords(sql, leads, 30_000), 'actions ran after NATS came up')
  for (const lead of leads) t.equal((await actionEvents(sql, lead)).length, 4, `lead ${lead}: four events`)
})

t.test('NATS lost between commit and ack: no action lost or doubled', async (t) => {
  const [crashed] = await importLeads([1004])
  crashLeadId = crashed
  t.ok(await waitFor(async () => nats.isConnected() === false, 30_000), 'NATS stopped inside the first run')
  t.equal(await countRows(sql, [crashed]), 4, 'the first run committed')

  // Leads imported during the outage wait in the outbox.
  const during = await importLeads([1005, 1006, 1007])
  t.equal(await unpublishedImports(), 3, 'three imports wait in the outbox')
  t.equal(await countRows(sql, during), 0, 'no action ran for them yet')

  await own.start()
  const all = [...(await sql<{ id: number }[]>`select id from leads order by id`)].map((row) => row.id)
  t.equal(all.length, 7)
  t.ok(await waitForRecords(sql, all, 30_000), 'every lead has its four records')
  t.ok(await waitFor(async () => nats.isConnected() && (await consumerPending()) === 0, 30_000), 'all acked')
  t.ok(await waitFor(async () => (await unpublishedImports()) === 0 && (await unpublishedActions()) === 0, 30_000))

  t.equal(handled.get(crashed), 2, 'the unacked message was delivered again after the restart')
  for (const lead of all) {
    const records = await recordsOf(sql, lead)
    t.same(records.map((r) => r.status), ['done', 'done', 'done', 'done'], `lead ${lead}: all four done`)
    t.equal((await actionEvents(sql, lead)).length, 4, `lead ${lead}: one event per action`)
  }
  const [position] = await sql`select position from assignment_positions where integration_id = ${integration.id}`
  t.equal(position.position, all.length, 'one round-robin position per lead')
  const users = await sql<{ user_id: number; leads: number }[]>`
    select assigned_user_id as user_id, count(*)::int as leads from leads group by 1 order by 1
  `
  t.same(users, [
    { user_id: 101, leads: 3 },
    { user_id: 102, leads: 2 },
    { user_id: 103, leads: 2 },
  ])

  const check = await checkOutboxAgainstStreams(sql, own.url, streams)
  t.equal(check.rows, 7 + 7 * 4, 'seven imports and four action events per lead')
  t.same(check.missing, [], 'every queued event reached its stream')
  t.same(check.duplicated, [], 'no event is in a stream twice')
  const [dead] = await sql<{ count: number }[]>`select count(*)::int as count from action_dead_letters`
  t.equal(dead.count, 0, 'nothing dead-lettered')
})

async function unpublishedActions(): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from outbox where subject <> 'leads.imported' and published_at is null
  `
  return row.count
}
