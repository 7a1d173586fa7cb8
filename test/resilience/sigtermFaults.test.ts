import { setTimeout as delay } from 'node:timers/promises'

import t, { type Test } from 'tap'

import { connect } from '../../src/db/connection.js'
import { startSimulator } from '../../src/simulator/server.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { freePort } from '../helpers/ports.js'
import { callAdmin, registerPortal, serviceEnv, startTestService, syncAndWait } from '../helpers/service.js'
import { spawnService, terminateService } from '../helpers/serviceProcess.js'
import { waitFor } from '../helpers/waitFor.js'
import { createOwnPostgres } from '../webhooks/fixtures/ownPostgres.js'
import { startFaultProxy, type ProxyFault } from '../helpers/hubspotFaultProxy.js'
import { listCall } from './hubspotHarness.js'
import {
  assertCursorClosed,
  assertGracefulExit,
  assertLeadsOnce,
  assertPublishedOnce,
  countLeads,
  countUnpublished,
  cursorOf,
  graceful,
  outboxBySubject,
  runStatus,
  setUpServiceProcess,
  shutdownTimeoutMs,
} from './support.js'

/**
 * Runs a backfill through a fault proxy whose third list call gets `fault`, sends SIGTERM
 * while the run waits on it, and checks the exit, the saved pages and a clean resume.
 */
async function stopWhileHubSpotStalls(t: Test, fault: ProxyFault, overrides: Record<string, string> = {}) {
  const setup = await setUpServiceProcess(t, 500, { ...graceful, ...overrides })
  const proxy = await startFaultProxy(t, setup.sim.url)
  proxy.setRules([{ match: listCall, skip: 2, count: Infinity, fault }])
  const env = { ...setup.env, HUBSPOT_API_URL: proxy.url }
  const service = await spawnService(t, env)
  const integrationId = await registerPortal(service.url, setup.sim.portalId, setup.sim.privateAppToken)
  const started = await callAdmin(service.url, 'POST', `/sync/${integrationId}`)
  await waitFor('two pages and the fault', 30_000, async () => {
    return (proxy.applied()[fault.kind] ?? 0) > 0 && (await countLeads(setup.sql)) === 200
  })
  // The third page was requested ahead while the first two were imported. Give the run a
  // moment to finish those and wait on the third, so the signal finds it stalled.
  await delay(500)

  assertGracefulExit(t, service, await terminateService(service), shutdownTimeoutMs)
  const run = await runStatus(setup.sql, started.body.runId)
  t.equal(run.status, 'interrupted', 'the run is marked interrupted')
  t.equal(await countLeads(setup.sql), 200, 'the two pages before the stall are kept')
  t.ok((await cursorOf(setup.sql)).cursor_value, 'the resume point was saved')

  proxy.setRules([])
  const restarted = await startTestService(t, env)
  const next = await syncAndWait(restarted.url, integrationId)
  t.equal(next.status, 'succeeded', 'the next run succeeds')
  t.equal(next.counts.created, 300, 'and resumes where the last stopped')
  await assertLeadsOnce(t, setup.sql, setup.sim.contacts.ids())
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
}

t.test('SIGTERM while HubSpot asks for a long wait', async (t) => {
  const fault: ProxyFault = { kind: 'rateLimit', policy: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 600 }
  await stopWhileHubSpotStalls(t, fault)
})

t.test('SIGTERM while HubSpot does not answer', async (t) => {
  // The request stays open past the shutdown timeout; only cutting it ends the run in time.
  await stopWhileHubSpotStalls(t, { kind: 'hang', delayMs: 600_000 }, { HUBSPOT_TIMEOUT_MS: '120000' })
})

