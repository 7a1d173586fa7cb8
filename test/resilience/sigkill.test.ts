import t from 'tap'

import { recordPublishes } from '../helpers/jetstream.js'
import { natsUrl } from '../helpers/nats.js'
import { registerPortal, startTestService } from '../helpers/service.js'
import { killService, spawnService } from '../helpers/serviceProcess.js'
import { waitFor } from '../helpers/waitFor.js'
import { startLatencyProxy } from './latencyProxy.js'
import {
  assertCursorClosed,
  assertImportedOnce,
  assertLeadsOnce,
  assertPublishedOnce,
  buildOutboxBacklog,
  countLeads,
  countUnpublished,
  countWithTitle,
  cursorOf,
  deliverSlowCreations,
  outboxBySubject,
  restartAndSync,
  runStatus,
  setUpServiceProcess,
  startSlowBackfill,
  startSlowWindow,
  waitForInboxDone,
} from './support.js'

// Only the process that is killed is spawned. The restart runs in this process, which is as
// fresh a start and spares the suite a second TypeScript start-up.

t.test('SIGKILL mid-backfill resumes without loss or doubles', async (t) => {
  const setup = await setUpServiceProcess(t, 1500)
  const first = await spawnService(t, setup.env)
  const run = await startSlowBackfill(t, setup, first)
  await killService(first)
  const leadsAtKill = await countLeads(setup.sql)
  t.ok(leadsAtKill < 1500, `the kill landed mid-backfill (${leadsAtKill} of 1500 leads)`)
  t.equal((await cursorOf(setup.sql)).phase, 'backfill', 'the cursor is still in the backfill')

  await restartAndSync(t, setup, run.integrationId)
  t.equal((await runStatus(setup.sql, run.runId)).status, 'interrupted', 'the killed run is marked interrupted')
  await assertCursorClosed(t, setup.sql, 0)
  await assertImportedOnce(t, setup, natsUrl)
})

t.test('SIGKILL mid-window resumes from the saved page', async (t) => {
  const title = 'Resilience Lead'
  const setup = await setUpServiceProcess(t, 600, { POLL_PAGE_SIZE: '50' })
  const first = await spawnService(t, setup.env)
  const run = await startSlowWindow(t, setup, first, title)
  await killService(first)
  const changed = await countWithTitle(setup.sql, title)
  t.ok(changed > 0 && changed < 600, `the kill landed mid-window (${changed} of 600 updated)`)

  await restartAndSync(t, setup, run.integrationId)
  t.equal(await countWithTitle(setup.sql, title), 600, 'every change reached its lead')
  await assertLeadsOnce(t, setup.sql, setup.sim.contacts.ids())
  await assertCursorClosed(t, setup.sql, run.changedAtMs)
  t.same(await outboxBySubject(setup.sql, 'leads.updated'), { rows: 600, leads: 600 }, 'one leads.updated per changed lead')
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
})

t.test('SIGKILL mid-inbox leaves no event lost or applied twice', async (t) => {
  const setup = await setUpServiceProcess(t, 0)
  const first = await spawnService(t, setup.env)
  await registerPortal(first.url, setup.sim.portalId, setup.sim.privateAppToken)
  await deliverSlowCreations(setup, 400, 400)
  await killService(first)
  const [{ pending }] = await setup.sql<{ pending: number }[]>`
    select count(*)::int as pending from webhook_events where status = 'pending'
  `
  t.ok(pending > 0, `the kill landed mid-inbox (${pending} events pending)`)

  // The killed worker's claims keep their lease for 2 minutes. End them now, so the restarted
  // worker takes the events at once, as it would once the lease ran out.
  await setup.sql`update webhook_events set next_attempt_at = now() where status = 'pending'`
  setup.sim.setOptions({ faults: { slowRate: 0 } })
  await startTestService(t, setup.env)
  await waitForInboxDone(setup.sql)
  await assertImportedOnce(t, setup, natsUrl)
})

t.test('SIGKILL mid-relay publishes each event once', async (t) => {
  const setup = await setUpServiceProcess(t, 1000)
  const published = await recordPublishes(t, natsUrl, setup.prefix)
  const { backlog } = await buildOutboxBacklog(t, setup)
  t.ok(backlog > 1000, `events wait in the outbox while NATS is away (${backlog})`)

  // A slow link to NATS keeps the relay inside its publish transaction long enough to kill it there.
  const slowNats = await startLatencyProxy(t, Number(new URL(natsUrl).port), 300)
  const relaying = await spawnService(t, { ...setup.env, NATS_URL: slowNats.url })
  await waitFor('the first published rows', 60_000, async () => (await countUnpublished(setup.sql)) < backlog)
  await killService(relaying)
  const unpublished = await countUnpublished(setup.sql)
  t.ok(unpublished > 0, `the kill landed mid-relay (${unpublished} rows unpublished)`)

  await startTestService(t, setup.env)
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
  await waitFor('the recorder to see every row', 10_000, () => published.counts().size >= backlog)
  t.equal(published.counts().size, backlog, 'every row was published')
  t.comment(`${published.repeated().length} rows were published again after the kill; JetStream dropped them`)
})
