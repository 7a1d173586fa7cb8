import t from 'tap'

import { getIntegration } from '../../src/db/integrations.js'
import {
  createHarness,
  leadContactIds,
  liveContactIds,
  seedIncrementalCursor,
  type Harness,
} from './runnerHarness.js'

const minute = 60_000

/** Stamps `count` contacts inside the next window and moves the clock past the settle delay. */
function touchContacts(harness: Harness, count: number): string[] {
  const ids = harness.sim.contacts.ids().slice(0, count)
  harness.sim.contacts.bulkUpdate(ids, { lifecyclestage: 'lead' })
  harness.clock.advance(10_000)
  return ids
}

t.test('SECONDLY 429 storm still completes', async (t) => {
  const harness = await createHarness(t, {
    contacts: 150,
    env: { POLL_PAGE_SIZE: '20', HUBSPOT_SEARCH_REQUESTS_PER_SECOND: '5' },
    simulator: { rateLimits: { searchPerSecond: 1 } },
  })
  await seedIncrementalCursor(harness, new Date(harness.clock.nowMs() - 10 * minute))
  const ids = touchContacts(harness, 120)

  const run = await harness.sync()
  t.equal(run.status, 'succeeded', run.error ?? '')
  t.ok(harness.sim.requestCounts().rateLimited.SECONDLY > 0, 'search answered 429 SECONDLY')
  t.ok(run.rateLimitWaits > 0, 'the run counts its rate-limit waits')
  t.same(await leadContactIds(harness.sql, harness.integration.id), ids)
})

t.test('TEN_SECONDLY_ROLLING 429 storm still completes', async (t) => {
  const harness = await createHarness(t, {
    contacts: 500,
    simulator: { rateLimits: { privateAppPer10Seconds: 3 } },
  })
  const run = await harness.sync()
  t.equal(run.status, 'succeeded', run.error ?? '')
  t.ok(run.rateLimitWaits > 0 || harness.sim.requestCounts().rateLimited.TEN_SECONDLY_ROLLING > 0)
  t.same(await leadContactIds(harness.sql, harness.integration.id), liveContactIds(harness))
})

t.test('5xx storm still completes', async (t) => {
  const harness = await createHarness(t, {
    contacts: 400,
    env: { HUBSPOT_MAX_ATTEMPTS: '10' },
    simulator: { faults: { errorRate: 0.3, errorStatuses: [500, 502, 503, 504] } },
  })
  const run = await harness.sync()
  t.equal(run.status, 'succeeded', run.error ?? '')
  const list = harness.sim.requestCounts().byEndpoint['GET /crm/v3/objects/contacts']
  t.ok(Object.keys(list.byStatus).some((status) => status.startsWith('5')), 'errors were injected')
  t.same(await leadContactIds(harness.sql, harness.integration.id), liveContactIds(harness))
})

t.test('DAILY limit stops without moving the cursor', async (t) => {
  const harness = await createHarness(t, {
    contacts: 120,
    env: { POLL_PAGE_SIZE: '20' },
    simulator: { rateLimits: { dailyLimit: 2 } },
  })
  const lastSyncAt = new Date(harness.clock.nowMs() - 10 * minute)
  await seedIncrementalCursor(harness, lastSyncAt)
  const ids = touchContacts(harness, 100)

  const limited = await harness.sync()
  t.equal(limited.status, 'rate_limited')
  t.equal(limited.errorCode, 'HUBSPOT_DAILY_LIMIT')
  t.equal(harness.sim.requestCounts().rateLimited.DAILY, 1, 'a DAILY 429 is never retried')
  const cursor = await harness.cursor()
  t.equal(cursor.status, 'rate_limited')
  t.equal(cursor.lastSyncAt!.getTime(), lastSyncAt.getTime(), 'last_sync_at did not move')
  t.equal(cursor.cursorValue, ids[39], 'the resume point is the last id of the second page')
  t.equal(cursor.windowEnd!.getTime(), limited.windowEnd!.getTime())
  t.equal(await harness.leadCount(), 40)

  harness.sim.setOptions({ rateLimits: { dailyLimit: null } })
  const resumed = await harness.sync()
  t.equal(resumed.status, 'succeeded')
  t.equal(resumed.counts.created, 60, 'the window resumes after the saved id')
  t.same(await leadContactIds(harness.sql, harness.integration.id), ids)
  const events = await harness.sql<{ subject: string }[]>`
    select subject from outbox where subject like 'hubspot.sync.%' order by id
  `
  t.same(events.map((row) => row.subject), ['hubspot.sync.failed', 'hubspot.sync.completed'])
})

t.test('OAuth access token expiring mid-run is refreshed', async (t) => {
  const harness = await createHarness(t, { contacts: 1500, authType: 'oauth' })
  const service = harness.service()
  const { done } = await service.startRun(harness.integration.id, 'manual', {
    onProgress: (progress) => {
      if (progress.pages === 2) harness.sim.oauth.expireAccessToken(harness.grant!.accessToken)
    },
  })
  const run = await done
  t.equal(run.status, 'succeeded', run.error ?? '')
  t.same(await leadContactIds(harness.sql, harness.integration.id), liveContactIds(harness))
})

t.test('revoked OAuth grant fails the run with the reason', async (t) => {
  const harness = await createHarness(t, { contacts: 1500, authType: 'oauth' })
  const service = harness.service()
  const { done } = await service.startRun(harness.integration.id, 'manual', {
    onProgress: (progress) => {
      if (progress.pages !== 2) return
      harness.sim.oauth.revokeRefreshToken(harness.grant!.refreshToken)
      harness.sim.oauth.expireAccessToken(harness.grant!.accessToken)
    },
  })
  const run = await done
  t.equal(run.status, 'failed')
  t.equal(run.errorCode, 'HUBSPOT_REAUTH_REQUIRED')
  t.match(run.error, /re-authoris/)
  t.equal((await getIntegration(harness.sql, harness.integration.id)).status, 'needs_reauth')
  t.equal((await harness.cursor()).phase, 'backfill', 'the backfill resumes once re-authorised')

  const next = await (await service.startRun(harness.integration.id, 'manual')).done
  t.equal(next.errorCode, 'HUBSPOT_REAUTH_REQUIRED')
  t.equal(next.pages, 0)
})
