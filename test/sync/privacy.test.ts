import t from 'tap'

import type { Sql } from '../../src/db/connection.js'
import type { Integration } from '../../src/db/integrations.js'
import { insertActionDeadLetter } from '../../src/db/leadActions.js'
import { importContacts } from '../../src/sync/import.js'
import { purgeContacts } from '../../src/sync/lifecycle.js'
import { createTestDatabase } from '../helpers/database.js'
import { createIntegration, hubspotContact, lead } from '../webhooks/fixtures/leads.js'

const { sql } = await createTestDatabase(t)
let nextPortalId = 8100

const email = (contactId: number) => `person${contactId}@example.com`

function contact(contactId: number, updatedAt: string, mergedIds: number[] = []) {
  const properties: Record<string, string | null> = {
    email: email(contactId),
    firstname: `First${contactId}`,
    phone: `+1 555 01${contactId}`,
  }
  if (mergedIds.length > 0) properties.hs_merged_object_ids = mergedIds.join(';')
  return hubspotContact(contactId, properties, updatedAt)
}

/**
 * Builds an integration with contact 1 merged into 2, 2 merged into 3, and an unrelated
 * contact 4. Returns the lead ids by contact id.
 */
async function mergeChain(): Promise<{ integration: Integration; leadIds: Map<number, number> }> {
  const integration = await createIntegration(sql, nextPortalId++)
  const importOne = (c: ReturnType<typeof contact>) => importContacts(sql, { integration, origin: 'poll', contacts: [c] })
  for (const id of [1, 2, 3, 4]) await importOne(contact(id, '2024-03-01T00:00:00.000Z'))
  await importOne(contact(2, '2024-03-02T00:00:00.000Z', [1]))
  await importOne(contact(3, '2024-03-03T00:00:00.000Z', [2]))

  const rows = await sql<{ id: number; hubspot_contact_id: number }[]>`
    select id, hubspot_contact_id from leads where integration_id = ${integration.id}
  `
  return { integration, leadIds: new Map(rows.map((row) => [row.hubspot_contact_id, row.id])) }
}

async function outboxOfLead(sql: Sql, leadId: number) {
  return sql<{ subject: string; payload: { data: Record<string, unknown> }; published_at: Date | null }[]>`
    select subject, payload, published_at
    from outbox
    where payload -> 'data' ->> 'leadId' = ${String(leadId)}
    order by id
  `
}

async function storeWebhookEvent(integration: Integration, contactId: number, status: string, value: string) {
  const event = {
    portalId: integration.portalId,
    occurredAt: 1_700_000_000_000 + contactId,
    subscriptionType: 'contact.propertyChange',
    objectId: contactId,
    propertyName: 'email',
    propertyValue: value,
  }
  const dedupKey = `${integration.portalId}|propertyChange|${contactId}|"${value}"`
  const [row] = await sql<{ id: number }[]>`
    insert into webhook_events (dedup_key, portal_id, subscription_type, object_id, occurred_at, event, status)
    values (${dedupKey}, ${integration.portalId}, 'contact.propertyChange', ${contactId}, now(), ${event as never}::jsonb, ${status})
    returning id
  `
  return row.id
}

const target = (integration: Integration) => ({ integration, origin: 'webhook' as const })
const purgeAt = [{ contactId: 3, at: new Date('2024-03-04T00:00:00Z') }]

t.test('merge chain is set up as merged leads', async (t) => {
  const { integration } = await mergeChain()
  t.equal((await lead(sql, integration.id, 1))?.mergedIntoContactId, 2)
  t.equal((await lead(sql, integration.id, 2))?.mergedIntoContactId, 3)
})

t.test('purge of a survivor purges the leads merged into it', async (t) => {
  const { integration, leadIds } = await mergeChain()
  t.equal(await purgeContacts(sql, target(integration), purgeAt), 3, 'survivor and two merged leads purged')

  for (const contactId of [1, 2, 3]) {
    const row = await lead(sql, integration.id, contactId)
    t.ok(row?.purgedAt, `lead of contact ${contactId} purged`)
    t.equal(row?.email, null, `lead of contact ${contactId} has no email`)
    t.equal(row?.firstName, null, `lead of contact ${contactId} has no first name`)
    t.equal(row?.phone, null, `lead of contact ${contactId} has no phone`)
    t.same(row?.properties, {}, `lead of contact ${contactId} has no properties`)
  }
  t.equal((await lead(sql, integration.id, 1))?.mergedIntoContactId, 2, 'merge pointer kept')
  t.equal((await lead(sql, integration.id, 4))?.email, email(4), 'unrelated lead untouched')

  const purged = await sql<{ payload: { data: Record<string, unknown> } }[]>`
    select payload from outbox
    where subject = 'leads.purged' and (payload -> 'data' ->> 'integrationId')::bigint = ${integration.id}
    order by (payload -> 'data' ->> 'hubspotContactId')::bigint
  `
  t.same(purged.map((row) => row.payload.data.hubspotContactId), [1, 2, 3], 'one leads.purged per lead')
  t.same(purged.map((row) => row.payload.data.leadId), [1, 2, 3].map((id) => leadIds.get(id)))
  for (const row of purged) {
    t.same(Object.keys(row.payload.data).sort(), ['hubspotContactId', 'integrationId', 'leadId', 'origin', 'portalId', 'purgedAt'])
  }
  t.equal(await purgeContacts(sql, target(integration), purgeAt), 0, 'second purge finds nothing left')
})

