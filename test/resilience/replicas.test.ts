import t from 'tap'

import type { ServiceHandles } from '../../src/server.js'
import { startSimulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { checkOutboxAgainstStreams, recordPublishes, serviceStreams } from '../helpers/jetstream.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { callAdmin, postSignedWebhook, serviceEnv, startTestService } from '../helpers/service.js'
import { waitFor } from '../helpers/waitFor.js'
import { contactEvent } from '../webhooks/fixtures/delivery.js'
import { assertLeadsOnce, outboxBySubject, waitForInboxDone, waitForOutboxDrain } from './support.js'

const publicUrl = 'https://hooks.example.com/webhooks/hubspot'
const seeded = 300
const webhookContacts = 100

t.test('three replicas share runs, inbox, actions and outbox', async (t) => {
  const sim = await startSimulator({ contacts: seeded, seed: 41, options: { faults: { slowRate: 1, slowResponseMs: 30 } } })
  t.teardown(() => sim.close())
  const { url, sql } = await createTestDatabase(t)
  const prefix = uniqueSubjectPrefix(t)
  const published = await recordPublishes(t, natsUrl, prefix)
  const env = serviceEnv(
    { databaseUrl: url, hubspotUrl: sim.url, subjectPrefix: prefix, webhookPublicUrl: publicUrl },
    { ACTIONS_ENABLED: 'true' },
  )
  const replicas: ServiceHandles[] = []
  for (let i = 0; i < 3; i++) replicas.push(await startTestService(t, env))
  for (const replica of replicas) t.ok(await replica.nats.waitUntilConnected(10_000), 'replica connected to NATS')

  const created = await callAdmin(replicas[0].url, 'POST', '/integrations', {
    portalId: sim.portalId,
    accessToken: sim.privateAppToken,
    actions: {
      assign: { enabled: true, strategy: 'round_robin', userIds: [1, 2, 3] },
      analyze: { enabled: true },
    },
  })
  t.equal(created.status, 201)
  const integrationId = created.body.id as number

  // Contacts that only webhooks announce: the backfill may or may not see them too.
  const webhookIds = Array.from({ length: webhookContacts }, (_, i) =>
    Number(sim.contacts.create({ email: `replica-${i}@example.com` }).id),
  )
  const batches = chunk(webhookIds, 25).map((ids) =>
    JSON.stringify(ids.map((id) => contactEvent(sim.portalId, 'creation', id, { changeFlag: 'CREATED' }))),
  )

  // Every replica gets every delivery, a manual run and a scheduler tick, all at once.
  const ticks: Promise<unknown>[] = []
  const manualRuns: Promise<{ status: number }>[] = []
  const deliveries: Promise<{ status: number }>[] = []
  for (const replica of replicas) {
    ticks.push(replica.sync.runDue('schedule'))
    manualRuns.push(callAdmin(replica.url, 'POST', `/sync/${integrationId}`))
    for (const body of batches) deliveries.push(postSignedWebhook(`${replica.url}/webhooks/hubspot`, publicUrl, body))
  }
  await Promise.all(ticks)
  const manualStatuses = (await Promise.all(manualRuns)).map((response) => response.status)
  t.same([...new Set(manualStatuses)], [202], 'every manual run request is answered with the run')
  const deliveryStatuses = (await Promise.all(deliveries)).map((response) => response.status)
  t.same([...new Set(deliveryStatuses)], [200], 'every delivery is accepted')

  // More runs on every replica once the first finished: the incremental window.
  await waitFor('the first runs to finish', 60_000, async () => {
    const [row] = await sql<{ running: number }[]>`select count(*)::int as running from sync_runs where status = 'running'`
    return row.running === 0
  })
  await Promise.all(replicas.map((replica) => callAdmin(replica.url, 'POST', `/sync/${integrationId}?wait=true`)))

  const total = seeded + webhookContacts
  await waitForInboxDone(sql, 30_000)
  await waitFor('every action to run', 60_000, async () => {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from lead_actions where action = 'assign'`
    return row.n === total
  })
  await waitForOutboxDrain(sql)

  await assertLeadsOnce(t, sql, sim.contacts.ids())
  const overlapping = await sql`
    select a.id, b.id
    from sync_runs a
    join sync_runs b
      on a.integration_id = b.integration_id
     and a.kind = b.kind
     and a.id < b.id
     and a.started_at < coalesce(b.finished_at, now())
     and b.started_at < coalesce(a.finished_at, now())
  `
  t.equal(overlapping.length, 0, 'no two runs of the integration overlapped')
  const [runs] = await sql<{ total: number; succeeded: number }[]>`
    select count(*)::int as total, count(*) filter (where status = 'succeeded')::int as succeeded from sync_runs
  `
  t.ok(runs.total >= 2, `several runs happened (${runs.total})`)
  t.equal(runs.succeeded, runs.total, 'every run succeeded')

  const [inbox] = await sql<{ events: number; claimed_more_than_once: number }[]>`
    select count(*)::int as events, count(*) filter (where attempts > 1)::int as claimed_more_than_once
    from webhook_events
  `
  t.equal(inbox.events, webhookContacts, 'each delivered event stored once')
  t.equal(inbox.claimed_more_than_once, 0, 'no event processed twice')

  t.same(await outboxBySubject(sql, 'leads.imported'), { rows: total, leads: total }, 'one leads.imported per lead')
  t.same(await outboxBySubject(sql, 'leads.assigned'), { rows: total, leads: total }, 'one leads.assigned per lead')
  t.same(await outboxBySubject(sql, 'leads.analysis.requested'), { rows: total, leads: total }, 'one analysis request per lead')
  const perUser = await sql<{ users: number }[]>`
    select count(*)::int as users from leads where assigned_user_id is not null group by assigned_user_id
  `
  const counts = perUser.map((row) => row.users).sort()
  t.ok(counts.length === 3 && counts[2] - counts[0] <= 1, `round robin stayed even (${counts.join(', ')})`)

  const check = await checkOutboxAgainstStreams(sql, natsUrl, serviceStreams(prefix))
  t.same(check.missing, [], 'every outbox event is in JetStream')
  await waitFor('the last publishes to arrive', 10_000, () => published.counts().size >= check.rows)
  t.equal(published.counts().size, check.rows, 'every outbox row was published')
  t.same(published.repeated(), [], 'and published once: no relay published a row another had')
})

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}
