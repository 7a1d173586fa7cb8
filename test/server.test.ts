import { Writable } from 'node:stream'

import t from 'tap'

import { testConfig, type Config } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { startService, type ServiceHandles } from '../src/server.js'
import { startSimulator, type Simulator } from '../src/simulator/server.js'
import { createTestDatabase } from './helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from './helpers/nats.js'
import { responseErrors } from './http/openapiSupport.js'

const apiToken = 'server-test-admin-token-0123456789'
const auth = { authorization: `Bearer ${apiToken}` }

interface Teardown {
  teardown(fn: () => unknown): void
}

function serviceConfig(t: Teardown, databaseUrl: string, simulator: Simulator, overrides: Record<string, string> = {}): Config {
  return testConfig({
    PORT: '0',
    DATABASE_URL: databaseUrl,
    ENCRYPTION_KEY: 'd4'.repeat(32),
    API_TOKEN: apiToken,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    HUBSPOT_API_URL: simulator.url,
    SCHEDULER_ENABLED: 'false',
    SHUTDOWN_TIMEOUT_MS: '20000',
    ...overrides,
  })
}

/** Creates a debug logger whose lines the test reads back. */
function capturedLogger() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter((line) => line !== ''))
      done()
    },
  })
  return { logger: createLogger('debug', stream), lines }
}

async function start(t: Teardown, config: Config, logger = createLogger('silent')): Promise<ServiceHandles> {
  const handles = await startService(config, { logger })
  t.teardown(() => handles.stop())
  return handles
}

