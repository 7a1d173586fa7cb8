// Signed batches with content that PostgreSQL's jsonb or the event schema would reject:
// the receiver must store the events it can and respond 200, so HubSpot does not drop the
// whole batch after its retries.
import { Writable } from 'node:stream'

import t, { type Test } from 'tap'

import { buildApp } from '../../src/app.js'
import type { Sql } from '../../src/db/connection.js'
import { NatsManager } from '../../src/events/nats.js'
import { maxFieldDepth } from '../../src/http/routes/postHubspotWebhook.js'
import { createLogger } from '../../src/logger.js'
import { registry } from '../../src/metrics.js'
import { createTestDatabase } from '../helpers/database.js'
import { contactEvent, postSigned, webhookConfig } from './fixtures/delivery.js'
import { createIntegration } from './fixtures/leads.js'

const portalId = 62516

/** Builds the app with a logger that keeps every line, so tests can read the logs. */
async function setup(t: Test) {
  const db = await createTestDatabase(t)
  await createIntegration(db.sql, portalId)
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const logger = createLogger('info', stream)
  const nats = new NatsManager({ url: 'nats://127.0.0.1:1', subjectPrefix: 'unused', logger })
  const app = buildApp({ config: webhookConfig(), sql: db.sql, logger, nats, services: {} })
  await app.ready()
  t.teardown(() => app.close())
  return { ...db, app, lines }
}

interface StoredRow {
  status: string
  object_id: number | null
  last_error: string | null
  event: Record<string, unknown>
}

async function storedRows(sql: Sql): Promise<StoredRow[]> {
  return sql<StoredRow[]>`select status, object_id, last_error, event from webhook_events order by id`
}

async function outcomeCount(outcome: string): Promise<number> {
  const metric = await registry.getSingleMetric('hubspot_sync_webhook_requests_total')!.get()
  return metric.values.find((value) => value.labels.outcome === outcome)?.value ?? 0
}

/** Appends `"name": raw` to an object and returns JSON text. `raw` is JSON text too. */
function withRawField(event: Record<string, unknown> | string, name: string, raw: string): string {
  const text = typeof event === 'string' ? event : JSON.stringify(event)
  return `${text.slice(0, -1)},${JSON.stringify(name)}:${raw}}`
}

t.test('NUL escape in a key is stored cleaned', async (t) => {
  const { app, sql } = await setup(t)
  const spoof = { ...contactEvent(portalId, 'creation', 12), 'extra\u0000': 1, 'objectId\u0000': 99 }
  const body = JSON.stringify([contactEvent(portalId, 'creation', 11), spoof])

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { received: 2, stored: 2 })

  const rows = await storedRows(sql)
  t.same(rows.map((row) => row.status), ['pending', 'pending'])
  t.equal(rows[1].object_id, 12)
  t.equal(rows[1].event.objectId, 12, 'a cleaned key never replaces a real field')
  t.equal(rows[1].event['objectId\uFFFD'], 99)
  t.equal(rows[1].event['extra\uFFFD'], 1)
})

