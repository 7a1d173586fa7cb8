import type { Test } from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { checkOutboxAgainstStreams, serviceStreams } from '../helpers/jetstream.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import { freePort } from '../helpers/ports.js'
import { callAdmin, clientSecret, registerPortal, serviceEnv, startTestService, syncAndWait } from '../helpers/service.js'
import type { ServiceProcess, Termination } from '../helpers/serviceProcess.js'
import { waitFor } from '../helpers/waitFor.js'

/** Leads in the table, deleted ones included. */
export async function countLeads(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from leads`
  return row.n
}

/** Outbox rows not yet published. */
export async function countUnpublished(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from outbox where published_at is null`
  return row.n
}

/** Inbox events that are neither done nor ignored. */
export async function countOpenInbox(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from webhook_events where status not in ('done', 'ignored')
  `
  return row.n
}

export function waitForOutboxDrain(sql: Sql, timeoutMs = 30_000): Promise<boolean> {
  return waitFor('the outbox to drain', timeoutMs, async () => (await countUnpublished(sql)) === 0)
}

export function waitForInboxDone(sql: Sql, timeoutMs = 60_000): Promise<boolean> {
  return waitFor('the inbox to drain', timeoutMs, async () => (await countOpenInbox(sql)) === 0)
}

export interface CursorRow {
  phase: string
  last_sync_at: Date | null
  window_start: Date | null
  cursor_value: string | null
  status: string
}

/** Reads the contacts cursor of the only integration in the database. */
export async function cursorOf(sql: Sql): Promise<CursorRow> {
  const [cursor] = await sql<CursorRow[]>`
    select phase, last_sync_at, window_start, cursor_value, status from sync_cursors
  `
  return cursor
}

/** Outbox rows of one subject, and how many distinct leads they are about. */
export async function outboxBySubject(sql: Sql, subject: string): Promise<{ rows: number; leads: number }> {
  const [row] = await sql<{ rows: number; leads: number }[]>`
    select count(*)::int as rows, count(distinct payload -> 'data' ->> 'leadId')::int as leads
    from outbox
    where subject = ${subject}
  `
  return row
}

/** Asserts that the leads are exactly the contacts `contactIds`, each one once. */
export async function assertLeadsOnce(t: Test, sql: Sql, contactIds: (number | string)[]): Promise<void> {
  const expected = contactIds.map(String).sort()
  const rows = await sql<{ id: string }[]>`select hubspot_contact_id::text as id from leads`
  const ids = rows.map((row) => row.id).sort()
  t.equal(ids.length, expected.length, 'one lead per contact')
  t.equal(new Set(ids).size, ids.length, 'no contact twice')
  t.same(ids, expected, 'the leads are the contacts of the portal')
}

/** Asserts a closed incremental cursor whose last window reached at least `sinceMs`. */
export async function assertCursorClosed(t: Test, sql: Sql, sinceMs: number): Promise<void> {
  const cursor = await cursorOf(sql)
  t.equal(cursor.phase, 'incremental', 'the backfill is done')
  t.equal(cursor.window_start, null, 'no window left open')
  t.ok(cursor.last_sync_at && cursor.last_sync_at.getTime() >= sinceMs, 'last_sync_at passed the changes')
  t.equal(cursor.status, 'idle', 'the cursor is idle')
}

/** Waits for the outbox to drain, then asserts each row is in JetStream exactly once. */
export async function assertPublishedOnce(t: Test, sql: Sql, natsUrl: string, prefix: string): Promise<void> {
  await waitForOutboxDrain(sql)
  const check = await checkOutboxAgainstStreams(sql, natsUrl, serviceStreams(prefix))
  t.equal(check.unpublished, 0, 'no outbox row left unpublished')
  t.same(check.missing, [], 'every outbox event is in JetStream')
  t.same(check.duplicated, [], 'no event is in JetStream twice')
}

export interface ProcessSetup {
  sql: Sql
  sim: Simulator
  prefix: string
  /** Environment of a `serve` process on a fixed port, which webhooks are signed for. */
  env: Record<string, string>
  webhookUrl: string
}

/** Starts a simulator with `contacts` and builds a database, a subject prefix and a service environment. */
export async function setUpServiceProcess(
  t: Test,
  contacts: number,
  overrides: Record<string, string> = {},
): Promise<ProcessSetup> {
  const sim = await startSimulator({ contacts, seed: 11 })
  t.teardown(() => sim.close())
  const { url, sql } = await createTestDatabase(t)
  const prefix = uniqueSubjectPrefix(t)
  const port = await freePort()
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/hubspot`
  const options = { databaseUrl: url, hubspotUrl: sim.url, subjectPrefix: prefix, port, webhookPublicUrl: webhookUrl }
  return { sql, sim, prefix, env: serviceEnv(options, overrides), webhookUrl }
}

export async function runStatus(sql: Sql, runId: number): Promise<{ status: string; created: number; updated: number }> {
  const [run] = await sql<{ status: string; created: number; updated: number }[]>`
    select status, created, updated from sync_runs where id = ${runId}
  `
  return run
}

/** SHUTDOWN_TIMEOUT_MS of the processes the shutdown tests stop, in milliseconds. */
export const shutdownTimeoutMs = 20_000

/** Environment overrides that set SHUTDOWN_TIMEOUT_MS to `shutdownTimeoutMs`. */
export const graceful = { SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs) }

/**
 * Asserts that a `serve` process shut down gracefully: exit code 0, which it returns only
 * when the shutdown finished inside SHUTDOWN_TIMEOUT_MS, and the matching log lines.
 */
