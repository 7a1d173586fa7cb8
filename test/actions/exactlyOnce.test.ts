import { randomUUID } from 'node:crypto'

import t, { type Test } from 'tap'

import { replayLeadActions } from '../../src/actions/replay.js'
import { connect } from '../../src/db/connection.js'
import type { NatsManager } from '../../src/events/nats.js'
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

const { url, sql } = await createTestDatabase(t)

let portalId = 7_200_000

/** Starts a NatsManager on a prefix of the test's own and waits until it is connected. */
async function startConnectedNats(t: Test): Promise<NatsManager> {
  const nats = startNats(t, uniqueSubjectPrefix(t))
  t.ok(await nats.waitUntilConnected(10_000), 'NATS connected')
  return nats
}

/** Creates an integration with every action on and one lead imported under those settings. */
async function leadWithAllActions() {
  const integration = await createIntegration(sql, portalId++, allActions)
  const lead = await insertLead(sql, integration.id, allActions)
  return { integration, lead }
}

/** Returns how many assignments the integration's round robin has handed out. */
async function assignmentPosition(integrationId: number): Promise<number> {
  const [row] = await sql<{ position: number }[]>`
    select position from assignment_positions where integration_id = ${integrationId}
  `
  return row.position
}

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
  // Two instances with their own NATS connections and database pools, as two replicas have.
  const prefix = uniqueSubjectPrefix(t)
  const natsA = startNats(t, prefix)
  const natsB = startNats(t, prefix)
  t.ok(await natsA.waitUntilConnected(10_000))
  t.ok(await natsB.waitUntilConnected(10_000))
  const sqlB = connect(url, { maxConnections: 4 })
  t.teardown(() => sqlB.end({ timeout: 5 }))

  const userIds = allActions.assign.userIds
  const actions = { assign: allActions.assign }
  const integration = await createIntegration(sql, portalId++, actions)
  const leads = []
  for (let i = 0; i < 30; i++) leads.push(await insertLead(sql, integration.id, actions))
  // 16 is no multiple of 3, so a rotation that restarted with the instance would show.
  const firstHalf = leads.slice(0, 16)
  const secondHalf = leads.slice(16)

  const handledBy = { a: [] as number[], b: [] as number[] }
  const first = startTestConsumer(t, { sql, nats: natsA }, { concurrency: 4, beforeAck: (id) => void handledBy.a.push(id) })
  const second = startTestConsumer(t, { sql: sqlB, nats: natsB }, { concurrency: 4, beforeAck: (id) => void handledBy.b.push(id) })
  for (const lead of firstHalf) await publishImported(natsA, lead, integration.portalId)
  t.ok(await waitForRecords(sql, firstHalf.map((l) => l.id)), 'first 16 leads done')
  t.ok(handledBy.a.length > 0, `instance A handled ${handledBy.a.length} leads`)
  t.ok(handledBy.b.length > 0, `instance B handled ${handledBy.b.length} leads`)

  // Restart: both instances stop, and a new one continues the rotation from PostgreSQL.
  await first.stop()
  await second.stop()
  startTestConsumer(t, { sql: sqlB, nats: natsB }, { concurrency: 4 })
  for (const lead of secondHalf) await publishImported(natsB, lead, integration.portalId)
  t.ok(await waitForRecords(sql, leads.map((l) => l.id)), 'all 30 leads done')

  t.same(await assignedCounts(integration.id), [
    { user_id: 101, leads: 10 },
    { user_id: 102, leads: 10 },
    { user_id: 103, leads: 10 },
  ])
  const positions = await sql<{ lead_id: number; position: number; user_id: number }[]>`
    select lead_id,
           (decision->'assignment'->>'position')::int as position,
           (decision->'assignment'->>'userId')::int as user_id
    from lead_actions
    where action = 'assign' and lead_id = any(${leads.map((l) => l.id)}::bigint[])
    order by position
  `
  t.same(positions.map((row) => row.position), range(1, 30), 'one rotation: positions 1 to 30, each once')
  t.ok(
    positions.every((row) => row.user_id === userIds[(row.position - 1) % userIds.length]),
    'each user follows from its position',
  )
  const secondIds = new Set(secondHalf.map((l) => l.id))
  const afterRestart = positions.filter((row) => secondIds.has(row.lead_id)).map((row) => row.position)
  t.same(afterRestart, range(17, 30), 'the restarted instance continued at position 17')
  t.equal(await assignmentPosition(integration.id), 30, 'one position per assignment')
})

t.test('duplicate messages with other msg ids do nothing twice', async (t) => {
  const nats = await startConnectedNats(t)
  const { integration, lead } = await leadWithAllActions()

  // The same event under three Nats-Msg-Ids, as after a republish past the duplicate window.
  for (let i = 0; i < 3; i++) await publishImported(nats, lead, integration.portalId, randomUUID())
  startTestConsumer(t, { sql, nats }, { concurrency: 3 })
  t.ok(await waitForRecords(sql, [lead.id]))
  const consumed = await waitFor(async () => (await pendingMessages(nats)) === 0)
  t.ok(consumed, 'every copy acked')

  t.equal((await actionEvents(sql, lead.id)).length, 4, 'one event per action')
  t.same(await assignedCounts(integration.id), [{ user_id: 101, leads: 1 }])
  t.equal(await assignmentPosition(integration.id), 1, 'the rotation moved once')
})

t.test('a replay racing the consumer does nothing twice', async (t) => {
  const nats = await startConnectedNats(t)
  const integration = await createIntegration(sql, portalId++, allActions)
  const leads = []
  for (let i = 0; i < 6; i++) leads.push(await insertLead(sql, integration.id, allActions))
  startTestConsumer(t, { sql, nats }, { concurrency: 4 })

  await Promise.all(
    leads.flatMap((lead) => [publishImported(nats, lead, integration.portalId), replayLeadActions(sql, lead.id)]),
  )
  t.ok(await waitForRecords(sql, leads.map((l) => l.id)))
  t.ok(await waitFor(async () => (await pendingMessages(nats)) === 0), 'every message acked')

  for (const lead of leads) {
    const records = await recordsOf(sql, lead.id)
    const triggers = new Set(records.map((r) => r.decision.trigger))
    t.equal(triggers.size, 1, `lead ${lead.id}: one run wrote all four records`)
    t.equal((await actionEvents(sql, lead.id)).length, 4, `lead ${lead.id}: one event per action`)
  }
  t.equal(await assignmentPosition(integration.id), leads.length, 'one assignment per lead')
})

t.test('crash between commit and ack: redelivery does nothing twice', async (t) => {
  const nats = await startConnectedNats(t)
  const { integration, lead } = await leadWithAllActions()
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
  t.equal(await assignmentPosition(integration.id), 1, 'assigned once')
})

t.test('a failed run is retried and then succeeds once', async (t) => {
  const nats = await startConnectedNats(t)
  const { integration, lead } = await leadWithAllActions()

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
  t.equal(await assignmentPosition(integration.id), 1, 'the rolled-back attempt gave its position back')
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

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}
