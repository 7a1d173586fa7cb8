import t from 'tap'

import { findLead, findLeadByContact, getLead, listLeads } from '../../src/db/leads.js'
import { isAppError } from '../../src/errors.js'
import { importContacts } from '../../src/sync/import.js'
import { createTestDatabase } from '../helpers/database.js'
import { contact, createIntegration } from '../events/support.js'

const { sql } = await createTestDatabase(t)
const integration = await createIntegration(sql, 111)
const other = await createIntegration(sql, 222)
const contacts = Array.from({ length: 25 }, (_, index) =>
  contact(1000 + index, { email: `l${index}@example.com` }, '2024-01-02T00:00:00.000Z'),
)
await importContacts(sql, { integration, origin: 'backfill', contacts })
await importContacts(sql, { integration: other, origin: 'backfill', contacts: contacts.slice(0, 3) })

t.test('listLeads pages by id', async (t) => {
  const seen: number[] = []
  let after: number | null = null
  let pages = 0
  do {
    const page = await listLeads(sql, integration.id, { limit: 10, after })
    seen.push(...page.leads.map((lead) => lead.hubspotContactId))
    after = page.nextAfter
    pages += 1
  } while (after !== null)
  t.equal(pages, 3)
  t.same(seen, contacts.map((c) => Number(c.id)), 'every lead once, in id order')
})

t.test('listLeads ends without an empty page', async (t) => {
  const page = await listLeads(sql, other.id, { limit: 3 })
  t.equal(page.leads.length, 3)
  t.equal(page.nextAfter, null)
})

t.test('find returns null and get throws for a missing lead', async (t) => {
  t.equal(await findLead(sql, 999_999), null)
  const error = await getLead(sql, 999_999).catch((caught: unknown) => caught)
  t.ok(isAppError(error, 'NOT_FOUND'), 'getLead throws NOT_FOUND')
})

t.test('lead fields map from the row', async (t) => {
  const byContact = await findLeadByContact(sql, integration.id, 1003)
  t.ok(byContact)
  if (!byContact) return
  const lead = await getLead(sql, byContact.id)
  t.equal(lead.email, 'l3@example.com')
  t.equal(lead.integrationId, integration.id)
  t.same(lead.hubspotUpdatedAt, new Date('2024-01-02T00:00:00.000Z'))
  t.same(lead.importActions, integration.actions)
  t.equal(lead.deletedAt, null)
})
