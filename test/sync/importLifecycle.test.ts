import t from 'tap'

import { findLeadByContact } from '../../src/db/leads.js'
import { leadMergedDataSchema } from '../../src/events/leadEvents.js'
import { importContacts } from '../../src/sync/import.js'
import { createTestDatabase } from '../helpers/database.js'
import { contact, createIntegration, outboxRows } from '../events/support.js'

const { sql } = await createTestDatabase(t)
let nextPortalId = 2000

async function freshIntegration() {
  await sql`delete from outbox`
  return createIntegration(sql, nextPortalId++)
}

const day = (n: number) => `2024-06-${String(n).padStart(2, '0')}T00:00:00.000Z`

async function subjects() {
  return (await outboxRows(sql)).map((row) => row.subject)
}

t.test('purged lead is never refilled', async (t) => {
  const integration = await freshIntegration()
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact(101, { email: 'p@example.com' }, day(1))] })
  await sql`
    update leads set purged_at = now(), email = null, properties = '{}'::jsonb
    where integration_id = ${integration.id}
  `
  const result = await importContacts(sql, {
    integration,
    origin: 'webhook',
    contacts: [contact(101, { email: 'p@example.com' }, day(9))],
  })
  t.equal(result.skipped, 1)
  t.equal(result.outcomes[0].reason, 'purged')
  const lead = await findLeadByContact(sql, integration.id, 101)
  t.equal(lead?.email, null)
  t.same(lead?.properties, {})
  t.same(await subjects(), ['leads.imported'])
})

t.test('merged-away lead is skipped', async (t) => {
  const integration = await freshIntegration()
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact(201, { firstname: 'A' }, day(1))] })
  await sql`update leads set merged_into_contact_id = 999 where integration_id = ${integration.id}`
  const result = await importContacts(sql, {
    integration,
    origin: 'poll',
    contacts: [contact(201, { firstname: 'B' }, day(2))],
  })
  t.equal(result.outcomes[0].outcome, 'skipped')
  t.equal(result.outcomes[0].reason, 'merged')
  t.equal((await findLeadByContact(sql, integration.id, 201))?.firstName, 'A')
})

t.test('soft-deleted lead is revived by a newer contact', async (t) => {
  const integration = await freshIntegration()
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact(301, { firstname: 'A' }, day(1))] })
  await sql`update leads set deleted_at = ${new Date(day(5))} where integration_id = ${integration.id}`

  const older = await importContacts(sql, {
    integration,
    origin: 'poll',
    contacts: [contact(301, { firstname: 'A' }, day(3))],
  })
  t.equal(older.outcomes[0].reason, 'deleted', 'a read from before the deletion does not revive')

  const newer = await importContacts(sql, {
    integration,
    origin: 'webhook',
    contacts: [contact(301, { firstname: 'A' }, day(6))],
  })
  t.equal(newer.restored, 1)
  const lead = await findLeadByContact(sql, integration.id, 301)
  t.equal(lead?.deletedAt, null)
  t.same(await subjects(), ['leads.imported', 'leads.restored'])
})

t.test('archived contacts are not imported as live', async (t) => {
  const integration = await freshIntegration()
  const archived = { ...contact(401, {}, day(1)), archived: true }
  const result = await importContacts(sql, { integration, origin: 'poll', contacts: [archived] })
  t.equal(result.outcomes[0].reason, 'archived')
  t.equal(await findLeadByContact(sql, integration.id, 401), null)
})

t.test('new survivor of known contacts publishes leads.merged, not leads.imported', async (t) => {
  const integration = await freshIntegration()
  await importContacts(sql, {
    integration,
    origin: 'poll',
    contacts: [contact(501, { email: 'x@example.com' }, day(1)), contact(502, { email: 'y@example.com' }, day(1))],
  })
  await sql`delete from outbox`
  const absorbed = await Promise.all([501, 502].map((id) => findLeadByContact(sql, integration.id, id)))

  // HubSpot's merge can create a new contact id that absorbs both old ones.
  const survivor = contact(777, { email: 'x@example.com', hs_merged_object_ids: '501;502' }, day(2))
  const result = await importContacts(sql, { integration, origin: 'webhook', contacts: [survivor] })
  t.equal(result.merged, 1)
  t.equal(result.created, 0)
  t.equal(result.outcomes[0].outcome, 'merged')

  const old = await Promise.all([501, 502].map((id) => findLeadByContact(sql, integration.id, id)))
  t.same(old.map((lead) => lead?.mergedIntoContactId), [777, 777])

  const events = await outboxRows(sql)
  t.same(events.map((row) => row.subject), ['leads.merged'])
  const data = leadMergedDataSchema.parse(events[0].payload.data)
  t.same(data.mergedContactIds, [501, 502])
  t.same(data.mergedLeadIds, absorbed.map((lead) => lead?.id))
  t.equal(data.hubspotContactId, 777)

  const again = await importContacts(sql, { integration, origin: 'poll', contacts: [survivor] })
  t.equal(again.unchanged, 1, 'reimporting the survivor changes nothing')
  t.equal((await outboxRows(sql)).length, 1)
})

