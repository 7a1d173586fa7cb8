import t, { type Test } from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { prefixedStreamName } from '../../src/events/subjects.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import {
  apiToken,
  callAdmin,
  checkOutboxAgainstStreams,
  clientSecret,
  encryptionKey,
  freePort,
  registerPortal,
  spawnService,
  startLatencyProxy,
  waitFor,
  type Teardown,
} from './support.js'

const streamNames = ['LEADS', 'HUBSPOT_SYNC', 'NOTIFICATIONS', 'SEQUENCES']

interface Setup {
  sql: Sql
  sim: Simulator
  prefix: string
  env: Record<string, string>
  webhookUrl: string
}

async function setUp(t: Teardown, contacts: number): Promise<Setup> {
  const sim = await startSimulator({ contacts, seed: 11 })
  t.teardown(() => sim.close())
  const { url, sql } = await createTestDatabase(t)
  const prefix = uniqueSubjectPrefix(t)
  const port = await freePort()
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/hubspot`
  const env = {
    DATABASE_URL: url,
    ENCRYPTION_KEY: encryptionKey,
    API_TOKEN: apiToken,
    HUBSPOT_API_URL: sim.url,
    HUBSPOT_CLIENT_SECRET: clientSecret,
    WEBHOOK_PUBLIC_URL: webhookUrl,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: prefix,
    PORT: String(port),
    SCHEDULER_ENABLED: 'false',
    ACTIONS_ENABLED: 'false',
    POLL_SETTLE_SECONDS: '0',
    POLL_OVERLAP_SECONDS: '0',
  }
  return { sql, sim, prefix, env, webhookUrl }
}

async function count(sql: Sql, query: 'leads' | 'distinctContacts' | 'unpublished'): Promise<number> {
  const [row] =
    query === 'leads'
      ? await sql<{ n: number }[]>`select count(*)::int as n from leads`
      : query === 'distinctContacts'
        ? await sql<{ n: number }[]>`select count(distinct hubspot_contact_id)::int as n from leads`
        : await sql<{ n: number }[]>`select count(*)::int as n from outbox where published_at is null`
  return row.n
}

async function outboxBySubject(sql: Sql, subject: string) {
  return sql<{ rows: number; leads: number }[]>`
    select count(*)::int as rows, count(distinct payload -> 'data' ->> 'leadId')::int as leads
    from outbox
    where subject = ${subject}
  `.then(([row]) => row)
}

async function cursorOf(sql: Sql) {
  const [cursor] = await sql<
    { phase: string; last_sync_at: Date | null; window_start: Date | null; cursor_value: string | null }[]
  >`select phase, last_sync_at, window_start, cursor_value from sync_cursors`
  return cursor
}

async function kill(service: { child: { kill(signal: string): boolean }; exited: Promise<unknown> }) {
  service.child.kill('SIGKILL')
  return service.exited
}

/** Asserts that every contact of the simulator is a lead exactly once. */
async function assertLeadsOnce(t: Test, setup: Setup) {
  const ids = setup.sim.contacts.ids().map(String).sort()
  const rows = await setup.sql<{ id: string }[]>`
    select hubspot_contact_id::text as id from leads order by hubspot_contact_id
  `
  t.equal(rows.length, ids.length, 'one lead per contact')
  t.equal(await count(setup.sql, 'distinctContacts'), ids.length, 'no contact twice')
  t.same(rows.map((row) => row.id).sort(), ids, 'the leads are the contacts of the portal')
}

/** Waits for the outbox to drain, then asserts each row is in JetStream exactly once. */
async function assertEventsPublishedOnce(t: Test, setup: Setup) {
  await waitFor('the outbox to drain', 30_000, async () => (await count(setup.sql, 'unpublished')) === 0)
  const streams = streamNames.map((name) => prefixedStreamName(setup.prefix, name))
  const check = await checkOutboxAgainstStreams(setup.sql, natsUrl, streams)
  t.equal(check.unpublished, 0, 'no outbox row left unpublished')
  t.same(check.missing, [], 'every outbox event is in JetStream')
  t.same(check.duplicated, [], 'no event is in JetStream twice')
}

t.test('SIGKILL mid-backfill resumes without loss or doubles', async (t) => {
  const setup = await setUp(t, 1500)
  setup.sim.setOptions({ faults: { slowRate: 1, slowResponseMs: 150 } })
  const first = await spawnService(t, setup.env)
  const integrationId = await registerPortal(first.url, setup.sim.portalId, setup.sim.privateAppToken)
  const started = await callAdmin(first.url, 'POST', `/sync/${integrationId}`)
  t.equal(started.status, 202)

  await waitFor('300 leads', 30_000, async () => (await count(setup.sql, 'leads')) >= 300)
  await kill(first)
  const leadsAtKill = await count(setup.sql, 'leads')
  t.ok(leadsAtKill < 1500, `the kill landed mid-backfill (${leadsAtKill} of 1500 leads)`)
  t.equal((await cursorOf(setup.sql)).phase, 'backfill', 'the cursor is still in the backfill')

  setup.sim.setOptions({ faults: { slowRate: 0 } })
  const second = await spawnService(t, setup.env)
  const finished = await callAdmin(second.url, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(finished.body.status, 'succeeded', 'the next run succeeds')
  const [killed] = await setup.sql<{ status: string }[]>`
    select status from sync_runs where id = ${started.body.runId}
  `
  t.equal(killed.status, 'interrupted', 'the killed run is marked interrupted')

  await assertLeadsOnce(t, setup)
  const cursor = await cursorOf(setup.sql)
  t.equal(cursor.phase, 'incremental')
  t.equal(cursor.window_start, null, 'no window left open')
  t.ok(cursor.last_sync_at, 'last_sync_at is set')
  const imported = await outboxBySubject(setup.sql, 'leads.imported')
  t.same(imported, { rows: 1500, leads: 1500 }, 'one leads.imported per lead')
  await assertEventsPublishedOnce(t, setup)
})

t.test('SIGKILL mid-window resumes from the saved page', async (t) => {
  const setup = await setUp(t, 600)
  const env = { ...setup.env, POLL_PAGE_SIZE: '50' }
  const first = await spawnService(t, env)
  const integrationId = await registerPortal(first.url, setup.sim.portalId, setup.sim.privateAppToken)
  const backfill = await callAdmin(first.url, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(backfill.body.status, 'succeeded')

  setup.sim.contacts.bulkUpdate(setup.sim.contacts.ids(), { jobtitle: 'Resilience Lead' })
  const updatedAtMs = Date.now()
  setup.sim.setOptions({ faults: { slowRate: 1, slowResponseMs: 200 } })
  const started = await callAdmin(first.url, 'POST', `/sync/${integrationId}`)
  t.equal(started.status, 202)
  await waitFor('a saved window page', 30_000, async () => {
    const cursor = await cursorOf(setup.sql)
    return cursor.window_start !== null && cursor.cursor_value !== null && cursor.cursor_value !== '0'
  })
  await kill(first)
  const [{ changed }] = await setup.sql<{ changed: number }[]>`
    select count(*)::int as changed from leads where job_title = 'Resilience Lead'
  `
  t.ok(changed > 0 && changed < 600, `the kill landed mid-window (${changed} of 600 updated)`)

  setup.sim.setOptions({ faults: { slowRate: 0 } })
  const second = await spawnService(t, env)
  const finished = await callAdmin(second.url, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(finished.body.status, 'succeeded', 'the next run succeeds')

  const [{ stale }] = await setup.sql<{ stale: number }[]>`
    select count(*)::int as stale from leads where job_title is distinct from 'Resilience Lead'
  `
  t.equal(stale, 0, 'every change reached its lead')
  await assertLeadsOnce(t, setup)
  const cursor = await cursorOf(setup.sql)
  t.equal(cursor.phase, 'incremental')
  t.equal(cursor.window_start, null, 'the window was closed')
  t.ok(cursor.last_sync_at && cursor.last_sync_at.getTime() >= updatedAtMs, 'last_sync_at passed the changes')
  const updated = await outboxBySubject(setup.sql, 'leads.updated')
  t.same(updated, { rows: 600, leads: 600 }, 'one leads.updated per changed lead')
  await assertEventsPublishedOnce(t, setup)
})

t.test('SIGKILL mid-inbox leaves no event lost or applied twice', async (t) => {
  const setup = await setUp(t, 0)
  const first = await spawnService(t, setup.env)
  await registerPortal(first.url, setup.sim.portalId, setup.sim.privateAppToken)
  setup.sim.webhooks.configure({ targetUrl: setup.webhookUrl, clientSecret, retryTimeScale: 0.0001 })
  setup.sim.setOptions({ faults: { slowRate: 1, slowResponseMs: 400 } })

  for (let i = 0; i < 400; i++) setup.sim.contacts.create({ email: `inbox-${i}@example.com`, firstname: `In${i}` })
  await setup.sim.webhooks.flush()
  await waitFor('the first webhook leads', 30_000, async () => (await count(setup.sql, 'leads')) > 0)
  await kill(first)
  const [{ pending }] = await setup.sql<{ pending: number }[]>`
    select count(*)::int as pending from webhook_events where status = 'pending'
  `
  t.ok(pending > 0, `the kill landed mid-inbox (${pending} events pending)`)

  // The killed worker's claims keep their lease (2 minutes by default); end them now so the
  // restarted worker takes the events at once, as it would once the lease ran out.
  await setup.sql`update webhook_events set next_attempt_at = now() where status = 'pending'`
  setup.sim.setOptions({ faults: { slowRate: 0 } })
  await spawnService(t, setup.env)
  await waitFor('the inbox to drain', 60_000, async () => {
    const [row] = await setup.sql<{ open: number }[]>`
      select count(*)::int as open from webhook_events where status <> 'done'
    `
    return row.open === 0
  })

  await assertLeadsOnce(t, setup)
  const imported = await outboxBySubject(setup.sql, 'leads.imported')
  t.same(imported, { rows: 400, leads: 400 }, 'one leads.imported per lead')
  await assertEventsPublishedOnce(t, setup)
})

t.test('SIGKILL mid-relay publishes each event once', async (t) => {
  const setup = await setUp(t, 2000)
  const offline = { ...setup.env, NATS_URL: `nats://127.0.0.1:${await freePort()}` }
  const first = await spawnService(t, offline)
  const integrationId = await registerPortal(first.url, setup.sim.portalId, setup.sim.privateAppToken)
  const backfill = await callAdmin(first.url, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(backfill.body.status, 'succeeded')
  t.ok((await count(setup.sql, 'unpublished')) >= 2000, 'events wait in the outbox while NATS is away')
  await kill(first)

  // A slow link to NATS keeps the relay inside its publish transaction long enough to kill it there.
  const slowNats = await startLatencyProxy(t, Number(new URL(natsUrl).port), 40)
  const second = await spawnService(t, { ...setup.env, NATS_URL: slowNats.url })
  await waitFor('the first published rows', 30_000, async () => {
    const [row] = await setup.sql<{ n: number }[]>`
      select count(*)::int as n from outbox where published_at is not null
    `
    return row.n > 0
  })
  await kill(second)
  const unpublished = await count(setup.sql, 'unpublished')
  t.ok(unpublished > 0, `the kill landed mid-relay (${unpublished} rows unpublished)`)

  await spawnService(t, setup.env)
  await assertEventsPublishedOnce(t, setup)
})
