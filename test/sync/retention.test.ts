import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'

import Fastify from 'fastify'
import t from 'tap'

import { loadConfig, testConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { retentionPolicy, runRetentionPass, type RetentionPolicy } from '../../src/sync/retention.js'
import { retentionJobId, syncSchedule } from '../../src/sync/schedule.js'
import { createTestDatabase } from '../helpers/database.js'
import { createHarness } from './runnerHarness.js'

const { sql } = await createTestDatabase(t)

const policy: RetentionPolicy = { outboxRetentionHours: 168, inboxRetentionDays: 7, batchSize: 100, maxBatchesPerPass: 10 }

async function resetTables() {
  await sql`truncate outbox, webhook_events`
}

/** Inserts an outbox event published `publishedHoursAgo` hours ago, or unpublished (null). */
async function insertOutboxEvent(label: string, createdHoursAgo: number, publishedHoursAgo: number | null) {
  await sql`
    insert into outbox (event_id, subject, payload, created_at, published_at)
    values (
      ${randomUUID()}::uuid,
      'leads.updated',
      ${{ label } as never}::jsonb,
      now() - ${createdHoursAgo} * interval '1 hour',
      now() - ${publishedHoursAgo}::float8 * interval '1 hour'
    )
  `
}

/** Inserts a webhook event in `status`, received and (unless pending) processed `daysAgo` days ago. */
async function insertWebhookEvent(label: string, status: string, daysAgo: number) {
  await sql`
    insert into webhook_events (dedup_key, portal_id, subscription_type, object_id, occurred_at, event, status, received_at, processed_at)
    values (
      ${label},
      1,
      'contact.creation',
      1,
      now(),
      ${{ label } as never}::jsonb,
      ${status},
      now() - ${daysAgo} * interval '1 day',
      case when ${status} = 'pending' then null else now() - ${daysAgo} * interval '1 day' end
    )
  `
}

async function outboxLabels(): Promise<string[]> {
  const rows = await sql<{ label: string }[]>`select payload ->> 'label' as label from outbox order by id`
  return rows.map((row) => row.label)
}

async function inboxLabels(): Promise<string[]> {
  const rows = await sql<{ dedup_key: string }[]>`select dedup_key from webhook_events order by id`
  return rows.map((row) => row.dedup_key)
}

t.test('retention deletes only old published outbox events', async (t) => {
  await resetTables()
  await insertOutboxEvent('published-200h', 200, 200)
  await insertOutboxEvent('published-100h', 200, 100)
  await insertOutboxEvent('unpublished-300h', 300, null)

  const result = await runRetentionPass(sql, policy)
  t.equal(result.outboxDeleted, 1)
  t.same(await outboxLabels(), ['published-100h', 'unpublished-300h'])
})

t.test('retention deletes only old done and ignored webhook events', async (t) => {
  await resetTables()
  await insertWebhookEvent('done-8d', 'done', 8)
  await insertWebhookEvent('ignored-8d', 'ignored', 8)
  await insertWebhookEvent('failed-8d', 'failed', 8)
  await insertWebhookEvent('pending-8d', 'pending', 8)
  await insertWebhookEvent('done-6d', 'done', 6)

  const result = await runRetentionPass(sql, policy)
  t.equal(result.inboxDeleted, 2)
  t.same(await inboxLabels(), ['failed-8d', 'pending-8d', 'done-6d'])
})

t.test('retention pass is bounded and the next pass continues', async (t) => {
  await resetTables()
  for (let i = 0; i < 5; i++) await insertOutboxEvent(`old-${i}`, 300, 300 - i)
  const small = { ...policy, batchSize: 2, maxBatchesPerPass: 2 }

  t.equal((await runRetentionPass(sql, small)).outboxDeleted, 4, 'two batches of two')
  t.same(await outboxLabels(), ['old-4'], 'oldest published first')
  t.equal((await runRetentionPass(sql, small)).outboxDeleted, 1, 'the rest next pass')
  t.equal((await runRetentionPass(sql, small)).outboxDeleted, 0, 'nothing left')
})

t.test('concurrent retention passes share the rows', async (t) => {
  await resetTables()
  await sql`
    insert into outbox (event_id, subject, payload, published_at)
    select gen_random_uuid(), 'leads.updated', '{}'::jsonb, now() - interval '200 hours'
    from generate_series(1, 1000)
  `
  const small = { ...policy, batchSize: 50, maxBatchesPerPass: 100 }
  const results = await Promise.all([runRetentionPass(sql, small), runRetentionPass(sql, small), runRetentionPass(sql, small)])

  t.equal(results.reduce((sum, result) => sum + result.outboxDeleted, 0), 1000, 'each row deleted once')
  t.same(await outboxLabels(), [])
})

t.test('retention settings default to a week', async (t) => {
  const config = testConfig()
  t.equal(config.OUTBOX_RETENTION_HOURS, 168)
  t.equal(config.INBOX_RETENTION_DAYS, 7)
  t.same(retentionPolicy(testConfig({ OUTBOX_RETENTION_HOURS: '24', INBOX_RETENTION_DAYS: '2' })), {
    outboxRetentionHours: 24,
    inboxRetentionDays: 2,
    batchSize: 5_000,
    maxBatchesPerPass: 40,
  })
  t.throws(() => loadConfig({ INBOX_RETENTION_DAYS: '0' }), { code: 'CONFIG_INVALID' }, 'zero days rejected')
  t.throws(() => loadConfig({ OUTBOX_RETENTION_HOURS: 'week' }), { code: 'CONFIG_INVALID' }, 'text rejected')
})

t.test('schedule runs retention passes', async (t) => {
  const harness = await createHarness(t, { contacts: 0, sql })
  await resetTables()
  await insertOutboxEvent('published-200h', 200, 200)
  await insertWebhookEvent('done-8d', 'done', 8)

  const app = Fastify()
  await app.register(syncSchedule, {
    config: harness.config,
    service: harness.service(),
    logger: createLogger('silent'),
    syncIntervalMs: 3_600_000,
    reconcileIntervalMs: 3_600_000,
    sql,
    retentionIntervalMs: 20,
  })
  await app.ready()
  t.teardown(() => app.close())
  t.ok(app.scheduler.existsById(retentionJobId), 'retention job scheduled')

  const deadline = Date.now() + 10_000
  while ((await outboxLabels()).length + (await inboxLabels()).length > 0 && Date.now() < deadline) await delay(20)
  t.same(await outboxLabels(), [], 'old outbox event deleted')
  t.same(await inboxLabels(), [], 'old webhook event deleted')
})
