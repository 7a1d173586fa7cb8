import t from 'tap'

import { updateIntegration, markNeedsReauth } from '../../src/db/integrations.js'
import { syncCompletedDataSchema, syncFailedDataSchema } from '../../src/events/syncEvents.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { readStream, startNats } from '../events/support.js'
import { connectNats, uniqueSubjectPrefix } from '../helpers/nats.js'
import {
  createHarness,
  endpointCalls,
  leadContactIds,
  listEndpoint,
  liveContactIds,
  silentLogger,
} from './runnerHarness.js'

t.test('paused and needs_reauth integrations fail at once', async (t) => {
  const harness = await createHarness(t, { contacts: 10 })
  const service = harness.service()

  await updateIntegration(harness.sql, harness.integration.id, { status: 'paused' })
  const paused = await service.startRun(harness.integration.id, 'manual')
  const pausedRun = await paused.done
  t.equal(pausedRun.status, 'failed')
  t.equal(pausedRun.errorCode, 'INTEGRATION_PAUSED')
  t.match(pausedRun.error, /paused/)

  await markNeedsReauth(harness.sql, harness.integration.id, 'refresh token revoked')
  const reauth = await (await service.startRun(harness.integration.id, 'manual')).done
  t.equal(reauth.status, 'failed')
  t.equal(reauth.errorCode, 'HUBSPOT_REAUTH_REQUIRED')
  t.match(reauth.error, /re-authoris/)

  t.equal(harness.sim.requestCounts().total, 0, 'no HubSpot call')
  const events = await harness.sql<{ subject: string }[]>`select subject from outbox order by id`
  t.same(events.map((row) => row.subject), ['hubspot.sync.failed', 'hubspot.sync.failed'])
})

t.test('two service instances never run one integration at once', async (t) => {
  const harness = await createHarness(t, { contacts: 300 })
  const first = harness.service()
  const second = harness.service()

  const [a, b] = await Promise.all([
    first.startRun(harness.integration.id, 'schedule'),
    second.startRun(harness.integration.id, 'manual'),
  ])
  t.equal([a, b].filter((started) => started.started).length, 1, 'one of them started')
  t.equal(a.run.id, b.run.id, 'the other returned the run in progress')

  const [doneA, doneB] = await Promise.all([a.done, b.done])
  t.equal(doneA.status, 'succeeded')
  t.equal(doneB.id, doneA.id)
  t.equal(doneB.status, 'succeeded', 'the waiting instance sees the run finish')
  t.equal((await harness.runs()).length, 1, 'one run row')
  t.equal(endpointCalls(harness, listEndpoint), 3, 'the contacts were read once')
})

t.test('a tick and a manual run in one process share the run', async (t) => {
  const harness = await createHarness(t, { contacts: 150 })
  const service = harness.service()
  const manual = await service.startRun(harness.integration.id, 'manual')
  const tick = await service.startRun(harness.integration.id, 'schedule')
  t.equal(manual.started, true)
  t.equal(tick.started, false)
  t.equal(tick.run.id, manual.run.id)
  await manual.done
  await service.runDue('schedule')
  t.equal((await harness.runs()).length, 2, 'runDue started a new run once the first ended')
})

t.test('stale running row is marked interrupted', async (t) => {
  const harness = await createHarness(t, { contacts: 10 })
  const [stale] = await harness.sql<{ id: number }[]>`
    insert into sync_runs (integration_id, kind, trigger) values (${harness.integration.id}, 'contacts', 'schedule')
    returning id
  `
  const run = await harness.sync()
  t.equal(run.status, 'succeeded')
  const previous = await harness.service().findRun(stale.id)
  t.equal(previous?.status, 'interrupted')
  t.ok(previous?.finishedAt)
  const failed = await harness.sql`select 1 from outbox where subject = 'hubspot.sync.failed'`
  t.equal(failed.length, 1, 'the stale run is announced as failed')
})

