import t from 'tap'

import { updateIntegration } from '../../src/db/integrations.js'
import { leadEventDataSchema } from '../../src/events/leadEvents.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { contactsImported } from '../../src/metrics.js'
import { importContacts } from '../../src/sync/import.js'
import { createTestDatabase } from '../helpers/database.js'
import { connectNats, uniqueSubjectPrefix } from '../helpers/nats.js'
import {
  contact,
  createIntegration,
  outboxRows,
  readStream,
  silentLogger,
  startNats,
} from '../events/support.js'

const { sql } = await createTestDatabase(t)
let nextPortalId = 1000

async function freshIntegration() {
  await sql`delete from outbox`
  return createIntegration(sql, nextPortalId++)
}

function leadRows(integrationId: number) {
  return sql<{ id: number; hubspot_contact_id: number; email: string | null; first_name: string | null;
    xmin: string; updated_at: Date; hubspot_updated_at: Date; import_actions: unknown }[]>`
    select id, hubspot_contact_id, email, first_name, xmin::text as xmin, updated_at,
           hubspot_updated_at, import_actions
    from leads
    where integration_id = ${integrationId}
    order by hubspot_contact_id
  `
}

t.test('same contact imported twice gives one lead and one leads.imported', async (t) => {
  const integration = await freshIntegration()
  const prefix = uniqueSubjectPrefix(t)
  const nats = startNats(t, prefix)
  t.ok(await nats.waitUntilConnected(10_000), 'NATS connected')
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 50 })
  t.teardown(() => relay.stop())

  const alice = contact(110338039632, { email: 'alice@example.com', firstname: 'Alice' }, '2024-03-01T10:00:00.000Z')
  const first = await importContacts(sql, { integration, origin: 'poll', contacts: [alice] })
  const second = await importContacts(sql, { integration, origin: 'webhook', contacts: [alice] })

  t.equal(first.created, 1)
  t.equal(second.created, 0)
  t.equal(second.unchanged, 1)
  t.equal((await leadRows(integration.id)).length, 1)

  await relay.flush()
  const nc = await connectNats(t)
  const messages = await readStream(nc, nats.streamName('LEADS'))
  t.equal(messages.length, 1, 'one message on the stream')
  t.equal(messages[0].subject, `${prefix}.leads.imported`)
  t.equal(messages[0].msgId, messages[0].event.id, 'Nats-Msg-Id is the CloudEvents id')
  t.equal(messages[0].event.source, 'hubspot-sync/portal/' + integration.portalId)
  const data = leadEventDataSchema.parse(messages[0].event.data)
  t.equal(data.hubspotContactId, 110338039632)
  t.equal(data.email, 'alice@example.com')
  t.equal(data.origin, 'poll')
  t.equal(data.leadId, first.outcomes[0].leadId)
})

t.test('rerun over unchanged data writes and queues nothing', async (t) => {
  const integration = await freshIntegration()
  const contacts = Array.from({ length: 50 }, (_, index) =>
    contact(5000 + index, { email: `c${index}@example.com` }, '2024-03-01T10:00:00.000Z'),
  )
  await importContacts(sql, { integration, origin: 'backfill', contacts })
  const before = await leadRows(integration.id)
  const outboxBefore = await outboxRows(sql)

  const rerun = await importContacts(sql, { integration, origin: 'poll', contacts })
  t.equal(rerun.unchanged, 50)
  t.equal(rerun.created + rerun.updated + rerun.skipped, 0)

  const after = await leadRows(integration.id)
  t.same(after.map((row) => row.xmin), before.map((row) => row.xmin), 'no row version changed')
  t.same(after.map((row) => row.updated_at), before.map((row) => row.updated_at))
  t.equal((await outboxRows(sql)).length, outboxBefore.length, 'no outbox row added')
})