t.test('absorbed contacts table holds ids only', async (t) => {
  const columns = await sql<{ column_name: string }[]>`
    select column_name from information_schema.columns
    where table_name = 'absorbed_contacts'
    order by column_name
  `
  t.same(columns.map((row) => row.column_name), ['absorbed_contact_id', 'integration_id', 'recorded_at', 'survivor_contact_id'])
})

t.test('purge deletes published and erases queued events of the leads', async (t) => {
  const { integration, leadIds } = await mergeChain()
  await sql`
    update outbox set published_at = now()
    where subject = 'leads.imported'
      and (payload -> 'data' ->> 'integrationId')::bigint = ${integration.id}
  `
  const before = await outboxOfLead(sql, leadIds.get(2)!)
  const published = before.map((row) => [row.subject, row.published_at !== null])
  t.same(published, [['leads.imported', true], ['leads.updated', false], ['leads.merged', false]])
  const unrelatedBefore = await outboxOfLead(sql, leadIds.get(4)!)

  await purgeContacts(sql, target(integration), purgeAt)

  for (const contactId of [1, 2, 3]) {
    const rows = await outboxOfLead(sql, leadIds.get(contactId)!)
    t.notOk(rows.some((row) => row.published_at !== null && row.subject !== 'leads.purged'), `no published event of contact ${contactId} left`)
    t.notMatch(JSON.stringify(rows), /@example\.com|First\d|\+1 555/, `no personal data in events of contact ${contactId}`)
  }
  const after = await outboxOfLead(sql, leadIds.get(2)!)
  t.same(after.map((row) => row.subject), ['leads.updated', 'leads.merged', 'leads.purged'], 'queued events kept')
  const merged = after[1].payload.data
  t.equal(merged.email, null, 'queued event has no email')
  t.equal(merged.firstName, null, 'queued event has no first name')
  t.equal(merged.hubspotContactId, 2, 'queued event keeps its ids')
  t.same(merged.mergedContactIds, [1], 'queued event keeps its merge ids')
  t.same(await outboxOfLead(sql, leadIds.get(4)!), unrelatedBefore, 'events of an unrelated lead untouched')
})

t.test('purge erases the dead letters of the leads', async (t) => {
  const { integration, leadIds } = await mergeChain()
  const [imported] = await outboxOfLead(sql, leadIds.get(1)!)
  await insertActionDeadLetter(sql, {
    eventId: '00000000-0000-4000-8000-000000000001',
    leadId: leadIds.get(1)!,
    deliveries: 5,
    reason: 'test',
    payload: imported.payload,
  })
  await purgeContacts(sql, target(integration), purgeAt)

  const [letter] = await sql<{ payload: { data: Record<string, unknown> } }[]>`
    select payload from action_dead_letters where lead_id = ${leadIds.get(1)!}
  `
  t.equal(letter.payload.data.email, null, 'dead letter has no email')
  t.equal(letter.payload.data.phone, null, 'dead letter has no phone')
  t.equal(letter.payload.data.leadId, leadIds.get(1), 'dead letter keeps the lead id')
})

t.test('purge erases property values of stored webhook events', async (t) => {
  const { integration } = await mergeChain()
  const absorbedDone = await storeWebhookEvent(integration, 1, 'done', email(1))
  const survivorFailed = await storeWebhookEvent(integration, 3, 'failed', email(3))
  const unrelated = await storeWebhookEvent(integration, 4, 'done', email(4))

  await purgeContacts(sql, target(integration), purgeAt)

  const rows = await sql<{ id: number; status: string; dedup_key: string; object_id: number; event: Record<string, unknown> }[]>`
    select id, status, dedup_key, object_id, event from webhook_events
    where id = any(${[absorbedDone, survivorFailed, unrelated]}::bigint[])
    order by id
  `
  t.same(rows.map((row) => row.status), ['done', 'failed', 'done'], 'statuses kept')
  for (const row of rows.slice(0, 2)) {
    t.equal(row.event.propertyValue, null, `event ${row.id} has no property value`)
    t.equal(row.event.objectId, row.object_id, `event ${row.id} keeps its object id`)
    t.notMatch(row.dedup_key, /example\.com/, `dedup key of event ${row.id} holds no value`)
  }
  t.equal(rows[2].event.propertyValue, email(4), 'event of an unrelated contact untouched')
})
