import t from 'tap'

import { createLogger } from '../../src/logger.js'
import { startInboxWorker } from '../../src/sync/inbox.js'
import { lead } from '../webhooks/fixtures/leads.js'
import { startPipeline } from '../webhooks/fixtures/pipeline.js'

const pipeline = await startPipeline(t)
const { sim, db, clients, config, integration } = pipeline
const sql = db.sql

async function waitFor<T>(check: () => Promise<T | null | undefined>, timeoutMs = 5_000): Promise<T | null> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await check()
    if (value) return value
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return null
}

t.test('listening worker wakes on a delivery without polling', async (t) => {
  const worker = startInboxWorker({ sql, clients, logger: createLogger('silent'), config, pollIntervalMs: 3_600_000 })
  t.teardown(() => worker.stop())
  await new Promise((resolve) => setTimeout(resolve, 200))

  const contact = sim.contacts.create({ email: 'wake@example.com' })
  const started = Date.now()
  await sim.webhooks.flush()
  const found = await waitFor(() => lead(sql, integration.id, Number(contact.id)))
  t.ok(found, 'lead imported by the listening worker')
  t.ok(Date.now() - started < 2_000, 'within two seconds')
})

t.test('two workers share the inbox and process each event once', async (t) => {
  const ids = Array.from({ length: 60 }, (_, i) => Number(sim.contacts.create({ email: `w${i}@example.com` }).id))
  await sim.webhooks.flush()
  const second = startInboxWorker({ sql, clients, logger: createLogger('silent'), config, listen: false, pollIntervalMs: 3_600_000, batchSize: 7 })
  t.teardown(() => second.stop())
  await Promise.all([pipeline.worker.drain(), second.drain(), pipeline.worker.drain()])

  const rows = await sql<{ count: number }[]>`
    select count(*)::int as count from outbox
    where subject = 'leads.imported'
      and (payload -> 'data' ->> 'hubspotContactId')::bigint = any(${ids}::bigint[])
  `
  t.equal(rows[0].count, ids.length, 'one leads.imported per contact')
  const [pending] = await sql<{ count: number }[]>`select count(*)::int as count from webhook_events where status = 'pending'`
  t.equal(pending.count, 0)
})
