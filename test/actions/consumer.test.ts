import { AckPolicy, jetstreamManager } from '@nats-io/jetstream'
import t from 'tap'

import { updateIntegration } from '../../src/db/integrations.js'
import { findLead } from '../../src/db/leads.js'
import { actionEventDataSchemas } from '../../src/events/actionEvents.js'
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
  waitForRecords,
} from './support.js'

const { sql } = await createTestDatabase(t)
const prefix = uniqueSubjectPrefix(t)
const nats = startNats(t, prefix)
if (!(await nats.waitUntilConnected(10_000))) throw new Error('NATS at 127.0.0.1:4222 did not connect within 10 s')
startTestConsumer(t, { sql, nats })

let portalId = 7_100_000

async function newIntegration(actions: Record<string, unknown>) {
  return createIntegration(sql, portalId++, actions)
}

t.test('runs all four actions and queues their events', async (t) => {
  const integration = await newIntegration(allActions)
  const lead = await insertLead(sql, integration.id, allActions, { company: 'Acme' })
  await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, [lead.id]), 'four records written')

  const records = await recordsOf(sql, lead.id)
  t.same(records.map((r) => [r.action, r.status]), [
    ['analyze', 'done'],
    ['assign', 'done'],
    ['notify', 'done'],
    ['sequence', 'done'],
  ])
  const assignRecord = records.find((r) => r.action === 'assign')!
  t.equal(assignRecord.decision.assignment.userId, 101, 'first round-robin user')
  t.equal(assignRecord.decision.configSource, 'import')

  const after = await findLead(sql, lead.id)
  t.equal(after?.assignedUserId, 101)
  t.equal(after?.assignedTeamId, null)
  t.ok(after?.assignedAt instanceof Date, 'assignedAt set')

  const events = await actionEvents(sql, lead.id)
  t.same(events.map((e) => e.subject).sort(), [
    'leads.analysis.requested',
    'leads.assigned',
    'notifications.requested',
    'sequences.enrollment.requested',
  ])
  for (const event of events) {
    const schema = actionEventDataSchemas[event.subject as keyof typeof actionEventDataSchemas]
    t.ok(schema.safeParse(event.payload.data).success, `${event.subject} data matches its schema`)
    t.equal(event.payload.id, event.event_id, 'outbox id is the CloudEvents id')
    t.equal(event.payload.data.lead.company, 'Acme', `${event.subject} carries the lead`)
    const record = records.find((r) => r.event_id === event.event_id)
    t.ok(record, `${event.subject} id recorded in lead_actions`)
  }
  const data = Object.fromEntries(events.map((e) => [e.subject, e.payload.data]))
  t.equal(data['leads.assigned'].strategy, 'round_robin')
  t.equal(data['leads.assigned'].userId, 101)
  t.equal(data['leads.analysis.requested'].instructions, allActions.analyze.instructions)
  t.same(data['notifications.requested'].recipients, ['#new-leads'])
  t.equal(data['notifications.requested'].channel, 'slack')
  t.equal(data['sequences.enrollment.requested'].sequenceId, 'onboarding-2026')
})