t.test('field nested too deep is dropped', async (t) => {
  const { app, sql, lines } = await setup(t)
  const deep = '['.repeat(100_000) + ']'.repeat(100_000)
  const kept = '['.repeat(maxFieldDepth) + ']'.repeat(maxFieldDepth)
  const nested = withRawField(withRawField(contactEvent(portalId, 'creation', 14), 'extra', deep), 'shallow', kept)
  const body = `[${JSON.stringify(contactEvent(portalId, 'creation', 13))},${nested}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body.slice(0, 200))
  t.same(response.json(), { received: 2, stored: 2 })

  const rows = await storedRows(sql)
  t.same(rows.map((row) => row.status), ['pending', 'pending'])
  t.equal(rows[1].object_id, 14)
  t.notOk('extra' in rows[1].event, 'the deep field is left out')
  t.ok('shallow' in rows[1].event, `a field ${maxFieldDepth} levels deep is kept`)
  t.equal(rows[1].event.changeSource, 'CRM', 'the other fields are kept')

  const warning = lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'webhook fields dropped before storing')
  t.ok(warning, 'the drop is logged')
  t.same(warning?.droppedFields, [{ position: 1, field: 'extra', reason: `nested deeper than ${maxFieldDepth} levels` }])
})

t.test('numbers beyond numeric range are stored', async (t) => {
  const { app, sql } = await setup(t)
  const tiny = withRawField(contactEvent(portalId, 'creation', 15), 'tiny', '1e-20000')
  const huge = withRawField(contactEvent(portalId, 'creation', 16), 'huge', '1e400')
  const body = `[${tiny},${huge}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  const rows = await storedRows(sql)
  t.same(rows.map((row) => row.object_id), [15, 16])
  t.equal(rows[0].event.tiny, 0, 'an underflow is stored as JavaScript read it')
  t.notOk('huge' in rows[1].event, 'an overflow is left out')
})

t.test('lone surrogate escape is stored cleaned', async (t) => {
  const { app, sql } = await setup(t)
  const odd = `{"portalId":${portalId},"occurredAt":2,"subscriptionType":"contact.propertyChange","objectId":19,"propertyName":"notes","propertyValue":"x\\udc00y"}`
  const body = `[${JSON.stringify(contactEvent(portalId, 'creation', 18))},${odd}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { received: 2, stored: 2 })
  const rows = await storedRows(sql)
  t.same(rows.map((row) => row.object_id), [18, 19])
  t.equal(rows[1].event.propertyValue, 'x\uFFFDy')
})

t.test('long integer is stored as sent', async (t) => {
  const { app, sql } = await setup(t)
  const digits = '7'.repeat(1_200)
  const body = `[${withRawField(contactEvent(portalId, 'creation', 20), 'long', digits)}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  const [row] = await sql<{ long: string }[]>`select event ->> 'long' as long from webhook_events`
  t.equal(row.long, digits, 'every digit is kept')
})

t.test('exponent numbers are not stored expanded', async (t) => {
  const { app, sql, lines } = await setup(t)
  const huge = Array.from({ length: 800 }, (_, i) => `"n${i}":1e131071`).join(',')
  const large = withRawField(contactEvent(portalId, 'creation', 22), 'large', '1e300')
  const small = withRawField(contactEvent(portalId, 'creation', 23), 'small', '2.5e3')
  const first = withRawField(contactEvent(portalId, 'creation', 21), 'first', '1')
  const body = `[${large},${first.slice(0, -1)},${huge}},${small}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body.slice(0, 200))
  t.same(response.json(), { received: 3, stored: 3 })
  const rows = await sql<{ object_id: number; printed: number; event: Record<string, unknown> }[]>`
    select object_id, octet_length(event::text) as printed, event from webhook_events order by object_id
  `
  t.same(rows.map((row) => row.object_id), [21, 22, 23])
  for (const row of rows) t.ok(row.printed < 1_000, `event ${row.object_id} reads back in ${row.printed} bytes`)
  t.notOk('n0' in rows[0].event, 'a number beyond a double is left out')
  t.equal(rows[0].event.first, 1, 'the other fields are kept')
  t.notOk('large' in rows[1].event, 'a number of 1e21 or more is left out')
  t.equal(rows[2].event.small, 2500, 'a small exponent number is stored by value')

  const warning = lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'webhook fields dropped before storing')
  t.match(warning?.droppedFields[0], { position: 0, field: 'large', reason: /1e21 or more/ })
  t.same(warning?.droppedFields[1], { position: 1, field: 'n0', reason: 'holds a number beyond the range of a double' })
  t.equal(warning?.droppedFields.length, 20, 'the log lists the first 20 dropped fields')
})

t.test('escapes jsonb rejects never reach PostgreSQL', async (t) => {
  const { app, sql, lines } = await setup(t)
  const body = `[{"portalId":${portalId},"occurredAt":3,"subscriptionType":"contact.propertyChange","objectId":24,"propertyName":"notes","propertyValue":"a\\u0000b"}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  const [row] = await storedRows(sql)
  t.equal(row.event.propertyValue, 'ab')
  const retried = lines.filter((line) => line.includes('webhook body rejected by jsonb'))
  t.equal(retried.length, 0, 'the insert was not tried with the escape')
})

t.test('number too long for numeric is stored rewritten', async (t) => {
  const { app, sql, lines } = await setup(t)
  const fraction = `0.${'3'.repeat(17_000)}`
  const body = `[${withRawField(contactEvent(portalId, 'creation', 25), 'long', fraction)}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  const [row] = await storedRows(sql)
  t.equal(row.object_id, 25)
  t.equal(row.event.long, Number(fraction), 'stored as JavaScript read it')
  const retried = lines.map((line) => JSON.parse(line)).filter((line) => line.msg?.startsWith('webhook body rejected by jsonb'))
  t.equal(retried.length, 1, 'PostgreSQL rejected the body once')
  t.equal(retried[0]?.sqlState, '22003', 'as a numeric out of range')
})

t.test('field named __proto__ is kept when rewritten', async (t) => {
  const { app, sql } = await setup(t)
  const event = withRawField(withRawField(contactEvent(portalId, 'creation', 26), '__proto__', '{"x":1}'), 'note', '"a\\u0000"')
  const response = await postSigned(app, { body: `[${event}]` })
  t.equal(response.statusCode, 200, response.body)
  const [row] = await sql<{ proto: unknown; note: string }[]>`
    select event -> '__proto__' as proto, event ->> 'note' as note from webhook_events
  `
  t.same(row.proto, { x: 1 }, 'the field is stored')
  t.equal(row.note, 'a', 'the body was rewritten')
})

t.test('occurred_at keeps every millisecond', async (t) => {
  const { app, sql } = await setup(t)
  const times = [0, 1, 999, 1_700_000_000_123, 72_057_594_037_929, 123_456_789_012_345, 8_639_999_999_999_999, 8.64e15]
  const events = times.map((ms, index) => contactEvent(portalId, 'creation', 100 + index, { occurredAt: ms }))

  const response = await postSigned(app, { body: JSON.stringify(events) })
  t.equal(response.statusCode, 200, response.body)
  const rows = await sql<{ us: string }[]>`
    select (extract(epoch from occurred_at) * 1000000)::bigint::text as us from webhook_events order by object_id
  `
  times.forEach((ms, index) => {
    t.equal(rows[index]?.us, `${BigInt(ms) * 1000n}`, `${new Date(ms).toISOString()} stored exactly`)
  })
})

t.test('int64 eventId is stored as sent', async (t) => {
  const { app, sql } = await setup(t)
  const big = '9007199254740993'
  const event = JSON.stringify(contactEvent(portalId, 'creation', 32)).replace(/"eventId":\d+/, `"eventId":${big}`)
  const body = `[${JSON.stringify(contactEvent(portalId, 'creation', 31))},${event}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { received: 2, stored: 2 })
  const rows = await sql<{ status: string; event_id: string }[]>`
    select status, event ->> 'eventId' as event_id from webhook_events order by object_id
  `
  t.same(rows.map((row) => row.status), ['pending', 'pending'], 'both events pending')
  t.equal(rows[1]?.event_id, big, 'the eventId keeps every digit')
})

t.test('failed insert answers 500 with the cause logged', async (t) => {
  const { app, sql, lines } = await setup(t)
  await sql`alter table webhook_events add constraint reject_every_row check (portal_id < 0)`
  const marker = 'body-marker-7c1f'
  const body = JSON.stringify([contactEvent(portalId, 'propertyChange', 17, { propertyName: 'notes', propertyValue: marker })])
  const errorsBefore = await outcomeCount('error')
  const unavailableBefore = await outcomeCount('unavailable')

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 500)
  t.equal(response.json().code, 'DATABASE_ERROR')
  t.equal(response.json().details.sqlState, '23514')
  t.equal((await outcomeCount('error')) - errorsBefore, 1, 'counted as error')
  t.equal((await outcomeCount('unavailable')) - unavailableBefore, 0, 'not counted as unavailable')

  const logged = lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'webhook batch not stored: the inbox insert failed')
  t.equal(logged?.sqlState, '23514', 'the SQLSTATE is logged')
  t.match(logged?.cause, /check constraint/, 'the message is logged')
  t.notOk(lines.some((line) => line.includes(marker)), 'the body is not logged')
})

t.test('other objects with odd field types are ignored', async (t) => {
  const { app, sql } = await setup(t)
  const conversation = { ...contactEvent(portalId, 'creation', 1), subscriptionType: 'conversation.newMessage', propertyValue: 5 }
  const body = JSON.stringify([
    contactEvent(portalId, 'creation', 18),
    conversation,
    { ...conversation, propertyValue: 6 },
    { ...contactEvent(portalId, 'creation', 1), subscriptionType: 'deal.creation', objectId: 'deal-1' },
    { ...contactEvent(portalId, 'creation', 1), subscriptionType: 'object.creation', objectTypeId: 5 },
  ])

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { received: 5, stored: 5 }, 'values of invalid fields keep events apart')
  const rows = await storedRows(sql)
  t.same(rows.map((row) => row.status), ['pending', 'ignored', 'ignored', 'ignored', 'ignored'])
  t.same(rows.map((row) => row.object_id), [18, 1, 1, null, 1])
  t.equal(rows[1].event.propertyValue, 5, 'the event is stored as received')
  t.equal(rows[3].last_error, 'not a contact event')
})

