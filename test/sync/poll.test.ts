import t from 'tap'

import type { ContactPage, HubSpotContact } from '../../src/hubspot/types.js'
import { buildWindowSearch, nextWindow, selectWindowPage } from '../../src/sync/poll.js'
import {
  createHarness,
  endpointCalls,
  leadContactIds,
  searchEndpoint,
  seedIncrementalCursor,
} from './runnerHarness.js'

const minute = 60_000
const config = { POLL_OVERLAP_SECONDS: 300, POLL_SETTLE_SECONDS: 120 }

function contactAt(id: number, modifiedMs: number): HubSpotContact {
  const iso = new Date(modifiedMs).toISOString()
  return {
    id: String(id),
    properties: { hs_object_id: String(id), lastmodifieddate: iso },
    createdAt: iso,
    updatedAt: iso,
  }
}

function page(contacts: HubSpotContact[], nextAfter: string | null = null): ContactPage {
  return { contacts, invalid: [], nextAfter }
}

t.test('window bounds', async (t) => {
  const now = new Date('2026-03-01T12:00:00.000Z')
  const lastSyncAt = new Date('2026-03-01T11:45:00.000Z')
  const window = nextWindow({ lastSyncAt }, now, config)
  t.same(window, {
    start: new Date('2026-03-01T11:40:00.000Z'),
    end: new Date('2026-03-01T11:58:00.000Z'),
  })
  t.equal(nextWindow({ lastSyncAt: new Date('2026-03-01T12:06:00.000Z') }, now, config), null, 'empty window')
})

t.test('window search body', async (t) => {
  const window = { start: new Date(1_700_000_000_000), end: new Date(1_700_000_600_000) }
  const body = buildWindowSearch(window, '2147483749', 200)
  t.same(body.filterGroups, [
    {
      filters: [
        { propertyName: 'lastmodifieddate', operator: 'GTE', value: '1700000000000' },
        { propertyName: 'lastmodifieddate', operator: 'LT', value: '1700000600000' },
        { propertyName: 'hs_object_id', operator: 'GT', value: '2147483749' },
      ],
    },
  ])
  t.same(body.sorts, [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }])
  t.equal(body.limit, 200)
  t.notOk('after' in body, 'never pages by offset')
  t.ok(JSON.stringify(body).length < 3000, 'stays under the 3,000-character body limit')
})

t.test('page selection with shuffled and stray rows', async (t) => {
  const window = { start: new Date(10 * minute), end: new Date(20 * minute) }
  const inside = 15 * minute
  const rows = [
    contactAt(105, inside),
    contactAt(101, inside),
    contactAt(999, 30 * minute), // stray after the window, highest id
    contactAt(103, inside),
    contactAt(90, inside), // at or below the resume point
    contactAt(102, 5 * minute), // before the window
  ]
  const selection = selectWindowPage(page(rows, '6'), window, '100', 6)
  t.same(selection.contacts.map((contact) => contact.id), ['105', '101', '103'])
  t.equal(selection.lastContactId, '105', 'largest in-window id, not the last row')
  t.equal(selection.outOfWindow, 3)
  t.equal(selection.isLastPage, false)

  const last = selectWindowPage(page(rows.slice(0, 2)), window, '100', 6)
  t.equal(last.isLastPage, true, 'a short page without paging.next ends the window')

  const full = selectWindowPage(page([contactAt(101, inside), contactAt(102, inside)]), window, '100', 2)
  t.equal(full.isLastPage, false, 'a full page is followed by one more query')

  const stale = selectWindowPage(page([contactAt(150, 30 * minute)], '1'), window, '100', 1)
  t.equal(stale.lastContactId, '150', 'a page of only stale rows still advances')
  t.same(stale.contacts, [])

  const stuck = selectWindowPage(page([contactAt(90, inside)], '1'), window, '100', 1)
  t.equal(stuck.isLastPage, true, 'a page without any id above the resume point ends the window')
})

t.test('idle poll costs one HubSpot call', async (t) => {
  const harness = await createHarness(t, { contacts: 50 })
  await seedIncrementalCursor(harness, new Date(harness.clock.nowMs() - 10 * minute))

  const run = await harness.sync()
  t.equal(run.status, 'succeeded')
  t.equal(run.hubspotCalls, 1)
  t.equal(endpointCalls(harness, searchEndpoint), 1)
  t.equal(harness.sim.requestCounts().total, 1)
  t.same(run.counts, { created: 0, updated: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0 })
})

