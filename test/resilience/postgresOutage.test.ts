import t, { type Test } from 'tap'

import { connect, type Sql } from '../../src/db/connection.js'
import type { ServiceHandles } from '../../src/server.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { callAdmin, postSignedWebhook, serviceEnv, startServiceForPortal, syncAndWait } from '../helpers/service.js'
import { waitFor } from '../helpers/waitFor.js'
import { contactEvent } from '../webhooks/fixtures/delivery.js'
import { createOwnPostgres, type OwnPostgres } from '../webhooks/fixtures/ownPostgres.js'
import { assertCursorClosed, assertLeadsOnce, assertPublishedOnce, countLeads, outboxBySubject, waitForInboxDone } from './support.js'

const publicUrl = 'https://hooks.example.com/webhooks/hubspot'

interface Setup {
  postgres: OwnPostgres
  sim: Simulator
  sql: Sql
  service: ServiceHandles
  prefix: string
  integrationId: number
}

/** Starts the service on a PostgreSQL cluster of the test's own, which the test stops and starts. */
async function setUp(t: Test, contacts: number): Promise<Setup> {
  const postgres = await createOwnPostgres(t)
  const sim = await startSimulator({ contacts, seed: 51 })
  t.teardown(() => sim.close())
  const prefix = uniqueSubjectPrefix(t)
  const env = serviceEnv({ databaseUrl: postgres.url, hubspotUrl: sim.url, subjectPrefix: prefix, webhookPublicUrl: publicUrl })
  const { service, integrationId } = await startServiceForPortal(t, env, sim)
  const sql = connect(postgres.url, { maxConnections: 2 })
  t.teardown(() => sql.end({ timeout: 1 }))
  return { postgres, sim, sql, service, prefix, integrationId }
}

function creationBody(sim: Simulator, contactId: string): string {
  return JSON.stringify([contactEvent(sim.portalId, 'creation', Number(contactId), { changeFlag: 'CREATED' })])
}

async function readyzStatus(service: ServiceHandles): Promise<number> {
  return (await fetch(`${service.url}/readyz`)).status
}

async function runStatuses(sql: Sql): Promise<string[]> {
  const runs = await sql<{ status: string }[]>`select status from sync_runs order by id`
  return runs.map((run) => run.status)
}

t.test('PostgreSQL down between runs: 503s, clean failures, then a full recovery', async (t) => {
  const setup = await setUp(t, 200)
  const { sim, sql, service } = setup
  t.equal((await syncAndWait(service.url, setup.integrationId)).status, 'succeeded')

  await setup.postgres.stop()
  const created = sim.contacts.create({ email: 'while-down@example.com' })
  sim.contacts.bulkUpdate(sim.contacts.ids().slice(0, 30).map(String), { jobtitle: 'Changed While Down' })
  const changedAtMs = Date.now()
  const body = creationBody(sim, created.id)

  const startedMs = Date.now()
  const rejected = await postSignedWebhook(`${service.url}/webhooks/hubspot`, publicUrl, body)
  t.equal(rejected.status, 503, 'the webhook answers 503 so HubSpot retries')
  t.ok(Date.now() - startedMs < 5_000, 'inside the 5-second webhook timeout')
  t.equal(await readyzStatus(service), 503, 'readyz reports the database')
  await t.resolves(service.sync.runDue('schedule'), 'a scheduler tick fails cleanly')
  const manual = await callAdmin(service.url, 'POST', `/sync/${setup.integrationId}`)
  t.equal(manual.status, 503, 'a manual run is rejected with 503')
  t.equal(manual.body.code, 'DATABASE_UNAVAILABLE', 'and says why')

  await setup.postgres.start()
  await waitFor('readyz to recover', 30_000, async () => (await readyzStatus(service)) === 200)
  const accepted = await postSignedWebhook(`${service.url}/webhooks/hubspot`, publicUrl, body)
  t.equal(accepted.status, 200, 'the retried delivery is stored')
  await service.sync.runDue('schedule')

  t.same(await runStatuses(sql), ['succeeded', 'succeeded'], 'the outage wrote no run; the next tick succeeds')
  await waitForInboxDone(sql, 20_000)
  await assertLeadsOnce(t, sql, sim.contacts.ids())
  const [{ changed }] = await sql<{ changed: number }[]>`
    select count(*)::int as changed from leads where job_title = 'Changed While Down'
  `
  t.equal(changed, 30, 'every change made while down arrived')
  await assertCursorClosed(t, sql, changedAtMs)
  await assertPublishedOnce(t, sql, natsUrl, setup.prefix)
})

t.test('PostgreSQL lost mid-backfill: the run stops, the next tick resumes', async (t) => {
  const setup = await setUp(t, 800)
  const { sim, sql, service } = setup
  sim.setOptions({ faults: { slowRate: 1, slowResponseMs: 100 } })
  const first = await service.sync.startRun(setup.integrationId, 'manual')
  await waitFor('200 leads', 30_000, async () => (await countLeads(sql)) >= 200)

  await setup.postgres.stop()
  const outcome = await Promise.allSettled([first.done])
  t.equal(outcome[0].status, 'rejected', 'the run cannot write its end while the database is down')
  const rejected = await postSignedWebhook(`${service.url}/webhooks/hubspot`, publicUrl, creationBody(sim, '1'))
  t.equal(rejected.status, 503, 'webhooks answer 503 meanwhile')

  sim.setOptions({ faults: { slowRate: 0 } })
  await setup.postgres.start()
  await waitFor('readyz to recover', 30_000, async () => (await readyzStatus(service)) === 200)
  const leadsBefore = await countLeads(sql)
  t.ok(leadsBefore >= 200 && leadsBefore < 800, `whole pages survived the outage (${leadsBefore} leads)`)
  t.equal(leadsBefore % 100, 0, 'only whole list pages were written')
  await service.sync.runDue('schedule')

  t.same(await runStatuses(sql), ['interrupted', 'succeeded'], 'the lost run is marked interrupted, the next succeeds')
  await assertLeadsOnce(t, sql, sim.contacts.ids())
  await assertCursorClosed(t, sql, 0)
  t.same(await outboxBySubject(sql, 'leads.imported'), { rows: 800, leads: 800 }, 'one leads.imported per lead')
  await assertPublishedOnce(t, sql, natsUrl, setup.prefix)
})
