// The inbox admin routes: requeueing failed events and listing them.
import { readFileSync } from 'node:fs'

import t, { type Test } from 'tap'
import { parse } from 'yaml'

import type { Sql } from '../../src/db/connection.js'
import { createTestDatabase } from '../helpers/database.js'
import { buildTestApp, contactEvent, webhookConfig } from './fixtures/delivery.js'
import { createIntegration } from './fixtures/leads.js'

const portalId = 62517
const apiToken = 'admin-token-0123456789abcdef'
const auth = { authorization: `Bearer ${apiToken}` }

/** Stores three failed contact events. */
async function setup(t: Test) {
  const db = await createTestDatabase(t)
  await createIntegration(db.sql, portalId)
  const app = await buildTestApp(t, db.sql, webhookConfig({ API_TOKEN: apiToken }))
  for (const objectId of [1, 2, 3]) {
    const event = contactEvent(portalId, 'creation', objectId)
    await db.sql`
      insert into webhook_events (dedup_key, portal_id, subscription_type, object_id, occurred_at, event, status, attempts, last_error)
      values (${`test|${objectId}`}, ${portalId}, 'contact.creation', ${objectId}, now(), ${db.sql.json(event as never)}, 'failed', 8, 'gave up in test')
    `
  }
  return { ...db, app }
}

async function statusCounts(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; count: number }[]>`
    select status, count(*)::int as count from webhook_events group by status
  `
  return Object.fromEntries(rows.map((row) => [row.status, row.count]))
}

t.test('retry with an empty JSON body requeues all', async (t) => {
  const { app, sql } = await setup(t)
  t.same(await statusCounts(sql), { failed: 3 })
  const post = (payload: string) =>
    app.inject({
      method: 'POST',
      url: '/webhook-events/retry',
      headers: { ...auth, 'content-type': 'application/json' },
      payload,
    })

  const invalid = await post('{"ids":')
  t.equal(invalid.statusCode, 400, 'invalid JSON is still rejected')
  t.equal(invalid.json().code, 'VALIDATION_FAILED')
  t.equal((await post('{"ids":["x"]}')).statusCode, 400, 'ids of the wrong type are rejected')

  const one = await post(JSON.stringify({ ids: [(await sql`select min(id)::int as id from webhook_events`)[0].id] }))
  t.same(one.json(), { requeued: 1 })

  const empty = await post('')
  t.equal(empty.statusCode, 200, empty.body)
  t.same(empty.json(), { requeued: 2 }, 'every remaining failed event')
  t.same(await statusCounts(sql), { pending: 3 })
})

t.test('retry with a blank JSON body requeues all', async (t) => {
  const { app, sql } = await setup(t)
  const response = await app.inject({
    method: 'POST',
    url: '/webhook-events/retry',
    headers: { ...auth, 'content-type': 'application/json' },
    payload: ' \n',
  })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), { requeued: 3 })
  t.same(await statusCounts(sql), { pending: 3 })
})

t.test('listing ignores unknown query parameters', async (t) => {
  const { app } = await setup(t)
  const response = await app.inject({ method: 'GET', url: '/webhook-events?status=failed&x=1', headers: auth })
  t.equal(response.statusCode, 200)
  t.equal(response.json().events.length, 3)
  t.ok(
    response.json().events.every((event: { lastError: string }) => event.lastError === 'gave up in test'),
    'each failed event has its reason',
  )

  const document = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8'))
  const operation = document.paths['/webhook-events'].get
  t.match(operation.description, /Unknown query parameters are ignored/, 'openapi.yaml says so')
  const docs = readFileSync(new URL('../../docs/webhooks.md', import.meta.url), 'utf8')
  t.match(docs, /Unknown query parameters are ignored/, 'docs/webhooks.md says so')
})
