import { randomUUID } from 'node:crypto'

import t from 'tap'

import { createTestDatabase } from '../helpers/database.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import {
  actionEvents,
  allActions,
  createIntegration,
  insertLead,
  publishImported,
  recordsOf,
  startNats,
  startTestConsumer,
  waitFor,
  waitForRecords,
} from './support.js'

const { sql } = await createTestDatabase(t)

let portalId = 7_200_000

async function assignedCounts(integrationId: number) {
  return sql<{ user_id: number; leads: number }[]>`
    select assigned_user_id as user_id, count(*)::int as leads
    from leads
    where integration_id = ${integrationId}
    group by assigned_user_id
    order by assigned_user_id
  `
}

t.test('round robin is fair across two consumers and a restart', async (t) => {
  const nats = startNats(t, uniqueSubjectPrefix(t))
  t.ok(await nats.waitUntilConnected(10_000))
  const actions = { assign: allActions.assign }
  const integration = await createIntegration(sql, portalId++, actions)
  const leads = []
  for (let i = 0; i < 30; i++) leads.push(await insertLead(sql, integration.id, actions))

  const first = startTestConsumer(t, { sql, nats }, { concurrency: 4 })
  const second = startTestConsumer(t, { sql, nats }, { concurrency: 4 })
  for (const lead of leads.slice(0, 15)) await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, leads.slice(0, 15).map((l) => l.id)), 'first half done')

  // Restart: both instances stop, a new one continues the rotation from PostgreSQL.
  await first.stop()
  await second.stop()
  startTestConsumer(t, { sql, nats }, { concurrency: 4 })
  for (const lead of leads.slice(15)) await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, leads.map((l) => l.id)), 'all done')

  t.same(await assignedCounts(integration.id), [
    { user_id: 101, leads: 10 },
    { user_id: 102, leads: 10 },
    { user_id: 103, leads: 10 },
  ])
  const [position] = await sql`select position from assignment_positions where integration_id = ${integration.id}`
  t.equal(position.position, 30, 'one position per assignment')
})

t.test('duplicate messages with other msg ids do nothing twice', async (t) => {
  const nats = startNats(t, uniqueSubjectPrefix(t))
  t.ok(await nats.waitUntilConnected(10_000))
  const integration = await createIntegration(sql, portalId++, allActions)
  const lead = await insertLead(sql, integration.id, allActions)

  // The same event under three Nats-Msg-Ids, as after a republish past the duplicate window.
  for (let i = 0; i < 3; i++) await publishImported(nats, lead, integration.portalId, randomUUID())
  startTestConsumer(t, { sql, nats }, { concurrency: 3 })
  t.ok(await waitForRecords(sql, [lead.id]))
  const consumed = await waitFor(async () => (await pendingMessages(nats)) === 0)
  t.ok(consumed, 'every copy acked')

  t.equal((await actionEvents(sql, lead.id)).length, 4, 'one event per action')
  t.same(await assignedCounts(integration.id), [{ user_id: 101, leads: 1 }])
  const [position] = await sql`select position from assignment_positions where integration_id = ${integration.id}`
  t.equal(position.position, 1, 'the rotation moved once')
})

t.test('crash between commit and ack: redelivery does nothing twice', async (t) => {
  const nats = startNats(t, uniqueSubjectPrefix(t))
  t.ok(await nats.waitUntilConnected(10_000))
  const integration = await createIntegration(sql, portalId++, allActions)
  const lead = await insertLead(sql, integration.id, allActions)
  await publishImported(nats, lead, integration.portalId)

  const deliveries: number[] = []
  let crashed = false
  startTestConsumer(
    t,
    { sql, nats },
    {
      ackWaitMs: 500,
      beforeAck: (leadId) => {
        deliveries.push(leadId)
        if (!crashed) {
          crashed = true
          throw new Error('simulated crash after commit')
        }
      },
    },
  )
  t.ok(await waitFor(async () => deliveries.length >= 2), 'message delivered again after ack_wait')
  t.ok(await waitFor(async () => (await pendingMessages(nats)) === 0), 'second delivery acked')

  t.equal(deliveries.length, 2)
  const records = await recordsOf(sql, lead.id)
  t.equal(records.length, 4)
  t.ok(records.every((r) => r.status === 'done'))
  t.equal((await actionEvents(sql, lead.id)).length, 4, 'one event per action')
  const [position] = await sql`select position from assignment_positions where integration_id = ${integration.id}`
  t.equal(position.position, 1, 'assigned once')
})

t.test('a failed run is retried and then succeeds once', async (t) => {
  const nats = startNats(t, uniqueSubjectPrefix(t))
  t.ok(await nats.waitUntilConnected(10_000))
  const integration = await createIntegration(sql, portalId++, allActions)
  const lead = await insertLead(sql, integration.id, allActions)

  // A trigger fails the first outbox insert of this lead's events, so the whole transaction
  // rolls back, including the lead_actions records and the assignment. Sequences are not
  // transactional, so the rollback does not reset the count.
  await sql`create sequence fail_once_seq`
  await sql`
    create function fail_outbox_once() returns trigger language plpgsql as $$
    begin
      if (new.payload->'data'->>'leadId')::bigint = ${sql.unsafe(String(lead.id))}
         and nextval('fail_once_seq') = 1 then
        raise exception 'injected outbox failure';
      end if;
      return new;
    end $$
  `
  await sql`create trigger fail_outbox_once before insert on outbox for each row execute function fail_outbox_once()`
  t.teardown(async () => {
    await sql`drop trigger fail_outbox_once on outbox`
    await sql`drop function fail_outbox_once()`
    await sql`drop sequence fail_once_seq`
  })

  await publishImported(nats, lead, integration.portalId)
  startTestConsumer(t, { sql, nats })
  t.ok(await waitForRecords(sql, [lead.id]))
  t.equal((await actionEvents(sql, lead.id)).length, 4)
  const [position] = await sql`select position from assignment_positions where integration_id = ${integration.id}`
  t.equal(position.position, 1, 'the rolled-back attempt gave its position back')
  const [attempts] = await sql`select last_value from fail_once_seq`
  t.ok(Number(attempts.last_value) >= 2, 'the first attempt failed and a later one ran')
  const [dead] = await sql`select count(*)::int as count from action_dead_letters`
  t.equal(dead.count, 0)
})

async function pendingMessages(nats: ReturnType<typeof startNats>): Promise<number> {
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const jsm = await jetstreamManager(nats.connection()!)
  const info = await jsm.consumers.info(nats.streamName('LEADS'), 'lead-actions')
  return info.num_pending + info.num_ack_pending
}
