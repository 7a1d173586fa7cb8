import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import t from 'tap'

import { buildLeadImportedEvent } from '../../src/events/leadEvents.js'
import { Subject } from '../../src/events/subjects.js'
import { actionOutcomes } from '../../src/metrics.js'
import { createTestDatabase } from '../helpers/database.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import { allActions, createIntegration, insertLead, startNats, startTestConsumer, waitFor } from './support.js'

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