async function call(handles: ServiceHandles, method: string, path: string, body?: unknown) {
  const response = await fetch(`${handles.url}${path}`, {
    method,
    headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, any> }
}

async function register(handles: ServiceHandles, simulator: Simulator): Promise<number> {
  const created = await call(handles, 'POST', '/integrations', {
    portalId: simulator.portalId,
    accessToken: simulator.privateAppToken,
  })
  if (created.status !== 201) throw new Error(`registering failed: ${JSON.stringify(created.body)}`)
  return created.body.id as number
}

t.test('manual sync through the running service', async (t) => {
  const simulator = await startSimulator({ contacts: 250, seed: 3 })
  t.teardown(() => simulator.close())
  const { url, sql } = await createTestDatabase(t)
  const log = capturedLogger()
  const handles = await start(t, serviceConfig(t, url, simulator), log.logger)
  t.ok(await handles.nats.waitUntilConnected(5000), 'NATS connected')
  const integrationId = await register(handles, simulator)

  const unknown = await call(handles, 'POST', '/sync/999999')
  t.equal(unknown.status, 404)
  t.equal(responseErrors('/sync/{integrationId}', 'POST', 404, unknown.body), null, '404 matches openapi.yaml')
  const badKind = await call(handles, 'POST', `/sync/${integrationId}?kind=everything`)
  t.equal(badKind.status, 400)

  const waited = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(waited.status, 200)
  t.match(waited.body, { integrationId, kind: 'contacts', trigger: 'manual', status: 'succeeded', counts: { created: 250 } })
  t.equal(responseErrors('/sync/{integrationId}', 'POST', 200, waited.body), null, '200 matches openapi.yaml')

  const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from leads`
  t.equal(count, 250, 'every contact became a lead')

  const run = await call(handles, 'GET', `/sync-runs/${waited.body.id}`)
  t.equal(run.body.status, 'succeeded')
  const cursor = await call(handles, 'GET', `/integrations/${integrationId}/cursor`)
  t.equal(cursor.status, 200)
  t.equal(cursor.body.recordsSynced >= 250, true, 'cursor counts the synced records')

  await handles.relay?.flush()
  const [outbox] = await sql<{ waiting: number }[]>`
    select count(*)::int as waiting from outbox where published_at is null
  `
  t.equal(outbox.waiting, 0, 'every event was published')

  const text = log.lines.join('\n')
  t.notMatch(text, simulator.privateAppToken, 'the HubSpot token is never logged')
  t.notMatch(text, apiToken, 'the admin token is never logged')
  const [lead] = await sql<{ email: string }[]>`select email from leads where email is not null limit 1`
  t.notMatch(text, lead.email, 'contact data is never logged')
  const runLine = log.lines.map((line) => JSON.parse(line)).find((line) => line.runId === waited.body.id)
  t.match(runLine, { integrationId, portalId: simulator.portalId }, 'run log lines carry the ids')
})

t.test('says once at start that admin routes are disabled', async (t) => {
  const simulator = await startSimulator({ contacts: 1 })
  t.teardown(() => simulator.close())
  const { url } = await createTestDatabase(t)
  const log = capturedLogger()
  const handles = await start(t, serviceConfig(t, url, simulator, { API_TOKEN: '' }), log.logger)
  await fetch(`${handles.url}/integrations`)
  await fetch(`${handles.url}/integrations`)
  const warnings = log.lines.filter((line) => line.includes('admin routes are disabled'))
  t.equal(warnings.length, 1)
  t.match(warnings[0], 'API_TOKEN')
})

t.test('a run in progress is returned, not doubled, across two instances', async (t) => {
  const simulator = await startSimulator({ contacts: 400, seed: 4, options: { faults: { slowRate: 1, slowResponseMs: 150 } } })
  t.teardown(() => simulator.close())
  const { url, sql } = await createTestDatabase(t)
  const first = await start(t, serviceConfig(t, url, simulator))
  const second = await start(t, serviceConfig(t, url, simulator))
  t.not(first.port, second.port, 'each instance has its own port')
  const integrationId = await register(first, simulator)

  const started = await call(first, 'POST', `/sync/${integrationId}`)
  t.equal(started.status, 202)
  t.match(started.body, { status: 'running', started: true })
  t.equal(started.body.runId, started.body.run.id)
  t.equal(responseErrors('/sync/{integrationId}', 'POST', 202, started.body), null, '202 matches openapi.yaml')

  const again = await call(first, 'POST', `/sync/${integrationId}`)
  t.equal(again.status, 202)
  t.match(again.body, { runId: started.body.runId, started: false }, 'same instance returns the running run')

  const elsewhere = await call(second, 'POST', `/sync/${integrationId}`)
  t.equal(elsewhere.status, 202)
  t.match(elsewhere.body, { runId: started.body.runId, started: false }, 'other instance returns it too')

  const finished = await call(second, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(finished.status, 200)
  t.equal(finished.body.id, started.body.runId, 'waiting on the other instance returns the same run')
  t.equal(finished.body.status, 'succeeded')

  const [{ runs }] = await sql<{ runs: number }[]>`select count(*)::int as runs from sync_runs`
  t.equal(runs, 1, 'one run in the database')
})

t.test('starts without NATS and reports it in readyz', async (t) => {
  const simulator = await startSimulator({ contacts: 20, seed: 5 })
  t.teardown(() => simulator.close())
  const { url, sql } = await createTestDatabase(t)
  const startedAtMs = Date.now()
  const handles = await start(t, serviceConfig(t, url, simulator, { NATS_URL: 'nats://127.0.0.1:1' }))
  t.ok(Date.now() - startedAtMs < 15_000, 'start-up does not hang on NATS')

  const ready = await fetch(`${handles.url}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok', nats: 'disconnected' } })

  const integrationId = await register(handles, simulator)
  const run = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(run.body.status, 'succeeded')
  const [outbox] = await sql<{ waiting: number }[]>`
    select count(*)::int as waiting from outbox where published_at is null
  `
  t.ok(outbox.waiting >= 20, 'events wait in the outbox')
})

t.test('graceful shutdown finishes the page in hand', async (t) => {
  const simulator = await startSimulator({ contacts: 2000, seed: 6, options: { faults: { slowRate: 1, slowResponseMs: 100 } } })
  t.teardown(() => simulator.close())
  const { url, sql } = await createTestDatabase(t)
  const handles = await startService(serviceConfig(t, url, simulator))
  const integrationId = await register(handles, simulator)

  const started = await call(handles, 'POST', `/sync/${integrationId}`)
  t.equal(started.status, 202)
  // Let the backfill import a few pages before the shutdown.
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from leads`
    if (count >= 200) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  const stoppedAtMs = Date.now()
  const outcome = await handles.stop()
  t.same(outcome, { timedOut: false })
  t.ok(Date.now() - stoppedAtMs < 20_000, 'within SHUTDOWN_TIMEOUT_MS')
  t.equal(await handles.stop(), outcome, 'stop is idempotent')

  const [run] = await sql<{ status: string; created: number }[]>`
    select status, created from sync_runs where id = ${started.body.runId}
  `
  t.equal(run.status, 'interrupted', 'the run is marked interrupted')
  const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from leads`
  t.equal(run.created, count, 'the counts match the leads written: no page was cut short')
  t.ok(count < 2000, 'the run stopped before the end')
  const [cursor] = await sql<{ cursor_value: string | null }[]>`
    select cursor_value from sync_cursors where integration_id = ${integrationId}
  `
  t.ok(cursor.cursor_value, 'the resume point was saved')

  await t.rejects(fetch(`${handles.url}/healthz`), 'the HTTP server is closed')
})

t.test('refuses to start with DATABASE_URL and no ENCRYPTION_KEY', async (t) => {
  const config = testConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/none', PORT: '0' })
  await t.rejects(startService(config), { code: 'CONFIG_INVALID', message: /ENCRYPTION_KEY is required with DATABASE_URL/ })
})

t.test('reports an unreachable database clearly', async (t) => {
  const config = testConfig({ DATABASE_URL: 'postgres://root@127.0.0.1:1/none', ENCRYPTION_KEY: 'd4'.repeat(32), PORT: '0' })
  await t.rejects(startService(config), { code: 'DATABASE_UNAVAILABLE', message: /127\.0\.0\.1:1\/none did not accept a connection/ })
})
