import t from 'tap'

import { testConfig } from '../../src/config.js'
import { findLeadByContact } from '../../src/db/leads.js'
import { createLogger } from '../../src/logger.js'
import { createSyncParts } from '../../src/server.js'
import { startSimulator } from '../../src/simulator/server.js'
import { importContacts } from '../../src/sync/import.js'
import { createTestDatabase } from '../helpers/database.js'
import { createIntegration, encryptionKey } from '../webhooks/fixtures/leads.js'

// A zone far from UTC: naive date parsing would shift every time below by hours.
process.env.TZ = 'America/New_York'

const megabyteText = 'Ab😀 \u05E9\u05DC\u05D5\u05DD\r\n'.repeat(100_000).slice(0, 1024 * 1024)

/** Property values as HubSpot can send them, each kept byte for byte in `properties`. */
const hostileValues: Record<string, string | null> = {
  hs_boolean_true: 'true',
  hs_boolean_false: 'false',
  amount_us: '1,234.50',
  amount_eu: '1 234,5',
  amount_nbsp: '1\u00A0234,5',
  huge_number: '123456789012345678901234567890',
  exponent: '1e400',
  epoch_ms: '1700000000000',
  date_only: '2024-03-01',
  iso_nine_digits: '2024-03-01T12:00:00.123456789Z',
  empty: '',
  nothing: null,
  whitespace: ' \t\r\n ',
  emoji: '👩🏽‍💻🇩🇪',
  rtl: '\u202Eعربي עברית',
  crlf: 'line one\r\nline two\r\n',
  html: '<img src=x onerror=alert(1)>',
  sql_like: "'; drop table leads; --",
  json_like: '{"__proto__":{"polluted":"yes"}}',
  constructor: 'another odd key',
  notes: megabyteText,
}

/** createdate formats HubSpot endpoints use, and the instant each one means. */
const createdDates: [string, string][] = [
  ['1700000000000', '2023-11-14T22:13:20.000Z'],
  ['2024-03-01T12:00:00Z', '2024-03-01T12:00:00.000Z'],
  ['2024-03-01T12:00:00.123Z', '2024-03-01T12:00:00.123Z'],
  ['2024-03-01T12:00:00.123456Z', '2024-03-01T12:00:00.123Z'],
  ['2024-03-01T12:00:00.123456789Z', '2024-03-01T12:00:00.123Z'],
  ['2024-03-01', '2024-03-01T00:00:00.000Z'],
  ['2024-03-01T12:00:00', '2024-03-01T12:00:00.000Z'],
  ['2024-03-01 12:00:00.5', '2024-03-01T12:00:00.500Z'],
  ['2024-03-01T12:00:00+02:00', '2024-03-01T10:00:00.000Z'],
  ['2024-03-01T12:00:00.250-05:30', '2024-03-01T17:30:00.250Z'],
]

const { sql } = await createTestDatabase(t)

/** A contact as the list endpoint returns it, with its properties built by `JSON.parse`. */
function rawContact(id: number, properties: Record<string, string | null>, createdAt = '', updatedAt = '') {
  return JSON.parse(JSON.stringify({ id: String(id), properties, createdAt, updatedAt, archived: false }))
}

