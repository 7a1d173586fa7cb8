import t, { type Test } from 'tap'

import { testConfig } from '../../src/config.js'
import type { Sql } from '../../src/db/connection.js'
import { startService, type ServiceHandles } from '../../src/server.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { startFaultProxy, type FaultProxy, type FaultRule } from './faultProxy.js'
import { apiToken, callAdmin, encryptionKey, registerPortal } from './support.js'

const contacts = 500
/** The backfill reads list pages of 100 contacts. */
const listPageSize = 100
const list = 'GET /crm/v3/objects/contacts?'
const search = 'POST /crm/v3/objects/contacts/search'

interface Harness {
  sql: Sql
  proxy: FaultProxy
  service: ServiceHandles
  integrationId: number
}

async function startHarness(t: Test, sim: Simulator): Promise<Harness> {
  const proxy = await startFaultProxy(t, sim.url)
  const { url, sql } = await createTestDatabase(t)
  const config = testConfig({
    PORT: '0',
    DATABASE_URL: url,
    ENCRYPTION_KEY: encryptionKey,
    API_TOKEN: apiToken,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    HUBSPOT_API_URL: proxy.url,
    HUBSPOT_TIMEOUT_MS: '500',
    HUBSPOT_MAX_ATTEMPTS: '4',
    SCHEDULER_ENABLED: 'false',
    ACTIONS_ENABLED: 'false',
    POLL_SETTLE_SECONDS: '0',
    POLL_OVERLAP_SECONDS: '0',
  })
  const service = await startService(config)
  t.teardown(() => service.stop())
  const integrationId = await registerPortal(service.url, sim.portalId, sim.privateAppToken)
  return { sql, proxy, service, integrationId }
}

async function runSync(harness: Harness) {
  const run = await callAdmin(harness.service.url, 'POST', `/sync/${harness.integrationId}?wait=true`)
  return run.body as { id: number; status: string; errorCode: string | null; error: string | null; counts: { created: number } }
}

async function leadState(sql: Sql) {
  const [row] = await sql<{ leads: number; contacts: number }[]>`
    select count(*)::int as leads, count(distinct hubspot_contact_id)::int as contacts from leads
  `
  const [cursor] = await sql<{ phase: string; cursor_value: string | null; window_start: Date | null; last_sync_at: Date | null }[]>`
    select phase, cursor_value, window_start, last_sync_at from sync_cursors
  `
  return { ...row, cursor }
}

/** Asserts the end state of a clean finish: every contact a lead once, the window closed. */
async function assertComplete(t: Test, sql: Sql) {
  const state = await leadState(sql)
  t.equal(state.leads, contacts, 'every contact is a lead')
  t.equal(state.contacts, contacts, 'no contact twice')
  t.equal(state.cursor.phase, 'incremental', 'the backfill is done')
  t.equal(state.cursor.window_start, null, 'no window left open')
  t.ok(state.cursor.last_sync_at, 'last_sync_at is set')
}

interface RecoveredCase {
  name: string
  rules: FaultRule[]
  fault: string
}

const recovered: RecoveredCase[] = [
  {
    name: '429 SECONDLY storm on search',
    rules: [{ match: search, fault: { kind: 'rateLimit', policy: 'SECONDLY' }, count: 3 }],
    fault: 'rateLimit',
  },
  {
    name: '429 TEN_SECONDLY_ROLLING storm on list',
    rules: [{ match: list, skip: 2, count: 1, fault: { kind: 'rateLimit', policy: 'TEN_SECONDLY_ROLLING' } }],
    fault: 'rateLimit',
  },
  {
    name: '429 without policy and with Retry-After',
    rules: [{ match: list, skip: 1, count: 2, fault: { kind: 'rateLimit', policy: null, retryAfterSeconds: 1 } }],
    fault: 'rateLimit',
  },
  {
    name: '5xx burst',
    rules: [
      { match: list, skip: 1, count: 1, fault: { kind: 'status', status: 500 } },
      { match: list, count: 1, fault: { kind: 'status', status: 502 } },
      { match: search, count: 1, fault: { kind: 'status', status: 503 } },
      { match: search, count: 1, fault: { kind: 'status', status: 504 } },
    ],
    fault: 'status',
  },
  {
    name: 'responses that never come',
    rules: [{ match: list, skip: 2, count: 2, fault: { kind: 'hang', delayMs: 2_000 } }],
    fault: 'hang',
  },
  {
    name: 'connection resets',
    rules: [{ match: list, skip: 2, count: 3, fault: { kind: 'reset' } }],
    fault: 'reset',
  },
]