t.test('newer contact wins and older one is skipped as stale', async (t) => {
  const integration = await freshIntegration()
  const v1 = contact(7001, { firstname: 'Old' }, '2024-03-01T10:00:00.000Z')
  const v2 = contact(7001, { firstname: 'New' }, '2024-03-02T10:00:00.000Z')

  await importContacts(sql, { integration, origin: 'poll', contacts: [v1] })
  const newer = await importContacts(sql, { integration, origin: 'webhook', contacts: [v2] })
  t.equal(newer.updated, 1)
  const older = await importContacts(sql, { integration, origin: 'poll', contacts: [v1] })
  t.equal(older.skipped, 1)
  t.equal(older.outcomes[0].reason, 'stale')

  const [row] = await leadRows(integration.id)
  t.equal(row.first_name, 'New')
  t.same(row.hubspot_updated_at, new Date('2024-03-02T10:00:00.000Z'))
  const subjects = (await outboxRows(sql)).map((event) => event.subject)
  t.same(subjects, ['leads.imported', 'leads.updated'])
})

t.test('equal timestamp with different content updates', async (t) => {
  const integration = await freshIntegration()
  const at = '2024-03-01T10:00:00.000Z'
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact(7101, { company: 'A' }, at)] })
  const b = await importContacts(sql, { integration, origin: 'poll', contacts: [contact(7101, { company: 'B' }, at)] })
  const c = await importContacts(sql, { integration, origin: 'poll', contacts: [contact(7101, { company: 'C' }, at)] })
  t.equal(b.updated, 1)
  t.equal(c.updated, 1)

  const events = await outboxRows(sql)
  t.same(events.map((event) => event.subject), ['leads.imported', 'leads.updated', 'leads.updated'])
  t.not(events[1].event_id, events[2].event_id, 'two versions at one time get two event ids')
  t.equal(events[2].payload.data.company, 'C')
})

t.test('newer timestamp with the same content is unchanged', async (t) => {
  const integration = await freshIntegration()
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact(7201, { company: 'A' }, '2024-03-01T10:00:00.000Z')] })
  const result = await importContacts(sql, {
    integration,
    origin: 'poll',
    contacts: [contact(7201, { company: 'A' }, '2024-03-05T10:00:00.000Z')],
  })
  t.equal(result.unchanged, 1, 'only lastmodifieddate moved')
  t.equal((await outboxRows(sql)).length, 1)
})

t.test('one invalid contact does not stop the batch', async (t) => {
  const integration = await freshIntegration()
  const good = Array.from({ length: 40 }, (_, index) =>
    contact(8000 + index, { email: `ok${index}@example.com` }, '2024-03-01T10:00:00.000Z'),
  )
  const bad = [
    { properties: { email: 'no-id@example.com' }, updatedAt: '2024-03-01T10:00:00.000Z' },
    contact('12ab', {}, '2024-03-01T10:00:00.000Z'),
    { ...contact(8100, {}, 'not a time'), properties: { lastmodifieddate: 'yesterday' } },
    { ...contact(8101, {}, '2024-03-01T10:00:00.000Z'), properties: { email: { nested: true } } },
  ]
  const contacts = [...good.slice(0, 20), ...bad, ...good.slice(20)] as never[]

  const result = await importContacts(sql, { integration, origin: 'backfill', contacts })
  t.equal(result.created, 40)
  t.same(result.failures, [
    { contactId: null, reason: 'missing id' },
    { contactId: '12ab', reason: 'invalid id' },
    { contactId: '8100', reason: 'missing or invalid updatedAt' },
    { contactId: '8101', reason: 'invalid value for property email' },
  ])
  const failed = result.outcomes.filter((outcome) => outcome.outcome === 'failed')
  t.same(failed.map((outcome) => outcome.contactId), [8100, 8101])
  t.equal((await leadRows(integration.id)).length, 40)
})

t.test('duplicates in one batch keep the newest', async (t) => {
  const integration = await freshIntegration()
  const contacts = [
    contact(9001, { firstname: 'middle' }, '2024-03-02T00:00:00.000Z'),
    contact(9001, { firstname: 'newest' }, '2024-03-03T00:00:00.000Z'),
    contact(9001, { firstname: 'oldest' }, '2024-03-01T00:00:00.000Z'),
  ]
  const result = await importContacts(sql, { integration, origin: 'webhook', contacts })
  t.equal(result.created, 1)
  t.equal(result.skipped, 2)
  t.same(result.outcomes.filter((o) => o.outcome === 'skipped').map((o) => o.reason), ['duplicate', 'duplicate'])
  const rows = await leadRows(integration.id)
  t.equal(rows.length, 1)
  t.equal(rows[0].first_name, 'newest')
  t.equal((await outboxRows(sql)).length, 1)
})

