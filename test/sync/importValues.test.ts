import t from 'tap'

import { findLeadByContact } from '../../src/db/leads.js'
import { importContacts } from '../../src/sync/import.js'
import { createTestDatabase } from '../helpers/database.js'
import { contact, createIntegration, outboxRows } from '../events/support.js'

const { sql } = await createTestDatabase(t)
const integration = await createIntegration(sql)
const updatedAt = '2024-05-01T12:00:00.000Z'

t.test('hostile property values round-trip', async (t) => {
  const longText = 'Lorem ipsum 😀 '.repeat(7000)
  const properties = {
    email: 'emoji😀@example.com',
    firstname: 'Zoë 👩‍💻',
    lastname: 'Line one\r\nLine two\r\n',
    company: '',
    jobtitle: null,
    phone: '',
    mobilephone: '+49 170 0000000',
    lifecyclestage: 'lead',
    hubspot_owner_id: '123456789',
    notes: longText,
    numberlike: '00042',
    decimal: '3.14159265358979323846',
    quote: `"'\\ <script>alert(1)</script>`,
  }
  const result = await importContacts(sql, {
    integration,
    origin: 'backfill',
    contacts: [contact(2147483648123, properties, updatedAt)],
  })
  t.equal(result.created, 1)
  t.equal(result.nulCharactersRemoved, 0)

  const lead = await findLeadByContact(sql, integration.id, 2147483648123)
  t.ok(lead)
  if (!lead) return
  t.equal(lead.hubspotContactId, 2147483648123, 'id beyond 2^31 kept exactly')
  t.equal(lead.email, 'emoji😀@example.com')
  t.equal(lead.firstName, 'Zoë 👩‍💻')
  t.equal(lead.lastName, 'Line one\r\nLine two\r\n', 'CRLF kept')
  t.equal(lead.company, null, 'empty string is no value')
  t.equal(lead.jobTitle, null)
  t.equal(lead.phone, '+49 170 0000000', 'mobilephone when phone is empty')
  t.equal(lead.lifecycleStage, 'lead')
  t.equal(lead.hubspotOwnerId, '123456789')
  t.equal(lead.properties.notes, longText, '100 KB text kept')
  t.ok(longText.length > 100_000)
  t.equal(lead.properties.company, '', 'raw properties keep the empty string')
  t.equal(lead.properties.jobtitle, null, 'raw properties keep null')
  t.equal(lead.properties.numberlike, '00042', 'numbers stay strings')
  t.equal(lead.properties.decimal, '3.14159265358979323846')
  t.equal(lead.properties.quote, properties.quote)

  const [stored] = await sql<{ kind: string }[]>`
    select jsonb_typeof(properties) as kind from leads where id = ${lead.id}
  `
  t.equal(stored.kind, 'object', 'properties stored as a jsonb object, not a string')
})

t.test('NUL characters are removed and counted', async (t) => {
  const result = await importContacts(sql, {
    integration,
    origin: 'webhook',
    contacts: [
      contact(3001, { firstname: 'A\u0000na', notes: '\u0000\u0000x', 'bad\u0000key': 'v' }, updatedAt),
      contact(3002, { lastname: 'Nul\u0000' }, updatedAt),
    ],
  })
  t.equal(result.created, 2)
  t.equal(result.nulCharactersRemoved, 5)

  const first = await findLeadByContact(sql, integration.id, 3001)
  t.equal(first?.firstName, 'Ana')
  t.equal(first?.properties.notes, 'x')
  t.equal(first?.properties.badkey, 'v')
  const second = await findLeadByContact(sql, integration.id, 3002)
  t.equal(second?.lastName, 'Nul')
})

t.test('unpaired surrogates are replaced, not rejected', async (t) => {
  const result = await importContacts(sql, {
    integration,
    origin: 'webhook',
    contacts: [contact(3101, { firstname: 'half\uD83D' }, updatedAt)],
  })
  t.equal(result.created, 1)
  const lead = await findLeadByContact(sql, integration.id, 3101)
  t.equal(lead?.firstName, 'half\uFFFD')
})

t.test('times parse from ISO and epoch-millisecond strings', async (t) => {
  const epoch = {
    id: '3201',
    properties: { createdate: '1704067200000', lastmodifieddate: '1714564800000' },
    createdAt: '',
    updatedAt: '',
  }
  const result = await importContacts(sql, { integration, origin: 'poll', contacts: [epoch as never] })
  t.equal(result.created, 1)
  const lead = await findLeadByContact(sql, integration.id, 3201)
  t.same(lead?.hubspotCreatedAt, new Date('2024-01-01T00:00:00.000Z'))
  t.same(lead?.hubspotUpdatedAt, new Date('2024-05-01T12:00:00.000Z'))
})

t.test('lead event data carries the mapped values', async (t) => {
  const events = await outboxRows(sql)
  const event = events.find((row) => row.payload.data.hubspotContactId === 2147483648123)
  t.ok(event)
  t.equal(event?.payload.data.lastName, 'Line one\r\nLine two\r\n')
  t.equal(event?.payload.data.company, null)
  t.notOk('properties' in (event?.payload.data ?? {}), 'raw properties stay out of events')
})
