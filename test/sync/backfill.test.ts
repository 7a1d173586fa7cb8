import t from 'tap'

import {
  createHarness,
  endpointCalls as calls,
  leadContactIds,
  listEndpoint,
  liveContactIds,
  searchEndpoint,
  type Harness,
} from './runnerHarness.js'

async function outboxCount(harness: Harness, subject: string): Promise<number> {
  const [row] = await harness.sql<{ count: number }[]>`
    select count(*)::int as count from outbox where subject = ${subject}
  `
  return row.count
}

t.test('backfill then incremental', async (t) => {
  const harness = await createHarness(t, { contacts: 250 })
  const expected = liveContactIds(harness)

  const first = await harness.sync()
  t.equal(first.status, 'succeeded')
  t.equal(first.counts.created, expected.length)
  t.same(await leadContactIds(harness.sql, harness.integration.id), expected)
  t.equal(calls(harness, listEndpoint), Math.ceil(250 / 100), 'one list call per 100 contacts')
  t.equal(calls(harness, searchEndpoint), 1, 'the first window is read right after the backfill')

  const cursor = await harness.cursor()
  t.equal(cursor.phase, 'incremental')
  t.ok(cursor.backfillStartedAt)
  t.equal(cursor.cursorValue, null)
  t.equal(cursor.windowStart, null)
  t.equal(cursor.status, 'idle')
  const expectedLastSync = harness.clock.nowMs() - harness.config.POLL_SETTLE_SECONDS * 1000
  t.ok(Math.abs(cursor.lastSyncAt!.getTime() - expectedLastSync) < 5000, 'last_sync_at is the window end')

  const changed = expected.slice(0, 3)
  for (const id of changed) harness.sim.contacts.update(id, { jobtitle: `changed ${id}` })
  harness.clock.advance(10_000)

  const second = await harness.sync()
  t.equal(second.status, 'succeeded')
  t.equal(second.counts.updated, 3)
  t.equal(second.counts.created, 0)
  t.equal(calls(harness, listEndpoint), 3, 'incremental runs never use the list endpoint')
  const titles = await harness.sql<{ job_title: string }[]>`
    select job_title from leads where hubspot_contact_id = any(${changed}::bigint[]) order by hubspot_contact_id
  `
  t.same(titles.map((row) => row.job_title), changed.map((id) => `changed ${id}`))
  t.equal(await outboxCount(harness, 'leads.imported'), expected.length, 'one leads.imported per contact')
  t.equal(await outboxCount(harness, 'leads.updated'), 3)
})

t.test('cursor persists across a restart', async (t) => {
  const harness = await createHarness(t, { contacts: 120 })
  await harness.sync()
  const before = await harness.cursor()
  harness.sim.resetRequestCounts()

  harness.clock.advance(30_000)
  const restarted = harness.service()
  const run = await harness.sync(restarted)

  t.equal(run.status, 'succeeded')
  t.equal(calls(harness, listEndpoint), 0, 'the backfill is not repeated')
  t.equal(calls(harness, searchEndpoint), 1)
  const after = await harness.cursor()
  t.equal(after.phase, 'incremental')
  t.ok(after.lastSyncAt!.getTime() > before.lastSyncAt!.getTime(), 'the window moved on')
  t.equal(run.windowStart!.getTime(), before.lastSyncAt!.getTime() - harness.config.POLL_OVERLAP_SECONDS * 1000)
})

t.test('crashed backfill resumes from its page', async (t) => {
  const harness = await createHarness(t, {
    contacts: 1200,
    env: { HUBSPOT_MAX_ATTEMPTS: '2' },
  })
  const expected = liveContactIds(harness)
  const service = harness.service()

  // After the second page, fail every list call for longer than the client retries.
  let pagesSeen = 0
  const { done } = await service.startRun(harness.integration.id, 'manual', {
    onProgress: (progress) => {
      pagesSeen = progress.pages
      if (progress.pages === 2) harness.sim.queueFaults([{ kind: 'status', status: 503, endpoint: listEndpoint, count: 2 }])
    },
  })
  const crashed = await done
  t.ok(pagesSeen >= 2)
  t.equal(crashed.status, 'failed')
  t.equal(crashed.errorCode, 'HUBSPOT_UNAVAILABLE')

  const saved = await harness.cursor()
  t.equal(saved.phase, 'backfill')
  t.equal(saved.status, 'failed')
  t.ok(saved.cursorValue, 'the resume point of the last imported page is saved')
  const importedBefore = await harness.leadCount()
  t.equal(saved.recordsSynced, importedBefore, 'the cursor counts exactly the imported pages')
  t.ok(importedBefore > 0 && importedBefore < expected.length)

  const resumed = await harness.sync(harness.service())
  t.equal(resumed.status, 'succeeded')
  t.equal(resumed.counts.created, expected.length - importedBefore, 'only the missing pages are read')
  t.equal(resumed.counts.unchanged, 0, 'no page imported before is read again')
  t.same(await leadContactIds(harness.sql, harness.integration.id), expected)
  t.equal(await outboxCount(harness, 'leads.imported'), expected.length)
  t.equal((await harness.cursor()).phase, 'incremental')
})
