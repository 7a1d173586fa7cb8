import t from 'tap'

import { testConfig } from '../../src/config.js'
import { connect } from '../../src/db/connection.js'
import { startService } from '../../src/server.js'
import { startSimulator } from '../../src/simulator/server.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { contactEvent } from '../webhooks/fixtures/delivery.js'
import { createOwnPostgres } from '../webhooks/fixtures/ownPostgres.js'
import { apiToken, callAdmin, clientSecret, encryptionKey, postSignedWebhook, registerPortal, waitFor } from './support.js'

const publicUrl = 'https://hooks.example.com/webhooks/hubspot'

t.test('PostgreSQL down and back: 503s, clean failures, then a full recovery', async (t) => {
  const postgres = await createOwnPostgres(t)
  const sim = await startSimulator({ contacts: 200, seed: 51 })
  t.teardown(() => sim.close())
  const service = await startService(
    testConfig({
      PORT: '0',
      DATABASE_URL: postgres.url,
      ENCRYPTION_KEY: encryptionKey,
      API_TOKEN: apiToken,
      NATS_URL: natsUrl,
      NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
      HUBSPOT_API_URL: sim.url,
      HUBSPOT_CLIENT_SECRET: clientSecret,
      WEBHOOK_PUBLIC_URL: publicUrl,
      SCHEDULER_ENABLED: 'false',
      ACTIONS_ENABLED: 'false',
      POLL_SETTLE_SECONDS: '0',
      POLL_OVERLAP_SECONDS: '0',
    }),
  )
  t.teardown(() => service.stop())
  const sql = connect(postgres.url, { maxConnections: 2 })
  t.teardown(() => sql.end({ timeout: 1 }))
  const integrationId = await registerPortal(service.url, sim.portalId, sim.privateAppToken)
  const first = await callAdmin(service.url, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(first.body.status, 'succeeded')

  await postgres.stop()
  const created = sim.contacts.create({ email: 'while-down@example.com' })
  const changed = sim.contacts.ids().slice(0, 30).map(String)
  sim.contacts.bulkUpdate(changed, { jobtitle: 'Changed While Down' })
  const body = JSON.stringify([contactEvent(sim.portalId, 'creation', Number(created.id), { changeFlag: 'CREATED' })])

  const startedMs = Date.now()
  const refused = await postSignedWebhook(`${service.url}/webhooks/hubspot`, publicUrl, body)
  t.equal(refused.status, 503, 'the webhook answers 503 so HubSpot retries')
  t.ok(Date.now() - startedMs < 5_000, 'inside the 5-second webhook timeout')
  t.equal((await fetch(`${service.url}/readyz`)).status, 503, 'readyz reports the database')
  await t.resolves(service.sync.runDue('schedule'), 'a scheduler tick fails cleanly')
  const manual = await callAdmin(service.url, 'POST', `/sync/${integrationId}`)
  t.ok(manual.status >= 500, `a manual run is refused (${manual.status})`)

  await postgres.start()
  await waitFor('readyz to recover', 30_000, async () => (await fetch(`${service.url}/readyz`)).status === 200)
  const accepted = await postSignedWebhook(`${service.url}/webhooks/hubspot`, publicUrl, body)
  t.equal(accepted.status, 200, 'the retried delivery is stored')
  await service.sync.runDue('schedule')

  const runs = await sql<{ status: string }[]>`select status from sync_runs order by id`
  t.equal(runs.at(-1)?.status, 'succeeded', 'the next tick succeeds')
  t.notOk(runs.some((run) => run.status === 'running'), 'no run is left running')
  await waitFor('the inbox to drain', 20_000, async () => {
    const [row] = await sql<{ open: number }[]>`select count(*)::int as open from webhook_events where status <> 'done'`
    return row.open === 0
  })

  const [leads] = await sql<{ rows: number; contacts: number; changed: number }[]>`
    select count(*)::int as rows,
           count(distinct hubspot_contact_id)::int as contacts,
           count(*) filter (where job_title = 'Changed While Down')::int as changed
    from leads
  `
  t.same(leads, { rows: 201, contacts: 201, changed: 30 }, 'every change made while down arrived once')
  const [cursor] = await sql<{ phase: string; window_start: Date | null }[]>`
    select phase, window_start from sync_cursors
  `
  t.same(cursor, { phase: 'incremental', window_start: null }, 'the cursor is closed and incremental')
  await waitFor('the outbox to drain', 20_000, async () => {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from outbox where published_at is null`
    return row.n === 0
  })
})