t.test('every value shape is kept through importContacts', async (t) => {
  const integration = await createIntegration(sql, 1001, 'pat-values')
  const properties = {
    ...JSON.parse(JSON.stringify(hostileValues)),
    email: 'Mixed.Case+tag@Example.COM',
    firstname: '  ',
    lastname: 'Nul\u0000Byte',
    company: '',
    jobtitle: null,
    lastmodifieddate: '2024-05-01T12:00:00.000Z',
  }
  // A literal `__proto__: ...` would set the prototype, so the key is defined as data.
  Object.defineProperty(properties, '__proto__', { value: 'a key HubSpot never sends', enumerable: true })
  const badContacts = [
    rawContact(0, {}, '', '2024-05-01T12:00:00Z'),
    { id: '7001', properties: { firstname: { nested: true } }, updatedAt: '2024-05-01T12:00:00Z' },
    rawContact(7002, { firstname: 'no time' }),
    { id: '7003', properties: 'not an object', updatedAt: '2024-05-01T12:00:00Z' },
  ]

  const result = await importContacts(sql, {
    integration,
    origin: 'backfill',
    contacts: [...badContacts.slice(0, 2), rawContact(7000, properties), ...badContacts.slice(2)],
  })
  t.equal(result.created, 1, `the good contact is imported ${JSON.stringify(result.failures)}`)
  t.equal(result.failures.length, 4, 'each bad contact is reported, none stops the batch')
  t.same(result.failures.map((failure) => failure.contactId).sort(), ['0', '7001', '7002', '7003'])
  t.equal(result.nulCharactersRemoved, 1, 'the NUL is counted')

  const lead = await findLeadByContact(sql, integration.id, 7000)
  if (!lead) return t.fail('lead 7000 missing')
  for (const [name, value] of Object.entries(hostileValues)) {
    t.equal(Object.hasOwn(lead.properties, name), true, `${name} present`)
    t.equal(lead.properties[name], value, `${name} kept exactly`)
  }
  t.equal(lead.properties.lastname, 'NulByte', 'NUL removed from the raw property')
  t.equal(Object.hasOwn(lead.properties, '__proto__'), true, 'a __proto__ property is kept as data')
  t.equal(lead.properties.__proto__, 'a key HubSpot never sends')
  t.equal(Object.getPrototypeOf(lead.properties), Object.prototype, 'and leaves the prototype alone')
  t.equal(lead.email, 'Mixed.Case+tag@Example.COM', 'email kept as sent')
  t.equal(lead.firstName, '  ', 'whitespace-only name kept as sent')
  t.equal(lead.lastName, 'NulByte')
  t.equal(lead.company, null, 'empty string is no value in a typed column')
  t.equal(lead.jobTitle, null, 'null is no value')
  t.equal(lead.properties.company, '', 'raw properties keep the empty string')
  t.equal(lead.hubspotUpdatedAt?.toISOString(), '2024-05-01T12:00:00.000Z', 'lastmodifieddate read')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted')
})

t.test('createdate and lastmodifieddate parse in every format', async (t) => {
  const integration = await createIntegration(sql, 1002, 'pat-dates')
  const contacts = createdDates.map(([created], index) =>
    rawContact(8000 + index, { createdate: created, lastmodifieddate: created }),
  )
  const result = await importContacts(sql, { integration, origin: 'poll', contacts })
  t.equal(result.created, createdDates.length, `${JSON.stringify(result.failures)}`)

  for (const [index, [created, expected]] of createdDates.entries()) {
    const lead = await findLeadByContact(sql, integration.id, 8000 + index)
    t.equal(lead?.hubspotCreatedAt?.toISOString(), expected, `createdate ${created}`)
    t.equal(lead?.hubspotUpdatedAt?.toISOString(), expected, `lastmodifieddate ${created}`)
    t.equal(lead?.properties.createdate, created, `raw createdate ${created} kept`)
  }
})

t.test('hostile values survive a sync against the simulator', async (t) => {
  const simulator = await startSimulator({ contacts: 3, seed: 11, portalId: 1003 })
  t.teardown(() => simulator.close())
  const integration = await createIntegration(sql, 1003, simulator.privateAppToken)
  const values: Record<string, string> = {
    firstname: 'Zoë 👩🏽‍💻 \u202Eعربي',
    lastname: 'line one\r\nline two',
    company: '1,234.50',
    jobtitle: 'true',
    city: '1 234,5',
    state: '1700000000000',
    country: '2024-03-01',
    website: megabyteText,
    hs_lead_status: ' \t ',
  }
  const created = simulator.contacts.create({ ...values, email: 'values@example.com' })
  const withNul = simulator.contacts.create({ firstname: 'A\u0000na', email: 'nul@example.com' })

  const config = testConfig({ HUBSPOT_API_URL: simulator.url, SCHEDULER_ENABLED: 'false' })
  const { sync, clients } = createSyncParts({ config, sql, encryptionKey, logger: createLogger('silent') })
  t.teardown(async () => {
    await sync.stop()
    await clients.close()
  })
  const { done } = await sync.startRun(integration.id, 'manual')
  const run = await done
  t.equal(run.status, 'succeeded', `run ${run.errorCode ?? ''} ${run.error ?? ''}`)
  t.equal(run.counts.created, 5, 'seeded and hostile contacts imported')

  const lead = await findLeadByContact(sql, integration.id, Number(created.id))
  for (const [name, value] of Object.entries(values)) {
    t.equal(lead?.properties[name], value, `${name} kept exactly through HTTP and JSON`)
  }
  t.equal(lead?.firstName, values.firstname)
  t.equal(lead?.hubspotCreatedAt?.toISOString(), new Date(created.createdAt).toISOString(), 'createdAt parsed')
  const nulLead = await findLeadByContact(sql, integration.id, Number(withNul.id))
  t.equal(nulLead?.firstName, 'Ana', 'NUL removed on the way in')
})