t.test('transient HubSpot faults end in a clean run', async (t) => {
  const sim = await startSimulator({ contacts, seed: 31 })
  t.teardown(() => sim.close())
  for (const scenario of recovered) {
    await t.test(scenario.name, async (t) => {
      const harness = await startHarness(t, sim)
      harness.proxy.setRules(scenario.rules)
      const run = await runSync(harness)
      t.equal(run.status, 'succeeded', `the run succeeds (${run.errorCode ?? 'no error'})`)
      t.ok((harness.proxy.applied()[scenario.fault] ?? 0) > 0, 'the fault was applied')
      t.equal(run.counts.created, contacts, 'the run counts every lead')
      await assertComplete(t, harness.sql)
    })
  }
})

interface FailedCase {
  name: string
  rules: FaultRule[]
  status: string
  errorCode: string
}

const failing: FailedCase[] = [
  {
    name: '429 DAILY',
    rules: [{ match: list, skip: 2, fault: { kind: 'rateLimit', policy: 'DAILY' } }],
    status: 'rate_limited',
    errorCode: 'HUBSPOT_DAILY_LIMIT',
  },
  {
    name: '5xx past the attempt limit',
    rules: [{ match: list, skip: 2, count: 10, fault: { kind: 'status', status: 503 } }],
    status: 'failed',
    errorCode: 'HUBSPOT_UNAVAILABLE',
  },
  {
    name: 'truncated JSON body',
    rules: [{ match: list, skip: 2, count: 10, fault: { kind: 'truncate' } }],
    status: 'failed',
    errorCode: 'HUBSPOT_BAD_RESPONSE',
  },
  {
    name: 'invalid JSON body',
    rules: [{ match: list, skip: 2, count: 10, fault: { kind: 'body', status: 200, text: '{"results": [' } }],
    status: 'failed',
    errorCode: 'HUBSPOT_BAD_RESPONSE',
  },
  {
    name: '200 with an unexpected shape',
    rules: [{ match: list, skip: 2, count: 10, fault: { kind: 'body', status: 200, text: '{"results":"none","paging":7}' } }],
    status: 'failed',
    errorCode: 'HUBSPOT_BAD_RESPONSE',
  },
]

t.test('HubSpot faults that end a run keep whole pages and the cursor', async (t) => {
  const sim = await startSimulator({ contacts, seed: 32 })
  t.teardown(() => sim.close())
  for (const scenario of failing) {
    await t.test(scenario.name, async (t) => {
      const harness = await startHarness(t, sim)
      harness.proxy.setRules(scenario.rules)
      const run = await runSync(harness)
      t.equal(run.status, scenario.status, 'the run ends with the expected status')
      t.equal(run.errorCode, scenario.errorCode, 'the run names the reason')
      t.ok(run.error, 'the run carries a message')

      const state = await leadState(harness.sql)
      t.equal(state.leads, 2 * listPageSize, 'the two pages before the fault are written, nothing of the third')
      t.equal(run.counts.created, state.leads, 'the run counts what was written')
      t.equal(state.cursor.phase, 'backfill', 'the cursor stays in the backfill')
      t.ok(state.cursor.cursor_value, 'the resume point is kept')

      harness.proxy.setRules([])
      const next = await runSync(harness)
      t.equal(next.status, 'succeeded', 'the next run succeeds')
      t.equal(next.counts.created, contacts - state.leads, 'the next run resumes where the last stopped')
      await assertComplete(t, harness.sql)
    })
  }
})
