import t, { type Test } from 'tap'

import { webhookBodyLimitBytes } from '../../src/http/routes/postHubspotWebhook.js'
import { createTestDatabase } from '../helpers/database.js'
import { buildTestApp, postSigned, signV3 } from '../webhooks/fixtures/delivery.js'
import { createIntegration } from '../webhooks/fixtures/leads.js'
import {
  acceptedWebhookBodies,
  corpusPortalId,
  rejectedWebhookBodies,
  storedUnappliedWebhookBodies,
  validEvent,
  type HostileCase,
} from './corpus.js'

const { sql } = await createTestDatabase(t)
await createIntegration(sql, corpusPortalId)
const app = await buildTestApp(t, sql)

async function inboxFingerprint(): Promise<string> {
  const [row] = await sql<{ fingerprint: string | null }[]>`
    select md5(coalesce(string_agg(w::text, ',' order by id), '')) as fingerprint
    from webhook_events w
  `
  return row.fingerprint ?? ''
}

function sendSigned(testCase: HostileCase) {
  const headers = signV3({ body: testCase.body })
  if (testCase.contentType === null) delete (headers as Record<string, string>)['content-type']
  else if (testCase.contentType !== undefined) headers['content-type'] = testCase.contentType
  return app.inject({ method: 'POST', url: '/webhooks/hubspot', headers, payload: testCase.body })
}

function assertUnpolluted(t: Test, name: string): void {
  const probe = {} as Record<string, unknown>
  t.equal(probe.polluted, undefined, `${name}: Object.prototype not polluted`)
  t.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false)
}

t.test('hostile bodies get 4xx and store nothing', async (t) => {
  for (const testCase of rejectedWebhookBodies(webhookBodyLimitBytes)) {
    const before = await inboxFingerprint()
    const response = await sendSigned(testCase)

    t.equal(response.statusCode, testCase.status, `${testCase.name}: status`)
    const body = response.json()
    if (testCase.code) t.equal(body.code, testCase.code, `${testCase.name}: code`)
    if (testCase.mentions) {
      const fields = (body.details?.issues ?? []).map((issue: { field: string }) => issue.field)
      const named = String(body.message).includes(testCase.mentions) || fields.some((field: string) => field.startsWith(testCase.mentions!))
      t.ok(named, `${testCase.name}: names ${testCase.mentions} (${body.message})`)
    }
    t.equal(await inboxFingerprint(), before, `${testCase.name}: inbox unchanged`)
    assertUnpolluted(t, testCase.name)
  }

  const good = await postSigned(app, { body: JSON.stringify([validEvent({ objectId: 5, occurredAt: Date.now() })]) })
  t.equal(good.statusCode, 200, 'a good delivery afterwards is stored')
  t.same(good.json(), { received: 1, stored: 1 })
})

t.test('unknown fields are kept as plain data', async (t) => {
  for (const testCase of acceptedWebhookBodies()) {
    const response = await sendSigned(testCase)
    t.equal(response.statusCode, 200, `${testCase.name}: status ${response.body}`)
    assertUnpolluted(t, testCase.name)
  }

  const rows = await sql<{ object_id: number; event: Record<string, unknown>; proto_key: boolean }[]>`
    select object_id, event, event ? '__proto__' as proto_key
    from webhook_events
    where object_id between 1001 and 1006
    order by object_id
  `
  t.same(rows.map((row) => row.object_id), [1001, 1002, 1003, 1004, 1005, 1006])
  t.equal(rows[0].event.favouriteColour, 'teal', 'unknown field stored as received')
  t.equal(rows[1].proto_key, true, 'the __proto__ key is stored as an ordinary jsonb key')
  t.equal(Object.getPrototypeOf(rows[1].event), Object.prototype, 'reading it back keeps the prototype')
  t.same(rows[2].event.constructor, { prototype: { polluted: 'yes' } }, 'constructor stored as data')
  t.equal(rows[3].event.propertyValue, 'ab', 'NUL removed before jsonb')
  assertUnpolluted(t, 'after reading the rows back')
})

t.test('events that cannot be applied are stored with a reason', async (t) => {
  for (const testCase of storedUnappliedWebhookBodies()) {
    const [{ before }] = await sql<{ before: number }[]>`select coalesce(max(id), 0)::int as before from webhook_events`
    const response = await sendSigned(testCase)
    t.equal(response.statusCode, 200, `${testCase.name}: status ${response.body.slice(0, 300)}`)
    t.same(response.json(), { received: 1, stored: 1 }, `${testCase.name}: one event stored`)

    const rows = await sql<{ status: string; last_error: string | null }[]>`
      select status, last_error from webhook_events where id > ${before}
    `
    t.equal(rows.length, 1, `${testCase.name}: one row`)
    t.equal(rows[0]?.status, testCase.stored, `${testCase.name}: stored as ${testCase.stored}`)
    if (testCase.stored === 'failed') t.match(rows[0]?.last_error, /2\^53/, `${testCase.name}: the reason names the limit`)
    assertUnpolluted(t, testCase.name)
  }
})
