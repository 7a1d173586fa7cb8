import t from 'tap'

import { recordPublishes } from '../helpers/jetstream.js'
import { natsUrl } from '../helpers/nats.js'
import { registerPortal, startTestService } from '../helpers/service.js'
import { spawnService, terminateService } from '../helpers/serviceProcess.js'
import { waitFor } from '../helpers/waitFor.js'
import { startLatencyProxy } from './latencyProxy.js'
import {
  assertCursorClosed,
  assertGracefulExit,
  assertImportedOnce,
  assertLeadsOnce,
  assertPublishedOnce,
  buildOutboxBacklog,
  countLeads,
  countUnpublished,
  countWithTitle,
  cursorOf,
  deliverSlowCreations,
  graceful,
  outboxBySubject,
  restartAndSync,
  runStatus,
  setUpServiceProcess,
  shutdownTimeoutMs,
  startSlowBackfill,
  startSlowWindow,
  waitForInboxDone,
} from './support.js'

t.test('SIGTERM mid-backfill finishes the page in hand', async (t) => {
  const setup = await setUpServiceProcess(t, 1500, graceful)
  const service = await spawnService(t, setup.env)
  const started = await startSlowBackfill(t, setup, service)

  assertGracefulExit(t, service, await terminateService(service), shutdownTimeoutMs)
  const run = await runStatus(setup.sql, started.runId)
  const leads = await countLeads(setup.sql)
  t.equal(run.status, 'interrupted', 'the run is marked interrupted')
  t.equal(run.created, leads, 'the run counted every lead it wrote: no page was cut short')
  t.ok(leads < 1500 && leads % 100 === 0, `only whole list pages were written (${leads})`)
  const cursor = await cursorOf(setup.sql)
  t.equal(cursor.phase, 'backfill', 'the cursor is still in the backfill')
  t.ok(cursor.cursor_value, 'the resume point was saved')
  t.equal(cursor.status, 'interrupted', 'the cursor shows the interruption')
  t.equal(await countUnpublished(setup.sql), 0, 'the outbox was published before the exit')

  const next = await restartAndSync(t, setup, started.integrationId)
  t.equal(next.counts.created, 1500 - leads, 'the next run resumes where the last stopped')
  await assertCursorClosed(t, setup.sql, 0)
  await assertImportedOnce(t, setup, natsUrl)
})

t.test('SIGTERM mid-window keeps the saved page', async (t) => {
  const title = 'Stopped Window'
  const setup = await setUpServiceProcess(t, 600, { ...graceful, POLL_PAGE_SIZE: '50' })
  const service = await spawnService(t, setup.env)
  const started = await startSlowWindow(t, setup, service, title)

  assertGracefulExit(t, service, await terminateService(service), shutdownTimeoutMs)
  const run = await runStatus(setup.sql, started.runId)
  const changed = await countWithTitle(setup.sql, title)
  t.equal(run.status, 'interrupted', 'the run is marked interrupted')
  t.ok(changed > 0 && changed < 600, `the stop landed mid-window (${changed} of 600 updated)`)
  t.equal(run.updated, changed, 'the run counted every change it wrote')
  t.ok((await cursorOf(setup.sql)).window_start, 'the window stays open for the next run')

  const next = await restartAndSync(t, setup, started.integrationId)
  t.equal(next.counts.updated, 600 - changed, 'the next run reads only the rest of the window')
  await assertLeadsOnce(t, setup.sql, setup.sim.contacts.ids())
  await assertCursorClosed(t, setup.sql, started.changedAtMs)
  t.same(await outboxBySubject(setup.sql, 'leads.updated'), { rows: 600, leads: 600 }, 'one leads.updated per lead')
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
})

t.test('SIGTERM mid-inbox loses and doubles no event', async (t) => {
  const setup = await setUpServiceProcess(t, 0, graceful)
  const service = await spawnService(t, setup.env)
  await registerPortal(service.url, setup.sim.portalId, setup.sim.privateAppToken)
  await deliverSlowCreations(setup, 300, 400)

  assertGracefulExit(t, service, await terminateService(service), shutdownTimeoutMs)
  const [inbox] = await setup.sql<{ created: number; open: number }[]>`
    select count(distinct object_id) filter (where subscription_type = 'contact.creation')::int as created,
           count(*) filter (where status = 'pending')::int as open
    from webhook_events
  `
  t.equal(inbox.created, 300, 'every delivered creation was stored')
  t.ok(inbox.open > 0, `the stop landed mid-inbox (${inbox.open} events open)`)

  setup.sim.setOptions({ faults: { slowRate: 0 } })
  await startTestService(t, setup.env)
  await waitForInboxDone(setup.sql)
  await assertImportedOnce(t, setup, natsUrl)
})

t.test('SIGTERM mid-relay publishes for half the timeout, then leaves the rest', async (t) => {
  const timeoutMs = 12_000
  const setup = await setUpServiceProcess(t, 2000, { SHUTDOWN_TIMEOUT_MS: String(timeoutMs) })
  const published = await recordPublishes(t, natsUrl, setup.prefix)
  const { backlog } = await buildOutboxBacklog(t, setup)
  t.ok(backlog > 2000, `a backlog waits in the outbox (${backlog})`)

  // Acknowledgements come back through a slow link (a batch of 200 takes seconds), so the
  // backlog takes longer to publish than the shutdown may spend on it.
  const slowNats = await startLatencyProxy(t, Number(new URL(natsUrl).port), 300)
  const service = await spawnService(t, { ...setup.env, NATS_URL: slowNats.url })
  await waitFor('the first published rows', 60_000, async () => (await countUnpublished(setup.sql)) < backlog)
  assertGracefulExit(t, service, await terminateService(service), timeoutMs)
  const left = await countUnpublished(setup.sql)
  t.ok(left > 0 && left < backlog, `the flush stopped in time and left ${left} rows waiting`)
  const stopped = service.lines.find((line) => line.msg === 'outbox flush stopped to keep the shutdown in time; the rest waits')
  t.equal(stopped?.waiting, left, 'the log says how many rows wait')

  await startTestService(t, setup.env)
  await assertPublishedOnce(t, setup.sql, natsUrl, setup.prefix)
  await waitFor('the recorder to see every row', 10_000, () => published.counts().size >= backlog)
  t.equal(published.counts().size, backlog, 'every row was published')
  t.same(published.repeated(), [], 'none twice, across the stop and the restart')
})
