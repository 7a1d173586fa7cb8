import t from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { replaceCredentials, updateIntegration } from '../../src/db/integrations.js'
import { contactEvent, postSigned, sharedHubSpotFile } from '../webhooks/fixtures/delivery.js'
import { createIntegration, encryptionKey, lead } from '../webhooks/fixtures/leads.js'
import { apiToken, postEvents, startPipeline } from '../webhooks/fixtures/pipeline.js'

// Retries are an hour apart; the test moves them forward instead of waiting.
const pipeline = await startPipeline(t, {
  env: { WEBHOOK_MAX_ATTEMPTS: '3' },
  sendWebhooks: false,
  retryBaseDelayMs: 3_600_000,
})
const { sim, db, app, worker, integration } = pipeline
const sql: Sql = db.sql
const auth = { authorization: `Bearer ${apiToken}` }

t.test('failed processing retries, ends failed with its reason, and can be requeued', async (t) => {
  await replaceCredentials(sql, encryptionKey, integration, { accessToken: 'revoked-token' }, null)
  const contact = sim.contacts.create({ email: 'retry@example.com' })
  const id = Number(contact.id)
  const change = contactEvent(sim.portalId, 'propertyChange', id, { propertyName: 'email', propertyValue: 'retry@example.com' })
  t.equal((await postEvents(pipeline, [change])).statusCode, 200)

  for (let attempt = 1; attempt <= 3; attempt++) {
    await worker.drain()
    const [row] = await sql<{ status: string; attempts: number; last_error: string }[]>`
      select status, attempts, last_error from webhook_events where object_id = ${id}
    `
    t.equal(row.attempts, attempt, `attempt ${attempt} counted`)
    t.equal(row.status, attempt < 3 ? 'pending' : 'failed')
    t.match(row.last_error, /HUBSPOT_/, 'reason kept')
    await sql`update webhook_events set next_attempt_at = now() where status = 'pending'`
  }

  const listed = await app.inject({ method: 'GET', url: '/webhook-events?status=failed', headers: auth })
  t.equal(listed.statusCode, 200)
  const [failed] = listed.json().events
  t.equal(failed.objectId, id)
  t.equal(failed.status, 'failed')
  t.equal(failed.attempts, 3)
  t.match(failed.lastError, /HUBSPOT_/)

  const unauthorized = await app.inject({ method: 'GET', url: '/webhook-events' })
  t.equal(unauthorized.statusCode, 401, 'admin token required')

  await replaceCredentials(sql, encryptionKey, integration, { accessToken: sim.privateAppToken }, null)
  await updateIntegration(sql, integration.id, { status: 'active' })
  const retried = await app.inject({ method: 'POST', url: '/webhook-events/retry', headers: auth, payload: {} })
  t.same(retried.json(), { requeued: 1 })
  await worker.drain()
  t.equal((await lead(sql, integration.id, id))?.email, 'retry@example.com', 'processed after requeue')
  const after = await app.inject({ method: 'GET', url: '/webhook-events', headers: auth })
  t.same(after.json().events, [], 'nothing failed or pending')
})

t.test('unknown status filter is answered 400', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/webhook-events?status=lost', headers: auth })
  t.equal(response.statusCode, 400)
})

t.test('every shared payload example is accepted and processed', async (t) => {
  const { examples } = sharedHubSpotFile<{ examples: { id: string; rawBody?: string; body?: unknown }[] }>(
    'webhook-payload-examples.json',
  )
  const portals = new Set<number>()
  for (const example of examples) {
    const body = example.rawBody ?? JSON.stringify(example.body)
    for (const event of JSON.parse(body) as { portalId: number }[]) portals.add(event.portalId)
  }
  for (const portalId of portals) if (portalId !== sim.portalId) await createIntegration(sql, portalId, sim.privateAppToken)

  for (const example of examples) {
    const body = example.rawBody ?? JSON.stringify(example.body)
    t.equal((await postSigned(app, { body, signedUri: pipeline.webhookUrl })).statusCode, 200, example.id)
  }
  await worker.drain()
  const rows = await sql<{ status: string; subscription_type: string; last_error: string | null }[]>`
    select status, subscription_type, last_error from webhook_events where portal_id <> ${sim.portalId}
  `
  t.ok(rows.length >= 14, 'every event stored')
  for (const row of rows) {
    // The generic examples are custom objects (type 2-...), not contacts.
    const expected = row.subscription_type.startsWith('contact.') ? 'done' : 'ignored'
    t.equal(row.status, expected, `${row.subscription_type}: ${row.last_error ?? 'no error'}`)
  }
  t.ok(rows.some((row) => row.subscription_type.startsWith('deal.') && row.status === 'ignored'), 'deal events ignored')
})
