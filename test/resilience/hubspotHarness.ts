import type { Test } from 'tap'

import type { Sql } from '../../src/db/connection.js'
import type { ServiceHandles } from '../../src/server.js'
import type { Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import { registerPortal, serviceEnv, startTestService, syncAndWait } from '../helpers/service.js'
import { startFaultProxy, type FaultProxy } from '../helpers/hubspotFaultProxy.js'
import { assertLeadsOnce, cursorOf } from './support.js'

/** The backfill reads list pages of 100 contacts. */
export const listPageSize = 100
export const listCall = 'GET /crm/v3/objects/contacts?'
export const searchCall = 'POST /crm/v3/objects/contacts/search'
export const batchReadCall = 'POST /crm/v3/objects/contacts/batch/read'

export interface Harness {
  sim: Simulator
  sql: Sql
  proxy: FaultProxy
  service: ServiceHandles
  prefix: string
  integrationId: number
}

/**
 * Starts the service against a fault proxy in front of `sim`, with short HubSpot timeouts
 * and few attempts so that faults show within seconds, and registers the portal.
 */
export async function startHarness(t: Test, sim: Simulator, overrides: Record<string, string> = {}): Promise<Harness> {
  const proxy = await startFaultProxy(t, sim.url)
  const { url, sql } = await createTestDatabase(t)
  const prefix = uniqueSubjectPrefix(t)
  const env = serviceEnv(
    { databaseUrl: url, hubspotUrl: proxy.url, subjectPrefix: prefix },
    { HUBSPOT_TIMEOUT_MS: '500', HUBSPOT_MAX_ATTEMPTS: '4', ...overrides },
  )
  const service = await startTestService(t, env)
  const integrationId = await registerPortal(service.url, sim.portalId, sim.privateAppToken)
  return { sim, sql, proxy, service, prefix, integrationId }
}

export interface FinishedRun {
  id: number
  status: string
  errorCode: string | null
  error: string | null
  counts: { created: number; updated: number; failed: number }
}

export async function runSync(harness: Harness): Promise<FinishedRun> {
  return (await syncAndWait(harness.service.url, harness.integrationId)) as FinishedRun
}

/** Asserts the end of a clean run: every contact a lead once, the cursor closed and idle. */
export async function assertComplete(t: Test, harness: Harness): Promise<void> {
  await assertLeadsOnce(t, harness.sql, harness.sim.contacts.ids())
  const cursor = await cursorOf(harness.sql)
  t.equal(cursor.phase, 'incremental', 'the backfill is done')
  t.equal(cursor.window_start, null, 'no window left open')
  t.ok(cursor.last_sync_at, 'last_sync_at is set')
  t.equal(cursor.status, 'idle', 'the cursor is idle')
}

/** Changes every contact's job title, so the next run reads all of them through search. */
export function changeEveryContact(sim: Simulator, title: string): void {
  sim.contacts.bulkUpdate(sim.contacts.ids().map(String), { jobtitle: title })
}

/** Leads whose job title is not `title`: changes that did not arrive. */
export async function countStale(sql: Sql, title: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from leads where job_title is distinct from ${title}
  `
  return row.n
}

/**
 * Starts a harness, runs the backfill cleanly, then changes every contact's job title to
 * `title`, so the next run reads every contact through search in a window.
 */
export async function startWindowHarness(
  t: Test,
  sim: Simulator,
  title: string,
  overrides: Record<string, string> = {},
): Promise<Harness> {
  const harness = await startHarness(t, sim, overrides)
  t.equal((await runSync(harness)).status, 'succeeded', 'the backfill succeeds')
  changeEveryContact(sim, title)
  return harness
}