export function assertGracefulExit(t: Test, service: ServiceProcess, termination: Termination, timeoutMs: number): void {
  const messages = service.lines.map((line) => String(line.msg))
  t.equal(termination.exitCode, 0, 'exits 0 after a graceful shutdown')
  t.ok(termination.elapsedMs < timeoutMs, `exits inside SHUTDOWN_TIMEOUT_MS (${termination.elapsedMs} of ${timeoutMs} ms)`)
  t.ok(messages.includes('shutdown complete'), 'logs the end of the shutdown')
  t.notOk(messages.some((message) => message.includes('timed out')), 'no shutdown step timed out')
}

/** Starts the service again in this process, with the simulator at full speed, and syncs. */
export async function restartAndSync(t: Test, setup: ProcessSetup, integrationId: number): Promise<Record<string, any>> {
  setup.sim.setOptions({ faults: { slowRate: 0 } })
  const restarted = await startTestService(t, setup.env)
  const run = await syncAndWait(restarted.url, integrationId)
  t.equal(run.status, 'succeeded', 'the run after the restart succeeds')
  return run
}

/**
 * Creates `count` contacts that only webhooks announce, slows the simulator's API down so
 * the inbox takes a while over them, delivers the webhooks and waits for the first lead.
 */
export async function deliverSlowCreations(setup: ProcessSetup, count: number, slowResponseMs: number): Promise<void> {
  setup.sim.webhooks.configure({ targetUrl: setup.webhookUrl, clientSecret, retryTimeScale: 0.0001 })
  setup.sim.setOptions({ faults: { slowRate: 1, slowResponseMs } })
  for (let i = 0; i < count; i++) setup.sim.contacts.create({ email: `webhook-${i}@example.com` })
  await setup.sim.webhooks.flush()
  await waitFor('the first webhook leads', 60_000, async () => (await countLeads(setup.sql)) > 0)
}

/** Asserts that every contact is a lead with one leads.imported, each published once. */
export async function assertImportedOnce(t: Test, setup: ProcessSetup, natsUrl: string): Promise<void> {
  const ids = setup.sim.contacts.ids()
  await assertLeadsOnce(t, setup.sql, ids)
  t.same(await outboxBySubject(setup.sql, 'leads.imported'), { rows: ids.length, leads: ids.length }, 'one leads.imported per lead')
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
}

/**
 * Registers the portal and syncs it in this process with NATS unreachable, so every event
 * waits in the outbox. Returns the integration id and how many rows wait.
 */
export async function buildOutboxBacklog(t: Test, setup: ProcessSetup): Promise<{ integrationId: number; backlog: number }> {
  const offline = await startTestService(t, { ...setup.env, NATS_URL: `nats://127.0.0.1:${await freePort()}` })
  const integrationId = await registerPortal(offline.url, setup.sim.portalId, setup.sim.privateAppToken)
  t.equal((await syncAndWait(offline.url, integrationId)).status, 'succeeded', 'the sync runs without NATS')
  await offline.stop()
  return { integrationId, backlog: await countUnpublished(setup.sql) }
}

export interface StartedRun {
  integrationId: number
  runId: number
  /** When the contacts were changed, for a window run; 0 for a backfill. */
  changedAtMs: number
}

/**
 * Registers the portal on `service`, slows the simulator down and starts the backfill, then
 * waits until 300 leads are written: a run with most of its pages still to read.
 */
export async function startSlowBackfill(t: Test, setup: ProcessSetup, service: ServiceProcess): Promise<StartedRun> {
  setup.sim.setOptions({ faults: { slowRate: 1, slowResponseMs: 150 } })
  const integrationId = await registerPortal(service.url, setup.sim.portalId, setup.sim.privateAppToken)
  const started = await callAdmin(service.url, 'POST', `/sync/${integrationId}`)
  t.equal(started.status, 202, 'the backfill starts')
  await waitFor('300 leads', 60_000, async () => (await countLeads(setup.sql)) >= 300)
  return { integrationId, runId: started.body.runId, changedAtMs: 0 }
}

/**
 * Registers the portal on `service` and backfills it, changes every contact's job title to
 * `title`, slows the simulator down and starts the window run, then waits until it saved
 * its first page.
 */
export async function startSlowWindow(t: Test, setup: ProcessSetup, service: ServiceProcess, title: string): Promise<StartedRun> {
  const integrationId = await registerPortal(service.url, setup.sim.portalId, setup.sim.privateAppToken)
  t.equal((await syncAndWait(service.url, integrationId)).status, 'succeeded', 'the backfill succeeds')
  setup.sim.contacts.bulkUpdate(setup.sim.contacts.ids(), { jobtitle: title })
  const changedAtMs = Date.now()
  setup.sim.setOptions({ faults: { slowRate: 1, slowResponseMs: 200 } })
  const started = await callAdmin(service.url, 'POST', `/sync/${integrationId}`)
  t.equal(started.status, 202, 'the window run starts')
  await waitFor('a saved window page', 60_000, async () => {
    const cursor = await cursorOf(setup.sql)
    return cursor.window_start !== null && cursor.cursor_value !== null && cursor.cursor_value !== '0'
  })
  return { integrationId, runId: started.body.runId, changedAtMs }
}

/** Leads whose job title is `title`: the changes of a window that arrived. */
export async function countWithTitle(sql: Sql, title: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from leads where job_title = ${title}`
  return row.n
}
