import { randomBytes } from 'node:crypto'

import t from 'tap'

import { insertIntegration } from '../../src/db/integrations.js'
import { webhookBodyLimitBytes } from '../../src/http/routes/postHubspotWebhook.js'
import { registry } from '../../src/metrics.js'
import { createTestDatabase } from '../helpers/database.js'
import {
  buildTestApp,
  contactEvent,
  postSigned,
  publicUrl,
  sharedHubSpotFile,
  signV1,
  signV3,
  webhookConfig,
} from './fixtures/delivery.js'

const portalId = 62515

async function setup(t: { teardown(fn: () => unknown): void }, config = webhookConfig()) {
  const db = await createTestDatabase(t)
  await insertIntegration(db.sql, randomBytes(32), {
    portalId,
    name: 'receiver test',
    authType: 'private_app',
    credentials: { accessToken: 'token' },
    accessTokenExpiresAt: null,
    actions: {},
    burstPer10Seconds: null,
    ownerUserId: null,
  })
  const app = await buildTestApp(t, db.sql, config)
  return { ...db, app }
}

async function countEvents(sql: Awaited<ReturnType<typeof setup>>['sql']): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from webhook_events`
  return row.count
}

async function rejectedCount(): Promise<number> {
  const metric = await registry.getSingleMetric('hubspot_sync_webhook_requests_total')!.get()
  return metric.values.find((value) => value.labels.outcome === 'invalid_signature')?.value ?? 0
}

t.test('signed batch is stored and answered 200', async (t) => {
  const { app, sql } = await setup(t)
  const body = JSON.stringify([contactEvent(portalId, 'creation', 901), contactEvent(portalId, 'propertyChange', 901, { propertyName: 'email', propertyValue: 'a@b.c' })])

  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { received: 2, stored: 2 })

  const rows = await sql`select subscription_type, object_id, status, integration_id from webhook_events order by id`
  t.equal(rows.length, 2)
  t.same(rows.map((row) => row.status), ['pending', 'pending'])
  t.equal(rows[0].object_id, 901)
  t.equal(rows[0].integration_id, null, "the worker fills integration_id")
})

t.test('escaped unicode and odd spacing verify on raw bytes', async (t) => {
  const { app, sql } = await setup(t)
  const body = `[ {"eventId":7 ,  "portalId":${portalId},"occurredAt":1700000000000,\n\t"subscriptionType":"contact.propertyChange","objectId":77,"propertyName":"firstname","propertyValue":"Zo\\u00eb \\ud83d\\ude00 Zoë"}  ]\n`
  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200)
  const [row] = await sql<{ event: { propertyValue: string } }[]>`select event from webhook_events`
  t.equal(row.event.propertyValue, 'Zoë 😀 Zoë')
})

t.test('public url with query string and encoded characters verifies', async (t) => {
  const { app } = await setup(t)
  const body = JSON.stringify([contactEvent(portalId, 'creation', 1)])
  const url = '/webhooks/hubspot?src=hs%3Aapp%2Fv3&who=a%40b&note=x%20y%26z'
  const signedUri = `${publicUrl}?src=hs:app/v3&who=a@b&note=x%20y%26z`
  const response = await postSigned(app, { body, url, signedUri })
  t.equal(response.statusCode, 200, 'HubSpot signs the URI with the listed escapes decoded')

  const overDecoded = `${publicUrl}?src=hs:app/v3&who=a@b&note=x y&z`
  const wrong = await postSigned(app, { body, url, signedUri: overDecoded })
  t.equal(wrong.statusCode, 401, 'a URI decoded beyond the listed escapes does not verify')
})

t.test('forged, tampered, stale, future and unsigned requests are rejected', async (t) => {
  const { app, sql } = await setup(t)
  const body = JSON.stringify([contactEvent(portalId, 'creation', 5)])
  const before = await rejectedCount()
  const requests = {
    forged: { headers: signV3({ body, secret: 'not-the-secret' }), payload: body },
    tampered: { headers: signV3({ body }), payload: body.replace('"objectId":5', '"objectId":6') },
    stale: { headers: signV3({ body, timestampMs: Date.now() - 301_000 }), payload: body },
    future: { headers: signV3({ body, timestampMs: Date.now() + 301_000 }), payload: body },
    unsigned: { headers: { 'content-type': 'application/json' }, payload: body },
    'v1 while disabled': { headers: signV1(body), payload: body },
  }
  for (const [name, request] of Object.entries(requests)) {
    const response = await app.inject({ method: 'POST', url: '/webhooks/hubspot', ...request })
    t.equal(response.statusCode, 401, name)
    t.equal(response.json().code, 'WEBHOOK_SIGNATURE_INVALID', `${name} code`)
  }
  t.equal(await countEvents(sql), 0, 'nothing stored')
  t.equal((await rejectedCount()) - before, 6, 'every rejection counted')
})

t.test('v1 is accepted when the operator enables it', async (t) => {
  const { app, sql } = await setup(t, webhookConfig({ WEBHOOK_ACCEPT_V1: 'true' }))
  const body = JSON.stringify([contactEvent(portalId, 'creation', 5)])
  const response = await app.inject({ method: 'POST', url: '/webhooks/hubspot', headers: signV1(body), payload: body })
  t.equal(response.statusCode, 200)
  t.equal(await countEvents(sql), 1)
})

t.test('invalid bodies are answered 400 naming the problem', async (t) => {
  const { app, sql } = await setup(t)
  const cases: [string, string, string][] = [
    ['not json', '[{"portalId":', 'body'],
    ['object', '{"portalId":1}', 'body'],
    ['missing occurredAt', JSON.stringify([contactEvent(portalId, 'creation', 1), { portalId, subscriptionType: 'contact.creation' }]), '[1].occurredAt'],
    ['missing type', JSON.stringify([{ portalId, occurredAt: 1 }]), '[0].subscriptionType'],
    ['string element', '["x"]', '[0]'],
  ]
  for (const [name, body, field] of cases) {
    const response = await postSigned(app, { body })
    t.equal(response.statusCode, 400, name)
    const json = response.json()
    t.equal(json.code, 'WEBHOOK_BODY_INVALID', `${name} code`)
    t.ok(json.details.issues.some((issue: { field: string }) => issue.field.startsWith(field)), `${name} names ${field}`)
  }
  t.equal(await countEvents(sql), 0)
})

t.test('body over the limit is answered 413', async (t) => {
  const { app } = await setup(t)
  const body = JSON.stringify([contactEvent(portalId, 'propertyChange', 1, { propertyName: 'notes', propertyValue: 'x'.repeat(webhookBodyLimitBytes) })])
  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 413)
})

t.test('100 events of 20 KiB each fit under the limit', async (t) => {
  const { app, sql } = await setup(t)
  const events = Array.from({ length: 100 }, (_, i) =>
    contactEvent(portalId, 'propertyChange', 1000 + i, { propertyName: 'notes', propertyValue: 'y'.repeat(20_000) }),
  )
  const response = await postSigned(app, { body: JSON.stringify(events) })
  t.equal(response.statusCode, 200)
  t.equal(await countEvents(sql), 100)
})

t.test('replays and duplicates are stored once', async (t) => {
  const { app, sql } = await setup(t)
  const event = contactEvent(portalId, 'propertyChange', 42, { propertyName: 'email', propertyValue: 'x@y.z', occurredAt: 1_700_000_000_000 })
  const retried = { ...event, attemptNumber: 1, eventId: 999_999 }
  const generic = { ...event, subscriptionType: 'object.propertyChange', objectTypeId: '0-1' }
  const body = JSON.stringify([event, event, retried])
  t.equal((await postSigned(app, { body })).statusCode, 200)
  t.equal((await postSigned(app, { body })).statusCode, 200, 'replay answered 200')
  t.equal((await postSigned(app, { body: JSON.stringify([generic]) })).statusCode, 200)
  t.equal(await countEvents(sql), 1)

  const reusedId = { ...event, propertyValue: 'other@y.z' }
  t.equal((await postSigned(app, { body: JSON.stringify([reusedId]) })).statusCode, 200)
  t.equal(await countEvents(sql), 2, 'a different change with the same eventId is kept')
})

t.test('unknown portals and other objects are kept as ignored', async (t) => {
  const { app, sql } = await setup(t)
  const body = JSON.stringify([
    contactEvent(999, 'creation', 1),
    { ...contactEvent(portalId, 'creation', 2), subscriptionType: 'deal.creation' },
    { ...contactEvent(portalId, 'creation', 3), subscriptionType: 'object.creation', objectTypeId: '2-1234' },
    contactEvent(portalId, 'associationChange', 4, { associationType: 'CONTACT_TO_COMPANY', fromObjectId: 4, toObjectId: 5 }),
  ])
  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200)
  const rows = await sql<{ status: string; last_error: string }[]>`select status, last_error from webhook_events order by id`
  t.same(rows.map((row) => row.status), ['ignored', 'ignored', 'ignored', 'done'])
  t.equal(rows[0].last_error, 'no integration for this portal')
  t.equal(rows[1].last_error, 'not a contact event')
})

t.test('every shared payload example is accepted', async (t) => {
  const { app, sql } = await setup(t)
  const { examples } = sharedHubSpotFile<{ examples: { id: string; rawBody?: string; body?: unknown }[] }>(
    'webhook-payload-examples.json',
  )
  for (const example of examples) {
    const body = example.rawBody ?? JSON.stringify(example.body)
    const response = await postSigned(app, { body })
    t.equal(response.statusCode, 200, example.id)
  }
  const rows = await sql<{ subscription_type: string }[]>`select subscription_type from webhook_events`
  t.ok(rows.some((row) => row.subscription_type === 'contact.propertyChange'), 'eventType key read as the type')
})

t.test('missing client secret answers 503', async (t) => {
  const db = await createTestDatabase(t)
  const app = await buildTestApp(t, db.sql, webhookConfig({ HUBSPOT_CLIENT_SECRET: '' }))
  const body = '[]'
  const response = await app.inject({ method: 'POST', url: '/webhooks/hubspot', headers: signV3({ body }), payload: body })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'WEBHOOK_NOT_CONFIGURED')
})

t.test('NUL and unpaired surrogate escapes are stored cleaned', async (t) => {
  const { app, sql } = await setup(t)
  const body = `[{"portalId":${portalId},"occurredAt":1,"subscriptionType":"contact.propertyChange","objectId":3,"propertyName":"notes","propertyValue":"a\\u0000b\\ud800c\\ud83d\\ude00"}]`
  const response = await postSigned(app, { body })
  t.equal(response.statusCode, 200)
  const [row] = await sql<{ event: { propertyValue: string } }[]>`select event from webhook_events`
  t.equal(row.event.propertyValue, 'ab\uFFFDc😀')
})

t.test('portal gets its events once its integration exists', async (t) => {
  const { app, sql } = await setup(t)
  const newPortal = 5150
  t.equal((await postSigned(app, { body: JSON.stringify([contactEvent(newPortal, 'creation', 1)]) })).statusCode, 200)
  await insertIntegration(sql, randomBytes(32), {
    portalId: newPortal,
    name: 'added later',
    authType: 'private_app',
    credentials: { accessToken: 'token' },
    accessTokenExpiresAt: null,
    actions: {},
    burstPer10Seconds: null,
    ownerUserId: null,
  })
  t.equal((await postSigned(app, { body: JSON.stringify([contactEvent(newPortal, 'creation', 2)]) })).statusCode, 200)
  const rows = await sql<{ status: string }[]>`select status from webhook_events order by id`
  t.same(rows.map((row) => row.status), ['ignored', 'pending'])
})