t.test('more than 10,000 contacts in one millisecond', async (t) => {
  const count = 10_250
  const harness = await createHarness(t, {
    contacts: count,
    env: { HUBSPOT_SEARCH_REQUESTS_PER_SECOND: '5' },
  })
  await seedIncrementalCursor(harness, new Date(harness.clock.nowMs() - 10 * minute))
  const ids = harness.sim.contacts.ids()
  const stamp = harness.sim.contacts.bulkUpdate(ids, { lifecyclestage: 'customer' })
  harness.clock.advance(10_000)

  const run = await harness.sync()
  t.equal(run.status, 'succeeded', run.error ?? '')
  t.equal(run.counts.created, harness.sim.contacts.all().filter((c) => !c.archived).length)
  const searches = harness.sim.requestCounts().byEndpoint[searchEndpoint]?.byStatus ?? {}
  t.equal(searches['200'], Math.ceil(count / 200) + (count % 200 === 0 ? 1 : 0), 'one search per 200 contacts')
  t.equal(searches['400'], undefined, 'never hits the cap')

  const cursor = await harness.cursor()
  t.equal(cursor.cursorValue, null)
  t.equal(cursor.windowEnd, null)
  t.equal(cursor.lastSyncAt!.getTime(), run.windowEnd!.getTime())
  t.ok(run.windowStart!.getTime() <= Date.parse(stamp) && Date.parse(stamp) < run.windowEnd!.getTime())
})

t.test('late-indexed write is read by the next window', async (t) => {
  const harness = await createHarness(t, { contacts: 20, simulator: { search: { indexLagMs: 20_000 } } })
  await seedIncrementalCursor(harness, new Date(harness.clock.nowMs() - 10 * minute))
  const late = harness.sim.contacts.create({ email: 'late@example.com', firstname: 'Late' })
  harness.clock.advance(10_000)

  const first = await harness.sync()
  t.equal(first.status, 'succeeded')
  t.equal(first.counts.created, 0, 'search does not have the write yet')
  t.ok(first.windowEnd!.getTime() > Date.parse(late.updatedAt), 'the write is inside the first window')

  harness.clock.advance(30_000)
  const second = await harness.sync()
  t.equal(second.counts.created, 1, 'the overlap re-reads the first window')
  t.same(await leadContactIds(harness.sql, harness.integration.id), [late.id])
})

t.test('shuffled ties and stray rows', async (t) => {
  const harness = await createHarness(t, {
    contacts: 400,
    env: { POLL_PAGE_SIZE: '25', HUBSPOT_SEARCH_REQUESTS_PER_SECOND: '5' },
    simulator: { search: { tieOrder: 'random', outOfRangeRate: 0.5 } },
  })
  await seedIncrementalCursor(harness, new Date(harness.clock.nowMs() - 10 * minute))
  const ids = harness.sim.contacts.ids().slice(0, 300)
  harness.sim.contacts.bulkUpdate(ids.slice(0, 150), { lifecyclestage: 'lead' })
  harness.clock.advance(1)
  harness.sim.contacts.bulkUpdate(ids.slice(150), { lifecyclestage: 'opportunity' })
  harness.clock.advance(10_000)

  const run = await harness.sync()
  t.equal(run.status, 'succeeded')
  const live = new Set(harness.sim.contacts.all().filter((c) => !c.archived).map((c) => c.id))
  t.same(await leadContactIds(harness.sql, harness.integration.id), ids.filter((id) => live.has(id)))
  t.ok(Number(run.details.outOfWindow) > 0, 'stray rows were dropped and counted')
})

t.test('rerun over unchanged data writes nothing', async (t) => {
  const harness = await createHarness(t, { contacts: 60 })
  await seedIncrementalCursor(harness, new Date(harness.clock.nowMs() - 10 * minute))
  harness.sim.contacts.bulkUpdate(harness.sim.contacts.ids(), { lifecyclestage: 'lead' })
  harness.clock.advance(10_000)
  const first = await harness.sync()
  const outboxBefore = await harness.sql`select id from outbox where subject like 'leads.%'`

  harness.clock.advance(20_000)
  const second = await harness.sync()
  t.equal(second.status, 'succeeded')
  t.equal(second.counts.unchanged, first.counts.created, 'the overlap re-reads every contact')
  t.equal(second.counts.created + second.counts.updated, 0)
  const outboxAfter = await harness.sql`select id from outbox where subject like 'leads.%'`
  t.equal(outboxAfter.length, outboxBefore.length, 'no lead event for unchanged contacts')
})