t.test('team and hubspot owner strategies', async (t) => {
  const team = { assign: { enabled: true, strategy: 'team', teamId: 'emea-sales' } }
  const owner = {
    assign: { enabled: true, strategy: 'hubspot_owner', ownerMap: { '9001': 55 }, fallbackUserId: 77 },
  }
  const unmapped = { assign: { enabled: true, strategy: 'hubspot_owner', ownerMap: { '9001': 55 } } }
  const integration = await newIntegration({})
  const teamLead = await insertLead(sql, integration.id, team)
  const mappedLead = await insertLead(sql, integration.id, owner, { hubspotOwnerId: '9001' })
  const fallbackLead = await insertLead(sql, integration.id, owner, { hubspotOwnerId: '1234' })
  const unmappedLead = await insertLead(sql, integration.id, unmapped, { hubspotOwnerId: '1234' })
  const leads = [teamLead, mappedLead, fallbackLead, unmappedLead]
  for (const lead of leads) await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, leads.map((l) => l.id)))

  const teamAfter = await findLead(sql, teamLead.id)
  t.equal(teamAfter?.assignedTeamId, 'emea-sales')
  t.equal(teamAfter?.assignedUserId, null)
  t.equal((await findLead(sql, mappedLead.id))?.assignedUserId, 55, 'mapped owner')
  t.equal((await findLead(sql, fallbackLead.id))?.assignedUserId, 77, 'fallback user')
  t.equal((await findLead(sql, unmappedLead.id))?.assignedAt, null, 'no assignee, no assignment')

  const unmappedRecord = (await recordsOf(sql, unmappedLead.id)).find((r) => r.action === 'assign')
  t.equal(unmappedRecord?.status, 'skipped')
  t.equal(unmappedRecord?.decision.reason, 'owner_not_mapped')
  const [fallbackEvent] = await actionEvents(sql, fallbackLead.id)
  t.equal(fallbackEvent.payload.data.ownerMatched, false)
  const [teamEvent] = await actionEvents(sql, teamLead.id)
  t.equal(teamEvent.payload.data.teamId, 'emea-sales')
  t.equal(teamEvent.payload.data.strategy, 'team')
  t.equal(teamEvent.payload.data.userId, null)
  const [mappedEvent] = await actionEvents(sql, mappedLead.id)
  t.equal(mappedEvent.payload.data.ownerMatched, true)
  t.equal(mappedEvent.payload.data.userId, 55)
  const mappedRecord = (await recordsOf(sql, mappedLead.id)).find((r) => r.action === 'assign')
  t.same(mappedRecord?.decision.assignment, { userId: 55, teamId: null, ownerMatched: true, position: null })
})

t.test('hubspot owner ids match only the map entries', async (t) => {
  const owner = {
    assign: { enabled: true, strategy: 'hubspot_owner', ownerMap: { '9001': 55 }, fallbackUserId: 77 },
  }
  const unmapped = { assign: { enabled: true, strategy: 'hubspot_owner', ownerMap: { '9001': 55 } } }
  const integration = await newIntegration({})
  // HubSpot's owner id is free text, so names that every object inherits must not look mapped.
  const noOwner = await insertLead(sql, integration.id, owner, { hubspotOwnerId: null })
  const inherited = await insertLead(sql, integration.id, owner, { hubspotOwnerId: 'constructor' })
  const inheritedUnmapped = await insertLead(sql, integration.id, unmapped, { hubspotOwnerId: 'toString' })
  const leads = [noOwner, inherited, inheritedUnmapped]
  for (const lead of leads) await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, leads.map((l) => l.id)))

  for (const lead of [noOwner, inherited]) {
    t.equal((await findLead(sql, lead.id))?.assignedUserId, 77, `lead ${lead.id} gets the fallback user`)
    const [event] = await actionEvents(sql, lead.id)
    t.equal(event?.payload.data.ownerMatched, false, `lead ${lead.id}: no owner matched`)
  }
  const record = (await recordsOf(sql, inheritedUnmapped.id)).find((r) => r.action === 'assign')
  t.equal(record?.status, 'skipped')
  t.equal(record?.decision.reason, 'owner_not_mapped')
  t.equal((await findLead(sql, inheritedUnmapped.id))?.assignedAt, null)
  const [dead] = await sql<{ count: number }[]>`select count(*)::int as count from action_dead_letters`
  t.equal(dead.count, 0, 'nothing dead-lettered')
})

