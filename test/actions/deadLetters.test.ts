import { Writable } from 'node:stream'

import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import t from 'tap'

import { replayIntegrationActions } from '../../src/actions/replay.js'
import { findLead } from '../../src/db/leads.js'
import { buildLeadImportedEvent } from '../../src/events/leadEvents.js'
import { Subject } from '../../src/events/subjects.js'
import { createLogger } from '../../src/logger.js'
import { actionOutcomes } from '../../src/metrics.js'
import { createTestDatabase } from '../helpers/database.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import {
  actionEvents,
  allActions,
  countRows,
  createIntegration,
  insertLead,
  publishImported,
  startNats,
  startTestConsumer,
  waitFor,
} from './support.js'

const { sql } = await createTestDatabase(t)
const nats = startNats(t, uniqueSubjectPrefix(t))
if (!(await nats.waitUntilConnected(10_000))) throw new Error('NATS at 127.0.0.1:4222 did not connect within 10 s')
const maxDeliveries = 3
startTestConsumer(t, { sql, nats }, { maxDeliveries })
const js = jetstream(nats.connection()!)
const subject = nats.subject(Subject.leadsImported)

interface DeadLetter {
  event_id: string
  lead_id: number | null
  deliveries: number
  reason: string
  payload: any
}

async function deadLetters(): Promise<DeadLetter[]> {
  return sql<DeadLetter[]>`
    select event_id, lead_id, deliveries, reason, payload from action_dead_letters order by id
  `
}

async function waitForDeadLetters(count: number): Promise<boolean> {
  return waitFor(async () => (await deadLetters()).length >= count)
}

function deadLettered(): Promise<number> {
  return actionOutcomes.get().then((metric) =>
    metric.values
      .filter((value) => value.labels.outcome === 'dead_lettered' && value.labels.action === 'assign')
      .reduce((sum, value) => sum + value.value, 0),
  )
}

t.test('a lead that never exists is dead-lettered after the last delivery', async (t) => {
  const integration = await createIntegration(sql, 7_300_001, allActions)
  const lead = await insertLead(sql, integration.id, allActions)
  const event = buildLeadImportedEvent({ ...lead, id: 987_654_321 }, { portalId: integration.portalId, origin: 'poll' })
  const before = await deadLettered()
  await js.publish(subject, JSON.stringify(event), { msgID: event.id })

  t.ok(await waitForDeadLetters(1), 'dead letter written')
  const [letter] = await deadLetters()
  t.equal(letter.event_id, event.id)
  t.equal(letter.lead_id, 987_654_321)
  t.equal(letter.deliveries, maxDeliveries, 'given up on the last delivery')
  t.match(letter.reason, /NOT_FOUND: Lead 987654321 not found/)
  t.equal(letter.payload.id, event.id, 'the whole event is kept')
  t.equal((await deadLettered()) - before, 1, 'counted in the actions metric')

  const jsm = await jetstreamManager(nats.connection()!)
  const ok = await waitFor(async () => {
    const info = await jsm.consumers.info(nats.streamName('LEADS'), 'lead-actions')
    return info.num_ack_pending === 0 && info.num_pending === 0
  })
  t.ok(ok, 'message terminated, nothing left pending')
  await sql`delete from action_dead_letters`
})

t.test('poison messages are dead-lettered at once', async (t) => {
  await js.publish(subject, 'not json {', { msgID: 'poison-1' })
  await js.publish(subject, JSON.stringify({ specversion: '1.0', id: 'x', type: 'leads.imported', data: {} }), {
    msgID: 'poison-2',
  })
  t.ok(await waitForDeadLetters(2), 'two dead letters')
  const letters = await deadLetters()
  const json = letters.find((l) => l.reason === 'message is not valid JSON')
  t.ok(json, 'invalid JSON recorded')
  t.equal(json?.deliveries, 1, 'not retried')
  t.equal(json?.payload.raw, 'not json {')
  const envelope = letters.find((l) => l.reason.startsWith('invalid leads.imported event'))
  t.ok(envelope, 'invalid envelope recorded')
  t.match(envelope?.reason, /data\.leadId/)
  t.equal(envelope?.lead_id, null)
  t.equal(envelope?.deliveries, 1)
})

async function pendingOf(natsManager: ReturnType<typeof startNats>): Promise<number> {
  const jsm = await jetstreamManager(natsManager.connection()!)
  const info = await jsm.consumers.info(natsManager.streamName('LEADS'), 'lead-actions')
  return info.num_pending + info.num_ack_pending
}