t.test('SIGTERM while NATS is down leaves the outbox for the restart', async (t) => {
  const setup = await setUpServiceProcess(t, 300, graceful)
  const offline = { ...setup.env, NATS_URL: `nats://127.0.0.1:${await freePort()}` }
  const service = await spawnService(t, offline)
  const integrationId = await registerPortal(service.url, setup.sim.portalId, setup.sim.privateAppToken)
  t.equal((await syncAndWait(service.url, integrationId)).status, 'succeeded')
  const waiting = await countUnpublished(setup.sql)
  t.ok(waiting > 300, `events wait in the outbox (${waiting})`)

  assertGracefulExit(t, service, await terminateService(service), shutdownTimeoutMs)
  t.equal(await countUnpublished(setup.sql), waiting, 'the events still wait')
  await startTestService(t, setup.env)
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
  t.same(await outboxBySubject(setup.sql, 'leads.imported'), { rows: 300, leads: 300 }, 'one leads.imported per lead')
})

t.test('SIGTERM while PostgreSQL is down exits in time', async (t) => {
  const postgres = await createOwnPostgres(t)
  const sim = await startSimulator({ contacts: 200, seed: 61 })
  t.teardown(() => sim.close())
  const prefix = uniqueSubjectPrefix(t)
  const env = serviceEnv({ databaseUrl: postgres.url, hubspotUrl: sim.url, subjectPrefix: prefix }, graceful)
  const service = await spawnService(t, env)
  const integrationId = await registerPortal(service.url, sim.portalId, sim.privateAppToken)
  t.equal((await syncAndWait(service.url, integrationId)).status, 'succeeded')

  await postgres.stop()
  t.equal((await fetch(`${service.url}/readyz`)).status, 503, 'readyz reports the database')
  const termination = await terminateService(service)
  t.equal(termination.exitCode, 0, 'exits 0: every step ended, if with an error')
  t.ok(termination.elapsedMs < shutdownTimeoutMs, `inside SHUTDOWN_TIMEOUT_MS (${termination.elapsedMs} ms)`)

  await postgres.start()
  const restarted = await startTestService(t, env)
  sim.contacts.create({ email: 'after-the-outage@example.com' })
  t.equal((await syncAndWait(restarted.url, integrationId)).status, 'succeeded', 'the restarted service syncs')
  const sql = connect(postgres.url, { maxConnections: 1 })
  t.teardown(() => sql.end({ timeout: 1 }))
  await assertLeadsOnce(t, sql, sim.contacts.ids())
  await assertPublishedOnce(t, sql, natsUrl, prefix)
})

t.test('SIGTERM of one replica hands its integration to another', async (t) => {
  const setup = await setUpServiceProcess(t, 1000, graceful)
  setup.sim.setOptions({ faults: { slowRate: 1, slowResponseMs: 150 } })
  const stopped = await spawnService(t, setup.env)
  const other = await startTestService(t, { ...setup.env, PORT: '0' })
  const integrationId = await registerPortal(other.url, setup.sim.portalId, setup.sim.privateAppToken)
  const started = await callAdmin(stopped.url, 'POST', `/sync/${integrationId}`)
  await waitFor('200 leads', 60_000, async () => (await countLeads(setup.sql)) >= 200)

  const joined = await callAdmin(other.url, 'POST', `/sync/${integrationId}`)
  t.equal(joined.body.runId, started.body.runId, 'the other replica returns the run in progress')
  assertGracefulExit(t, stopped, await terminateService(stopped), shutdownTimeoutMs)
  t.equal((await runStatus(setup.sql, started.body.runId)).status, 'interrupted', 'the run is marked interrupted')

  setup.sim.setOptions({ faults: { slowRate: 0 } })
  await other.sync.runDue('schedule')
  const [last] = await setup.sql<{ status: string }[]>`select status from sync_runs order by id desc limit 1`
  t.equal(last.status, 'succeeded', 'the next tick on the other replica finishes the sync')
  await assertLeadsOnce(t, setup.sql, setup.sim.contacts.ids())
  await assertCursorClosed(t, setup.sql, 0)
  t.same(await outboxBySubject(setup.sql, 'leads.imported'), { rows: 1000, leads: 1000 }, 'one leads.imported per lead')
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
})
