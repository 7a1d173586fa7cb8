import t from 'tap'

import { startSimulator } from '../../src/simulator/server.js'
import type { FaultRule } from '../helpers/hubspotFaultProxy.js'
import {
  assertComplete,
  countStale,
  listCall,
  listPageSize,
  runSync,
  searchCall,
  startHarness,
  startWindowHarness,
} from './hubspotHarness.js'
import { countLeads, cursorOf, outboxBySubject } from './support.js'

const contacts = 500
const always = Infinity

interface FailedCase {
  name: string
  fault: FaultRule['fault']
  status: string
  errorCode: string
}

const failing: FailedCase[] = [
  { name: '429 DAILY', fault: { kind: 'rateLimit', policy: 'DAILY' }, status: 'rate_limited', errorCode: 'HUBSPOT_DAILY_LIMIT' },
  { name: '5xx past the attempt limit', fault: { kind: 'status', status: 503 }, status: 'failed', errorCode: 'HUBSPOT_UNAVAILABLE' },
  { name: 'truncated JSON body', fault: { kind: 'truncate' }, status: 'failed', errorCode: 'HUBSPOT_BAD_RESPONSE' },
  { name: 'invalid JSON body', fault: { kind: 'body', status: 200, text: '{"results": [' }, status: 'failed', errorCode: 'HUBSPOT_BAD_RESPONSE' },
  {
    name: '200 with an unexpected shape',
    fault: { kind: 'body', status: 200, text: '{"results":"none","paging":7}' },
    status: 'failed',
    errorCode: 'HUBSPOT_BAD_RESPONSE',
  },
]

t.test('HubSpot faults that end a backfill keep whole pages and the cursor', async (t) => {
  const sim = await startSimulator({ contacts, seed: 32 })
  t.teardown(() => sim.close())
  for (const scenario of failing) {
    await t.test(scenario.name, async (t) => {
      const harness = await startHarness(t, sim)
      // Two pages pass, then the fault holds for the rest of the run.
      harness.proxy.setRules([{ match: listCall, skip: 2, count: always, fault: scenario.fault }])
      const run = await runSync(harness)
      t.equal(run.status, scenario.status, 'the run ends with the expected status')
      t.equal(run.errorCode, scenario.errorCode, 'the run names the reason')
      t.ok(run.error, `the run carries a message (${run.error})`)

      const leads = await countLeads(harness.sql)
      t.equal(leads, 2 * listPageSize, 'the two pages before the fault are written, nothing of the third')
      t.equal(run.counts.created, leads, 'the run counts what was written')
      const cursor = await cursorOf(harness.sql)
      t.equal(cursor.phase, 'backfill', 'the cursor stays in the backfill')
      t.ok(cursor.cursor_value, 'the resume point is kept')
      t.equal(cursor.status, scenario.status, 'the cursor shows how the run ended')

      harness.proxy.setRules([])
      const next = await runSync(harness)
      t.equal(next.status, 'succeeded', 'the next run succeeds')
      t.equal(next.counts.created, contacts - leads, 'the next run resumes where the last stopped')
      t.same(await outboxBySubject(harness.sql, 'leads.imported'), { rows: contacts, leads: contacts }, 'one leads.imported per lead')
      await assertComplete(t, harness)
    })
  }
})

t.test('HubSpot faults that end a window keep the saved page', async (t) => {
  const sim = await startSimulator({ contacts, seed: 35 })
  t.teardown(() => sim.close())
  for (const [index, scenario] of failing.entries()) {
    await t.test(scenario.name, async (t) => {
      const title = `Failed Window ${index}`
      const harness = await startWindowHarness(t, sim, title, { POLL_PAGE_SIZE: '100' })
      harness.proxy.setRules([{ match: searchCall, skip: 2, count: always, fault: scenario.fault }])
      const run = await runSync(harness)
      t.equal(run.status, scenario.status, 'the run ends with the expected status')
      t.equal(run.errorCode, scenario.errorCode, 'the run names the reason')
      const stale = await countStale(harness.sql, title)
      t.equal(stale, contacts - 200, 'the two pages before the fault are written, nothing of the third')
      const cursor = await cursorOf(harness.sql)
      t.ok(cursor.window_start, 'the window stays open')
      t.ok(cursor.cursor_value && cursor.cursor_value !== '0', 'the resume point inside the window is kept')

      harness.proxy.setRules([])
      const next = await runSync(harness)
      t.equal(next.status, 'succeeded', 'the next run succeeds')
      t.equal(next.counts.updated, stale, 'the next run reads only what was left')
      t.equal(await countStale(harness.sql, title), 0, 'every change arrived')
      t.same(await outboxBySubject(harness.sql, 'leads.updated'), { rows: contacts, leads: contacts }, 'one leads.updated per lead')
      await assertComplete(t, harness)
    })
  }
})
