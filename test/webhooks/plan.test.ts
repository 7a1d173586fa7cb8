import t from 'tap'

import type { WebhookEventRow } from '../../src/db/webhookEvents.js'
import { planBatch, toMergePlan } from '../../src/sync/inboxPlan.js'

let nextId = 1
function row(event: Record<string, unknown>, integrationId: number | null = null): WebhookEventRow {
  return {
    id: nextId++,
    dedup_key: String(nextId),
    portal_id: event.portalId as number,
    integration_id: integrationId,
    subscription_type: String(event.subscriptionType),
    object_id: (event.objectId as number) ?? null,
    occurred_at: new Date(event.occurredAt as number),
    event,
    status: 'pending',
    attempts: 1,
    next_attempt_at: new Date(),
    last_error: null,
    received_at: new Date(),
    processed_at: null,
  }
}

const ev = (type: string, objectId: number, occurredAt: number, extra: Record<string, unknown> = {}) =>
  row({ portalId: 1, subscriptionType: type, objectId, occurredAt, ...extra })

t.test('events are coalesced per contact in occurredAt order', async (t) => {
  const plan = planBatch([
    ev('contact.restore', 1, 300),
    ev('contact.deletion', 1, 200),
    ev('contact.propertyChange', 2, 100),
    ev('contact.creation', 2, 100),
    ev('contact.deletion', 3, 500),
    ev('contact.propertyChange', 3, 400),
  ])
  const [group] = plan.byPortal
  const byId = new Map(group.contacts.map((c) => [c.contactId, c]))
  t.same(byId.get(1), { contactId: 1, purgeAt: null, deleteAt: null, restoreAt: new Date(300), read: true }, 'restore after deletion')
  t.same(byId.get(2)?.read, true, 'creation and change read once')
  t.same(byId.get(3), { contactId: 3, purgeAt: null, deleteAt: new Date(500), restoreAt: null, read: false }, 'change then deletion')
  t.equal(group.eventIds.length, 6)
})

t.test('privacy deletion wins in either order', async (t) => {
  for (const order of [['contact.privacyDeletion', 'contact.deletion'], ['contact.deletion', 'contact.privacyDeletion']]) {
    const plan = planBatch(order.map((type, i) => ev(type, 9, 100 + i)))
    const [contact] = plan.byPortal[0].contacts
    t.ok(contact.purgeAt, `${order.join(' then ')} purges`)
  }
})

t.test('generic object events for contacts count, others are ignored', async (t) => {
  const plan = planBatch([
    ev('object.creation', 5, 1, { objectTypeId: '0-1' }),
    ev('object.creation', 6, 1, { objectTypeId: '0-3' }),
    ev('contact.creation', 7, 1, {}),
  ])
  t.same(plan.byPortal[0].contacts.map((c) => c.contactId).sort(), [5, 7])
  t.same(plan.ignored.map((i) => i.reason), ['not a contact event'])
})

t.test('stored events that no longer parse are ignored', async (t) => {
  const plan = planBatch([row({ portalId: 1, subscriptionType: 'contact.creation', objectId: 'x', occurredAt: 1 })])
  t.same(plan.ignored.map((i) => i.reason), ['stored event is invalid'])
  t.equal(plan.byPortal.length, 0)
})

t.test('events are grouped by portal', async (t) => {
  const plan = planBatch([ev('contact.creation', 1, 1), row({ portalId: 2, subscriptionType: 'contact.creation', objectId: 1, occurredAt: 1 })])
  t.same(plan.byPortal.map((p) => p.portalId).sort(), [1, 2])
})

t.test('merge plan picks the new record as survivor', async (t) => {
  t.same(toMergePlan({ portalId: 1, occurredAt: 5, objectId: 10, primaryObjectId: 10, mergedObjectIds: [11], newObjectId: 12 }), {
    survivorId: 12,
    absorbedIds: [10, 11],
    at: new Date(5),
  })
  t.same(toMergePlan({ portalId: 1, occurredAt: 5, primaryObjectId: 10, mergedObjectIds: [11, 10] })?.absorbedIds, [11], 'primary kept its id')
  t.equal(toMergePlan({ portalId: 1, occurredAt: 5 }), null)
})