t.test('stop finishes the page and the next run resumes', async (t) => {
  const harness = await createHarness(t, { contacts: 600 })
  const service = harness.service()
  const { done } = await service.startRun(harness.integration.id, 'manual', {
    onProgress: (progress) => {
      if (progress.pages === 2) void service.stop()
    },
  })
  const stopped = await done
  t.equal(stopped.status, 'interrupted')
  t.equal(stopped.errorCode, 'SYNC_INTERRUPTED')
  const cursor = await harness.cursor()
  t.equal(cursor.status, 'interrupted')
  t.equal(cursor.recordsSynced, await harness.leadCount(), 'every imported page is in the cursor')
  await t.rejects(service.startRun(harness.integration.id, 'manual'), { code: 'SHUTTING_DOWN' })

  const resumed = await harness.sync(harness.service())
  t.equal(resumed.status, 'succeeded')
  t.equal(resumed.counts.unchanged, 0, 'no page is read twice')
  t.same(await leadContactIds(harness.sql, harness.integration.id), liveContactIds(harness))
})

t.test('run events reach JetStream once', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  const harness = await createHarness(t, { contacts: 40, env: { NATS_SUBJECT_PREFIX: prefix } })
  const nats = startNats(t, prefix)
  t.ok(await nats.waitUntilConnected(5000))
  const relay = startOutboxRelay({ sql: harness.sql, nats, logger: silentLogger, idleDelayMs: 50 })
  t.teardown(() => relay.stop())

  const completed = await harness.sync()
  harness.clock.advance(20_000)
  const rerun = await harness.sync()
  await updateIntegration(harness.sql, harness.integration.id, { status: 'paused' })
  const failed = await (await harness.service().startRun(harness.integration.id, 'manual')).done
  await relay.flush()
  await relay.flush()

  const nc = await connectNats(t)
  const runEvents = await readStream(nc, nats.streamName('HUBSPOT_SYNC'))
  t.same(runEvents.map((message) => message.subject), [
    `${prefix}.hubspot.sync.completed`,
    `${prefix}.hubspot.sync.completed`,
    `${prefix}.hubspot.sync.failed`,
  ])
  for (const message of runEvents) t.equal(message.msgId, message.event.id, 'Nats-Msg-Id is the event id')

  const [first, second, third] = runEvents.map((message) => message.event)
  const firstData = syncCompletedDataSchema.parse(first.data)
  t.equal(firstData.runId, completed.id)
  t.equal(firstData.counts.created, 40)
  t.equal(firstData.portalId, harness.sim.portalId)
  t.equal(syncCompletedDataSchema.parse(second.data).runId, rerun.id)
  const failedData = syncFailedDataSchema.parse(third.data)
  t.equal(failedData.runId, failed.id)
  t.equal(failedData.errorCode, 'INTEGRATION_PAUSED')

  const leadEvents = await readStream(nc, nats.streamName('LEADS'))
  t.equal(leadEvents.length, 40, 'the rerun published no lead event')
})

t.test('runDue skips inactive integrations and unknown kinds', async (t) => {
  const harness = await createHarness(t, { contacts: 5 })
  await updateIntegration(harness.sql, harness.integration.id, { status: 'paused' })
  const service = harness.service()
  await service.runDue('schedule')
  await service.runDue('schedule', 'drift')
  t.equal((await harness.runs()).length, 0)
  await t.rejects(service.startRun(harness.integration.id, 'manual', { kind: 'archived' }), {
    code: 'VALIDATION_FAILED',
  })
})

t.test('kind runners run under the run machinery', async (t) => {
  const harness = await createHarness(t, { contacts: 5 })
  let releaseDrift: () => void = () => {}
  const driftStarted = new Promise<void>((resolve) => {
    releaseDrift = resolve
  })
  const service = harness.service({
    runners: {
      archived: async (ctx) => {
        ctx.addPage(3)
        ctx.addCounts({ deleted: 1 })
        ctx.addDetails({ archivedContacts: 3 })
        return { deleted: 2 }
      },
      drift: async (ctx) => {
        releaseDrift()
        while (!ctx.isStopping()) await new Promise((resolve) => setTimeout(resolve, 10))
      },
    },
  })

  const archived = await (await service.startRun(harness.integration.id, 'manual', { kind: 'archived' })).done
  t.equal(archived.status, 'succeeded')
  t.equal(archived.kind, 'archived')
  t.equal(archived.counts.deleted, 2, 'returned counts replace the added ones')
  t.equal(archived.pages, 1)
  t.equal(archived.details.archivedContacts, 3)

  const drift = await service.startRun(harness.integration.id, 'schedule', { kind: 'drift' })
  await driftStarted
  await service.stop()
  const stopped = await drift.done
  t.equal(stopped.status, 'interrupted', 'a runner returning during a stop is interrupted')
  t.equal((await harness.cursor()), null, 'kind runners leave the contacts cursor alone')
})
