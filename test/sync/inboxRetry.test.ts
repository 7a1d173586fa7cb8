import t from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { replaceCredentials, updateIntegration } from '../../src/db/integrations.js'
import { contactEvent } from '../webhooks/fixtures/delivery.js'
import { encryptionKey, lead } from '../webhooks/fixtures/leads.js'
import { apiToken, postEvents, startPipeline } from '../webhooks/fixtures/pipeline.js'

// Retries are hours apart, so the test moves them forward instead of waiting.
const hourMs = 3_600_000
const pipeline = await startPipeline(t, {
  env: { WEBHOOK_MAX_ATTEMPTS: '4' },
  sendWebhooks: false,
  retryBaseDelayMs: hourMs,
  retryMaxDelayMs: 3 * hourMs,
})
const { sim, db, app, worker, integration } = pipeline
const sql: Sql = db.sql
const auth = { authorization: `Bearer ${apiToken}` }

interface InboxRow {
  status: string
  attempts: number
  last_error: string
  /** Milliseconds from now until the next attempt is due. */
  due_in_ms: number
}

async function inboxRow(objectId: number): Promise<InboxRow> {
  const [row] = await sql<InboxRow[]>`
    select status, attempts, last_error,
           (extract(epoch from next_attempt_at - now()) * 1000)::float8 as due_in_ms
    from webhook_events
    where object_id = ${objectId}
  `
  return row
}

const makeDue = () => sql`update webhook_events set next_attempt_at = now() where status = 'pending'`

t.test('failed processing retries, ends failed with its reason, and can be requeued', async (t) => {
  await replaceCredentials(sql, encryptionKey, integration, { accessToken: 'revoked-token' }, null)
  const contact = sim.contacts.create({ email: 'retry@example.com' })
  const id = Number(contact.id)
  const fields = { propertyName: 'email', propertyValue: 'retry@example.com' }
  const change = contactEvent(sim.portalId, 'propertyChange', id, fields)
  t.equal((await postEvents(pipeline, [change])).statusCode, 200)

  // Backoff doubles from the first delay and stops at the longest one: 1 h, 2 h, then 3 h.
  const delaysMs = [hourMs, 2 * hourMs, 3 * hourMs]
  for (const [index, delayMs] of delaysMs.entries()) {
    t.equal(await worker.drain(), 1, `attempt ${index + 1} processed the event`)
    const row = await inboxRow(id)
    t.equal(row.attempts, index + 1, `attempt ${index + 1} counted`)
    t.equal(row.status, 'pending', `attempt ${index + 1} leaves it pending`)
    t.match(row.last_error, /^HUBSPOT_AUTH_FAILED: /, 'reason kept with its code')
    const onTime = row.due_in_ms > delayMs - 60_000 && row.due_in_ms <= delayMs
    t.ok(onTime, `retry ${index + 1} due in ${delayMs} ms, not ${row.due_in_ms} ms`)
    t.equal(await worker.drain(), 0, 'nothing is due before the retry time')
    await makeDue()
  }
  t.equal(await worker.drain(), 1, 'the last attempt ran')
  const last = await inboxRow(id)
  t.equal(last.status, 'failed', 'failed after WEBHOOK_MAX_ATTEMPTS attempts')
  t.equal(last.attempts, 4)
  await sql`update webhook_events set next_attempt_at = now() where status = 'failed'`
  t.equal(await worker.drain(), 0, 'a failed event is never claimed again')
  t.equal((await inboxRow(id)).attempts, 4)
  t.equal(await lead(sql, integration.id, id), null, 'no lead while it failed')

  const listed = await app.inject({ method: 'GET', url: '/webhook-events?status=failed', headers: auth })
  t.equal(listed.statusCode, 200)
  const [failed] = listed.json().events
  t.equal(failed.objectId, id)
  t.equal(failed.status, 'failed')
  t.equal(failed.attempts, 4)
  t.equal(failed.nextAttemptAt, null, 'no retry scheduled')
  t.match(failed.lastError, /^HUBSPOT_AUTH_FAILED: /)

  const unauthorized = await app.inject({ method: 'GET', url: '/webhook-events' })
  t.equal(unauthorized.statusCode, 401, 'admin token required')

  await replaceCredentials(sql, encryptionKey, integration, { accessToken: sim.privateAppToken }, null)
  await updateIntegration(sql, integration.id, { status: 'active' })
  const retried = await app.inject({ method: 'POST', url: '/webhook-events/retry', headers: auth, payload: {} })
  t.same(retried.json(), { requeued: 1 })
  await worker.drain()
  t.equal((await lead(sql, integration.id, id))?.email, 'retry@example.com', 'processed after requeue')
  t.same(await inboxRow(id).then((row) => [row.status, row.attempts]), ['done', 1], 'a fresh attempt budget')
  const after = await app.inject({ method: 'GET', url: '/webhook-events', headers: auth })
  t.same(after.json().events, [], 'nothing failed or pending')
})

t.test('unknown status filter is answered 400', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/webhook-events?status=lost', headers: auth })
  t.equal(response.statusCode, 400)
})
