import t from 'tap'

import type { Lead } from '../../src/db/leads.js'
import { deterministicEventId } from '../../src/events/eventIds.js'
import {
  buildLeadDeletedEvent,
  buildLeadImportedEvent,
  buildLeadMergedEvent,
  buildLeadPurgedEvent,
  buildLeadRestoredEvent,
  buildLeadUpdatedEvent,
  leadEventDataSchemas,
} from '../../src/events/leadEvents.js'

const lead: Lead = {
  id: 42,
  integrationId: 7,
  hubspotContactId: 110338039632,
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  phone: null,
  company: 'Engines Ltd',
  jobTitle: null,
  lifecycleStage: 'lead',
  hubspotOwnerId: '99',
  properties: { email: 'ada@example.com' },
  hubspotCreatedAt: new Date('2024-01-01T00:00:00.000Z'),
  hubspotUpdatedAt: new Date('2024-02-01T00:00:00.000Z'),
  contentHash: 'hash-a',
  deletedAt: null,
  mergedIntoContactId: null,
  purgedAt: null,
  assignedUserId: null,
  assignedTeamId: null,
  assignedAt: null,
  importActions: null,
  createdAt: new Date(),
  updatedAt: new Date(),
}
const context = { portalId: 12345678, origin: 'webhook' as const }

t.test('every builder matches its subject schema', async (t) => {
  const events = [
    buildLeadImportedEvent(lead, context),
    buildLeadUpdatedEvent(lead, context),
    buildLeadRestoredEvent(lead, context),
    buildLeadDeletedEvent(lead, { ...context, deletedAt: new Date('2024-03-01T00:00:00.000Z') }),
    buildLeadMergedEvent(lead, { ...context, mergedContactIds: [5, 3], mergedLeadIds: [11, 10] }),
    buildLeadPurgedEvent(
      { leadId: 42, integrationId: 7, hubspotContactId: 110338039632, purgedAt: new Date() },
      context,
    ),
  ]
  for (const event of events) {
    const schema = leadEventDataSchemas[event.type as keyof typeof leadEventDataSchemas]
    t.ok(schema.safeParse(event.data).success, `${event.type} data matches its schema`)
    t.equal(event.source, 'hubspot-sync/portal/12345678')
    t.equal(event.subject, 'lead/42')
    t.equal(event.specversion, '1.0')
  }
})

t.test('event ids are deterministic per effect', async (t) => {
  t.equal(buildLeadImportedEvent(lead, context).id, buildLeadImportedEvent(lead, { ...context, origin: 'poll' }).id)
  const changed = { ...lead, contentHash: 'hash-b' }
  t.not(buildLeadUpdatedEvent(lead, context).id, buildLeadUpdatedEvent(changed, context).id)
  t.not(buildLeadUpdatedEvent(lead, context).id, buildLeadRestoredEvent(lead, context).id)
  const merged = (ids: number[]) =>
    buildLeadMergedEvent(lead, { ...context, mergedContactIds: ids, mergedLeadIds: [] }).id
  t.equal(merged([3, 5]), merged([5, 3]), 'merged id ignores the order of absorbed ids')
  t.not(merged([3]), merged([3, 5]))
  t.match(deterministicEventId('x', 1), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
})

t.test('purged event carries ids only', async (t) => {
  const event = buildLeadPurgedEvent(
    { leadId: 42, integrationId: 7, hubspotContactId: 110338039632, purgedAt: new Date('2024-04-01T00:00:00.000Z') },
    context,
  )
  t.same(Object.keys(event.data).sort(), ['hubspotContactId', 'integrationId', 'leadId', 'origin', 'portalId', 'purgedAt'])
  t.notOk(JSON.stringify(event).includes('ada@example.com'))
  t.notOk(leadEventDataSchemas['leads.purged'].safeParse({ ...event.data, email: 'x' }).success, 'extra fields are rejected')
})

t.test('merged data sorts absorbed ids', async (t) => {
  const event = buildLeadMergedEvent(lead, { ...context, mergedContactIds: [5, 3], mergedLeadIds: [11, 10] })
  t.same(event.data.mergedContactIds, [3, 5])
  t.same(event.data.mergedLeadIds, [10, 11])
})
