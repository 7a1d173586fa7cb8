import t from 'tap'

import { testConfig } from '../../src/config.js'
import { prefixedStreamName } from '../../src/events/subjects.js'
import { startService, type ServiceHandles } from '../../src/server.js'
import { startSimulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { contactEvent } from '../webhooks/fixtures/delivery.js'
import {
  apiToken,
  callAdmin,
  checkOutboxAgainstStreams,
  clientSecret,
  encryptionKey,
  postSignedWebhook,
  waitFor,
} from './support.js'

const publicUrl = 'https://hooks.example.com/webhooks/hubspot'
const seeded = 300
const webhookContacts = 100

t.test('three replicas share runs, inbox, actions and outbox', async (t) => {
  const sim = await startSimulator({ contacts: seeded, seed: 41, options: { faults: { slowRate: 1, slowResponseMs: 30 } } })
  t.teardown(() => sim.close())
  const { url, sql } = await createTestDatabase(t)
  const prefix = uniqueSubjectPrefix(t)
  const config = testConfig({
    PORT: '0',
    DATABASE_URL: url,
    ENCRYPTION_KEY: encryptionKey,
    API_TOKEN: apiToken,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: prefix,
    HUBSPOT_API_URL: sim.url,
    HUBSPOT_CLIENT_SECRET: clientSecret,
    WEBHOOK_PUBLIC_URL: publicUrl,
    SCHEDULER_ENABLED: 'false',
    POLL_SETTLE_SECONDS: '0',
    POLL_OVERLAP_SECONDS: '0',
  })
  const replicas: ServiceHandles[] = []
  for (let i = 0; i < 3; i++) {
    const replica = await startService(config)
    t.teardown(() => replica.stop())
    replicas.push(replica)
  }
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
  const work: Promise<unknown>[] = []
  for (const replica of replicas) {
    work.push(replica.sync.runDue('schedule'))
    work.push(callAdmin(replica.url, 'POST', `/sync/${integrationId}`))
    for (const body of batches) work.push(postSignedWebhook(`${replica.url}/webhooks/hubspot`, publicUrl, body))
  }
  const results = await Promise.all(work)
  const webhookStatuses = results.filter(isWebhookResult).map((result) => result.status)
  t.same([...new Set(webhookStatuses)], [200], 'every delivery is accepted')

  // More runs on every replica once the first finished: the incremental window.
  await waitFor('the first runs to finish', 60_000, async () => {
    const [row] = await sql<{ running: number }[]>`select count(*)::int as running from sync_runs where status = 'running'`
    return row.running === 0
  })
  await Promise.all(replicas.map((replica) => callAdmin(replica.url, 'POST', `/sync/${integrationId}?wait=true`)))

  const total = seeded + webhookContacts
  await waitFor('the inbox to drain', 30_000, async () => {
    const [row] = await sql<{ open: number }[]>`select count(*)::int as open from webhook_events where status <> 'done'`
    return row.open === 0
  })
  await waitFor('every action to run', 60_000, async () => {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from lead_actions where action = 'assign'
    `
    return row.n === total
  })
  await waitFor('the outbox to drain', 30_000, async () => {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from outbox where published_at is null`
    return row.n === 0
  })

  const [leads] = await sql<{ rows: number; contacts: number }[]>`
    select count(*)::int as rows, count(distinct hubspot_contact_id)::int as contacts from leads
  `
  t.same(leads, { rows: total, contacts: total }, 'every contact is a lead once')

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

  const [assigned] = await sql<{ rows: number; leads: number }[]>`
    select count(*)::int as rows, count(distinct payload -> 'data' ->> 'leadId')::int as leads
    from outbox
    where subject = 'leads.assigned'
  `
  t.same(assigned, { rows: total, leads: total }, 'one leads.assigned per lead')
  const perUser = await sql<{ users: number }[]>`
    select count(*)::int as users from leads where assigned_user_id is not null group by assigned_user_id
  `
  const counts = perUser.map((row) => row.users).sort()
  t.ok(counts.length === 3 && counts[2] - counts[0] <= 1, `round robin stayed even (${counts.join(', ')})`)

  const streams = ['LEADS', 'HUBSPOT_SYNC', 'NOTIFICATIONS', 'SEQUENCES'].map((name) => prefixedStreamName(prefix, name))
  const check = await checkOutboxAgainstStreams(sql, natsUrl, streams)
  t.same(check.missing, [], 'every outbox event is in JetStream')
  t.same(check.duplicated, [], 'the outbox was drained once')
})

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}

function isWebhookResult(value: unknown): value is { status: number; body: string } {
  return typeof value === 'object' && value !== null && typeof (value as { body?: unknown }).body === 'string'
}