t.test('conditions decide per lead', async (t) => {
  const actions = {
    analyze: { enabled: true, when: { field: 'email', present: true } },
    notify: {
      enabled: true,
      channel: 'email',
      recipients: ['sales@example.com'],
      when: { field: 'lifecycleStage', in: ['lead', 'marketingqualifiedlead'] },
    },
    sequence: {
      enabled: true,
      sequenceId: 'vip',
      when: { field: 'properties.hs_lead_status', equals: 'NEW' },
    },
  }
  const integration = await newIntegration(actions)
  const matching = await insertLead(sql, integration.id, actions, {
    lifecycleStage: 'lead',
    properties: { hs_lead_status: 'NEW' },
  })
  const other = await insertLead(sql, integration.id, actions, {
    email: '  ',
    lifecycleStage: 'customer',
    properties: { hs_lead_status: 'OPEN' },
  })
  for (const lead of [matching, other]) await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, [matching.id, other.id]))

  const statuses = async (leadId: number) =>
    Object.fromEntries((await recordsOf(sql, leadId)).map((r) => [r.action, [r.status, r.decision.reason ?? null]]))
  t.same(await statuses(matching.id), {
    analyze: ['done', null],
    assign: ['skipped', 'not_configured'],
    notify: ['done', null],
    sequence: ['done', null],
  })
  t.same(await statuses(other.id), {
    analyze: ['skipped', 'condition_not_met'],
    assign: ['skipped', 'not_configured'],
    notify: ['skipped', 'condition_not_met'],
    sequence: ['skipped', 'condition_not_met'],
  })
  t.equal((await actionEvents(sql, other.id)).length, 0, 'no events for unmatched conditions')
  const analysis = (await actionEvents(sql, matching.id)).find((e) => e.subject === 'leads.analysis.requested')
  t.equal(analysis?.payload.data.instructions, null, 'analysis without instructions sends null')
  const notifyRecord = (await recordsOf(sql, other.id)).find((r) => r.action === 'notify')
  t.same(notifyRecord?.decision.when, actions.notify.when, 'the condition is kept in the decision')
})

t.test('disabled and invalid actions are skipped with the reason', async (t) => {
  const actions = {
    assign: { enabled: false, strategy: 'round_robin', userIds: [1] },
    analyze: { enabled: false },
    notify: { enabled: true, channel: 'slack', recipients: [] },
    sequence: { enabled: true, sequenceId: 'welcome' },
  }
  const integration = await newIntegration({})
  const lead = await insertLead(sql, integration.id, actions)
  await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, [lead.id]))

  const records = Object.fromEntries((await recordsOf(sql, lead.id)).map((r) => [r.action, r]))
  t.equal(records.assign.decision.reason, 'disabled')
  t.equal(records.analyze.decision.reason, 'disabled')
  t.equal(records.notify.decision.reason, 'invalid_config')
  t.same(records.notify.decision.issues, [
    { field: 'actions.notify.recipients', reason: 'expected a non-empty array of strings' },
  ])
  t.equal(records.sequence.status, 'done', 'a valid action still runs')
  t.same((await actionEvents(sql, lead.id)).map((e) => e.subject), ['sequences.enrollment.requested'])
  t.equal((await findLead(sql, lead.id))?.assignedAt, null)
})

t.test('a settings change applies only to leads imported after it', async (t) => {
  const before = { sequence: { enabled: true, sequenceId: 'old-sequence' } }
  const integration = await newIntegration(before)
  const oldLead = await insertLead(sql, integration.id, before)
  const after = { sequence: { enabled: true, sequenceId: 'new-sequence' }, analyze: { enabled: true } }
  await updateIntegration(sql, integration.id, { actions: after })
  const newLead = await insertLead(sql, integration.id, after)

  // The old lead's message arrives after the change: its snapshot still decides.
  for (const lead of [oldLead, newLead]) await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, [oldLead.id, newLead.id]))

  const oldEvents = await actionEvents(sql, oldLead.id)
  t.same(oldEvents.map((e) => e.payload.data.sequenceId), ['old-sequence'])
  const newEvents = await actionEvents(sql, newLead.id)
  t.same(newEvents.map((e) => e.subject).sort(), ['leads.analysis.requested', 'sequences.enrollment.requested'])
  t.equal(newEvents.find((e) => e.payload.data.sequenceId)?.payload.data.sequenceId, 'new-sequence')
  const oldRecord = (await recordsOf(sql, oldLead.id)).find((r) => r.action === 'sequence')
  t.equal(oldRecord?.decision.config.sequenceId, 'old-sequence', 'the decision records the settings used')
})