t.test('contact id of 2^53 or more is stored as failed', async (t) => {
  const { app, sql } = await setup(t)
  const exact = JSON.stringify(contactEvent(portalId, 'creation', 1)).replace('"objectId":1', '"objectId":9007199254740993')
  const asString = { ...contactEvent(portalId, 'creation', 1), objectId: '9999999999999999' }
  const body = `[${JSON.stringify(contactEvent(portalId, 'creation', 19))},${exact},${JSON.stringify(asString)}]`

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { received: 3, stored: 3 })
  const rows = await storedRows(sql)
  t.same(rows.map((row) => row.status), ['pending', 'failed', 'failed'])
  t.same(rows.map((row) => row.object_id), [19, null, null])
  t.match(rows[1].last_error, /objectId: expected an id below 2\^53/)
  const [text] = await sql<{ id: string }[]>`select event->>'objectId' as id from webhook_events where status = 'failed' order by id limit 1`
  t.equal(text.id, '9007199254740993', 'the id is stored with every digit')
})

t.test('contact event with a wrong type fails the batch', async (t) => {
  const { app, sql } = await setup(t)
  const body = JSON.stringify([
    contactEvent(portalId, 'creation', 20),
    contactEvent(portalId, 'propertyChange', 21, { propertyName: 'email', propertyValue: 5 }),
  ])
  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 400)
  t.same(response.json().details.issues.map((issue: { field: string }) => issue.field), ['[1].propertyValue'])
  t.equal((await storedRows(sql)).length, 0)
})