t.test('existing survivor publishes leads.merged for newly absorbed leads', async (t) => {
  const integration = await freshIntegration()
  await importContacts(sql, {
    integration,
    origin: 'poll',
    contacts: [contact(601, { firstname: 'Keep' }, day(1)), contact(602, { firstname: 'Gone' }, day(1))],
  })
  await sql`delete from outbox`

  const survivor = contact(601, { firstname: 'Keep', hs_merged_object_ids: '602' }, day(2))
  const result = await importContacts(sql, { integration, origin: 'poll', contacts: [survivor] })
  t.equal(result.updated, 1)
  t.same(await subjects(), ['leads.updated', 'leads.merged'])
  t.equal((await findLeadByContact(sql, integration.id, 602))?.mergedIntoContactId, 601)

  // A survivor read again with an unknown absorbed id and nothing new marks nothing.
  const unchanged = await importContacts(sql, { integration, origin: 'poll', contacts: [survivor] })
  t.equal(unchanged.unchanged, 1)
  t.equal((await outboxRows(sql)).length, 2)
})

t.test('absorbed contact in the same batch is skipped as merged', async (t) => {
  const integration = await freshIntegration()
  const result = await importContacts(sql, {
    integration,
    origin: 'backfill',
    contacts: [contact(701, {}, day(1)), contact(702, { hs_merged_object_ids: '701' }, day(2))],
  })
  t.same(
    result.outcomes.map((o) => [o.contactId, o.outcome, o.reason]),
    [
      [701, 'skipped', 'merged'],
      [702, 'created', undefined],
    ],
  )
  t.equal(await findLeadByContact(sql, integration.id, 701), null)
  t.same(await subjects(), ['leads.imported'], 'a survivor of unknown contacts is a new lead')
})

t.test('absorbed contact in a later batch is skipped as merged', async (t) => {
  const integration = await freshIntegration()
  const survivor = contact(801, { hs_merged_object_ids: '802;803' }, day(2))
  await importContacts(sql, { integration, origin: 'backfill', contacts: [survivor] })
  await sql`delete from outbox`

  const later = await importContacts(sql, {
    integration,
    origin: 'backfill',
    contacts: [contact(802, {}, day(1)), contact(804, {}, day(1))],
  })
  t.same(
    later.outcomes.map((o) => [o.contactId, o.outcome, o.reason]),
    [
      [802, 'skipped', 'merged'],
      [804, 'created', undefined],
    ],
  )
  t.equal(await findLeadByContact(sql, integration.id, 802), null, 'no lead for the absorbed contact')
  t.same(await subjects(), ['leads.imported'], 'only the unrelated contact is announced')

  const webhook = await importContacts(sql, { integration, origin: 'webhook', contacts: [contact(803, {}, day(3))] })
  t.equal(webhook.outcomes[0].reason, 'merged', 'a newer read of an absorbed contact is skipped too')
  t.equal(await findLeadByContact(sql, integration.id, 803), null)
})

t.test('absorbed ids are recorded once per integration', async (t) => {
  const integration = await freshIntegration()
  const other = await createIntegration(sql, nextPortalId++)
  const survivor = contact(851, { hs_merged_object_ids: '852' }, day(2))
  await importContacts(sql, { integration, origin: 'poll', contacts: [survivor] })
  await importContacts(sql, { integration, origin: 'poll', contacts: [survivor] })

  const rows = await sql<{ integration_id: number; absorbed_contact_id: number; survivor_contact_id: number }[]>`
    select integration_id, absorbed_contact_id, survivor_contact_id
    from absorbed_contacts
    where absorbed_contact_id = 852
  `
  t.same(rows, [{ integration_id: integration.id, absorbed_contact_id: 852, survivor_contact_id: 851 }])

  const elsewhere = await importContacts(sql, { integration: other, origin: 'poll', contacts: [contact(852, {}, day(1))] })
  t.equal(elsewhere.created, 1, 'another integration still imports the contact')
})

t.test('unchanged survivor marks absorbed leads found later', async (t) => {
  const integration = await freshIntegration()
  const survivor = contact(901, { hs_merged_object_ids: '902' }, day(2))
  await importContacts(sql, { integration, origin: 'poll', contacts: [survivor] })
  // A survivor stored before absorbed ids were recorded: its absorbed contact becomes a lead.
  await sql`delete from absorbed_contacts where integration_id = ${integration.id}`
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact(902, {}, day(1))] })
  await sql`delete from outbox`

  const result = await importContacts(sql, { integration, origin: 'poll', contacts: [survivor] })
  t.equal(result.unchanged, 1)
  t.equal((await findLeadByContact(sql, integration.id, 902))?.mergedIntoContactId, 901)
  t.same(await subjects(), ['leads.merged'])
})