t.test('deleted, merged and purged leads get no actions', async (t) => {
  const integration = await newIntegration(allActions)
  const deleted = await insertLead(sql, integration.id, allActions)
  const merged = await insertLead(sql, integration.id, allActions)
  const purged = await insertLead(sql, integration.id, allActions)
  await sql`update leads set deleted_at = now() where id = ${deleted.id}`
  await sql`update leads set merged_into_contact_id = 42 where id = ${merged.id}`
  await sql`update leads set purged_at = now(), email = null where id = ${purged.id}`
  const leads = [deleted, merged, purged]
  for (const lead of leads) await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, leads.map((l) => l.id)))

  const reasons = async (leadId: number) => [...new Set((await recordsOf(sql, leadId)).map((r) => r.decision.reason))]
  t.same(await reasons(deleted.id), ['lead_deleted'])
  t.same(await reasons(merged.id), ['lead_merged'])
  t.same(await reasons(purged.id), ['lead_purged'])
  for (const lead of leads) {
    t.equal((await actionEvents(sql, lead.id)).length, 0, `no events for lead ${lead.id}`)
    t.equal((await findLead(sql, lead.id))?.assignedAt, null)
  }
})

t.test('a lead without a settings snapshot records not_configured', async (t) => {
  const integration = await newIntegration(allActions)
  const lead = await insertLead(sql, integration.id, null)
  await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, [lead.id]))
  const reasons = new Set((await recordsOf(sql, lead.id)).map((r) => r.decision.reason))
  t.same([...reasons], ['not_configured'])
})

t.test('conditions on inherited property names never fail a lead', async (t) => {
  const actions = {
    analyze: { enabled: true, when: { field: 'properties.constructor', present: true } },
    sequence: { enabled: true, sequenceId: 'plain', when: { field: 'properties.toString', present: false } },
  }
  const integration = await newIntegration(actions)
  const lead = await insertLead(sql, integration.id, actions, { properties: { hs_lead_status: 'NEW' } })
  await publishImported(nats, lead, integration.portalId)
  t.ok(await waitForRecords(sql, [lead.id]), 'all four records written')

  const records = Object.fromEntries((await recordsOf(sql, lead.id)).map((r) => [r.action, r]))
  t.equal(records.analyze.status, 'skipped')
  t.equal(records.analyze.decision.reason, 'condition_not_met')
  t.equal(records.sequence.status, 'done', 'a missing property counts as not present')
  const [dead] = await sql<{ count: number }[]>`select count(*)::int as count from action_dead_letters`
  t.equal(dead.count, 0, 'nothing dead-lettered')
})

t.test('the consumer is durable with explicit acks on leads.imported', async (t) => {
  const jsm = await jetstreamManager(nats.connection()!)
  const info = await jsm.consumers.info(nats.streamName('LEADS'), 'lead-actions')
  t.equal(info.config.durable_name, 'lead-actions')
  t.equal(info.config.ack_policy, AckPolicy.Explicit)
  t.equal(info.config.filter_subject, `${prefix}.leads.imported`)
  t.equal(info.config.max_deliver, 5, 'ACTIONS_MAX_DELIVERIES')
  t.equal(info.config.ack_wait, 1000 * 1_000_000, 'the test ack wait, in nanoseconds')
  t.notOk(info.config.deliver_subject, 'a pull consumer has no deliver subject')
})