t.test('two contacts sharing an email are two leads', async (t) => {
  const integration = await freshIntegration()
  const contacts = [
    contact(9101, { email: 'shared@example.com', firstname: 'One' }, '2024-03-01T00:00:00.000Z'),
    contact(9102, { email: 'shared@example.com', firstname: 'Two' }, '2024-03-01T00:00:00.000Z'),
  ]
  const result = await importContacts(sql, { integration, origin: 'poll', contacts })
  t.equal(result.created, 2)
  const rows = await leadRows(integration.id)
  t.same(rows.map((row) => [row.hubspot_contact_id, row.email]), [
    [9101, 'shared@example.com'],
    [9102, 'shared@example.com'],
  ])
})

t.test('new leads keep the actions in force at import', async (t) => {
  const integration = await freshIntegration()
  await importContacts(sql, { integration, origin: 'poll', contacts: [contact(9201, { company: 'A' }, '2024-03-01T00:00:00.000Z')] })
  const changed = await updateIntegration(sql, integration.id, { actions: { notify: { enabled: true } } })
  await importContacts(sql, {
    integration: changed,
    origin: 'poll',
    contacts: [contact(9201, { company: 'B' }, '2024-03-02T00:00:00.000Z'), contact(9202, {}, '2024-03-02T00:00:00.000Z')],
  })
  const rows = await leadRows(integration.id)
  t.same(rows[0].import_actions, integration.actions, 'an update keeps the snapshot')
  t.same(rows[1].import_actions, { notify: { enabled: true } })
})

t.test('withinTransaction failure rolls the batch back', async (t) => {
  const integration = await freshIntegration()
  let seen: number | null = null
  await t.rejects(
    importContacts(sql, {
      integration,
      origin: 'poll',
      contacts: [contact(9301, {}, '2024-03-01T00:00:00.000Z')],
      withinTransaction: async (tx, result) => {
        seen = result.created
        const [row] = await tx<{ count: number }[]>`select count(*)::int as count from leads where integration_id = ${integration.id}`
        t.equal(row.count, 1, 'the callback sees the upserted lead')
        throw new Error('cursor save failed')
      },
    }),
    { message: 'cursor save failed' },
  )
  t.equal(seen, 1)
  t.equal((await leadRows(integration.id)).length, 0)
  t.equal((await outboxRows(sql)).length, 0)
})

t.test('contactsImported counts outcomes by origin', async (t) => {
  const integration = await freshIntegration()
  const read = async () => {
    const metric = await contactsImported.get()
    return metric.values.find((v) => v.labels.origin === 'manual' && v.labels.outcome === 'created')?.value ?? 0
  }
  const before = await read()
  await importContacts(sql, {
    integration,
    origin: 'manual',
    contacts: [contact(9401, {}, '2024-03-01T00:00:00.000Z'), contact(9402, {}, '2024-03-01T00:00:00.000Z')],
  })
  t.equal((await read()) - before, 2)
})

t.test('empty batch still runs withinTransaction', async (t) => {
  const integration = await freshIntegration()
  let called = false
  const result = await importContacts(sql, {
    integration,
    origin: 'poll',
    contacts: [],
    withinTransaction: async () => {
      called = true
    },
  })
  t.ok(called)
  t.equal(result.outcomes.length, 0)
})

t.test('concurrent imports of one contact create one lead', async (t) => {
  const integration = await freshIntegration()
  const contacts = [contact(9501, { email: 'race@example.com' }, '2024-03-01T00:00:00.000Z')]
  const results = await Promise.all(
    Array.from({ length: 5 }, () => importContacts(sql, { integration, origin: 'webhook', contacts })),
  )
  t.equal(results.reduce((sum, result) => sum + result.created, 0), 1, 'one import created the lead')
  t.equal(results.reduce((sum, result) => sum + result.unchanged, 0), 4, 'the others found it unchanged')
  t.equal((await leadRows(integration.id)).length, 1)
  t.same((await outboxRows(sql)).map((row) => row.subject), ['leads.imported'])
})