t.test('a dead-lettered lead runs once when replayed', async (t) => {
  const integration = await createIntegration(sql, 7_300_002, allActions)
  const lead = await insertLead(sql, integration.id, allActions)

  // Every run of this lead fails until the trigger is dropped, as after a bad deployment.
  await sql`
    create function fail_lead_actions() returns trigger language plpgsql as $$
    begin
      if new.lead_id = ${sql.unsafe(String(lead.id))} then
        raise exception 'injected lead_actions failure';
      end if;
      return new;
    end $$
  `
  await sql`create trigger fail_lead_actions before insert on lead_actions for each row execute function fail_lead_actions()`
  const dropTrigger = async () => {
    await sql`drop trigger if exists fail_lead_actions on lead_actions`
    await sql`drop function if exists fail_lead_actions()`
  }
  t.teardown(dropTrigger)

  const eventId = await publishImported(nats, lead, integration.portalId)
  const letterOfLead = async () =>
    (await sql<DeadLetter[]>`select event_id, lead_id, deliveries, reason, payload from action_dead_letters where lead_id = ${lead.id}`)[0]
  t.ok(await waitFor(async () => (await letterOfLead()) !== undefined), 'dead letter written')
  const letter = await letterOfLead()
  t.equal(letter.event_id, eventId)
  t.equal(letter.deliveries, maxDeliveries)
  t.match(letter.reason, /^DATABASE_ERROR: runLeadActions failed \(cause: injected lead_actions failure\)$/)
  t.ok(await waitFor(async () => (await pendingOf(nats)) === 0), 'message terminated')
  t.equal(await countRows(sql, [lead.id]), 0, 'no action recorded')
  t.equal((await actionEvents(sql, lead.id)).length, 0, 'no event queued')
  t.equal((await findLead(sql, lead.id))?.assignedAt, null, 'not assigned')

  await dropTrigger()
  const summary = await replayIntegrationActions(sql, integration.id)
  t.same(summary, { integrationId: integration.id, configSource: 'import', leads: 1, done: 4, skipped: 0 })
  t.equal((await actionEvents(sql, lead.id)).length, 4, 'one event per action')
  t.equal((await findLead(sql, lead.id))?.assignedUserId, 101)

  const again = await replayIntegrationActions(sql, integration.id)
  t.equal(again.leads, 0, 'a second replay finds nothing left to run')
})

t.test('failed deliveries back off before the dead letter', async (t) => {
  // A consumer of its own, on its own subject prefix, whose log lines are kept.
  const lines: Record<string, any>[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  const logger = createLogger('info', destination)
  const ownNats = startNats(t, uniqueSubjectPrefix(t))
  t.ok(await ownNats.waitUntilConnected(10_000))
  startTestConsumer(t, { sql, nats: ownNats }, { maxDeliveries, logger, retryDelaysMs: [300, 600] })

  const integration = await createIntegration(sql, 7_300_003, allActions)
  const lead = await insertLead(sql, integration.id, allActions)
  const event = buildLeadImportedEvent({ ...lead, id: 987_654_000 }, { portalId: integration.portalId, origin: 'poll' })
  await jetstream(ownNats.connection()!).publish(ownNats.subject(Subject.leadsImported), JSON.stringify(event), {
    msgID: event.id,
  })
  const dead = () => lines.find((line) => line.msg === 'lead actions dead-lettered' && line.eventId === event.id)
  t.ok(await waitFor(async () => dead() !== undefined), 'dead-lettered')

  const retries = lines.filter((line) => line.msg === 'lead actions failed; retrying' && line.eventId === event.id)
  t.same(
    retries.map((line) => [line.deliveries, line.retryInMs]),
    [
      [1, 300],
      [2, 600],
    ],
    'each failed delivery is delayed longer than the one before',
  )
  // Lower bounds only, because the server redelivers a nak'ed message no sooner than its delay.
  t.ok(retries[1].time - retries[0].time >= 300, 'delivery 2 came at least 300 ms after delivery 1')
  t.ok(dead()!.time - retries[1].time >= 600, 'delivery 3 came at least 600 ms after delivery 2')
  t.equal(dead()!.deliveries, maxDeliveries, 'given up on the last delivery')

  const [letter] = await sql<DeadLetter[]>`
    select event_id, lead_id, deliveries, reason, payload from action_dead_letters where event_id = ${event.id}
  `
  t.equal(letter?.deliveries, maxDeliveries)
  t.match(letter?.reason, /NOT_FOUND/)
})
