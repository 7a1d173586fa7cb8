import t from 'tap'

import { startSimulator } from '../../src/simulator/server.js'
import { clientSecret, postSignedWebhook } from '../helpers/service.js'
import { contactEvent, publicUrl } from '../webhooks/fixtures/delivery.js'
import type { FaultRule } from '../helpers/hubspotFaultProxy.js'
import {
  assertComplete,
  batchReadCall,
  countStale,
  listCall,
  runSync,
  searchCall,
  startHarness,
  startWindowHarness,
} from './hubspotHarness.js'
import { assertLeadsOnce, outboxBySubject, waitForInboxDone } from './support.js'

const contacts = 300
const always = Infinity

interface Case {
  name: string
  rules: FaultRule[]
}

// A TEN_SECONDLY_ROLLING 429 with HubSpot's budget headers reports the 10-second budget used
// up, so each one costs a wait of up to 10 seconds. The storms send the policy with a
// Retry-After of 1 second and no budget headers, so a 429 on every other call stays cheap.
const tenSecondly = { kind: 'rateLimit', policy: 'TEN_SECONDLY_ROLLING' } as const
const tenSecondlyStorm = { ...tenSecondly, retryAfterSeconds: 1, budgetHeaders: false } as const

const backfillCases: Case[] = [
  { name: '429 SECONDLY storm on search', rules: [{ match: searchCall, fault: { kind: 'rateLimit', policy: 'SECONDLY' }, count: 3 }] },
  { name: '429 TEN_SECONDLY_ROLLING on a list call', rules: [{ match: listCall, skip: 1, fault: tenSecondly }] },
  { name: '429 TEN_SECONDLY_ROLLING on every other list call', rules: [{ match: listCall, count: always, every: 2, fault: tenSecondlyStorm }] },
  {
    name: '429 without policy and with Retry-After',
    rules: [{ match: listCall, skip: 1, count: 2, fault: { kind: 'rateLimit', policy: null, retryAfterSeconds: 1 } }],
  },
  {
    name: '5xx burst',
    rules: [
      { match: listCall, skip: 1, count: 1, fault: { kind: 'status', status: 500 } },
      { match: listCall, count: 2, fault: { kind: 'status', status: 502 } },
      { match: searchCall, count: 1, fault: { kind: 'status', status: 503 } },
      { match: searchCall, count: 1, fault: { kind: 'status', status: 504 } },
    ],
  },
  { name: '5xx on every other list call', rules: [{ match: listCall, count: always, every: 2, fault: { kind: 'status', status: 503 } }] },
  { name: 'a silent HubSpot on every third call', rules: [{ match: listCall, count: always, every: 3, fault: { kind: 'hang', delayMs: 2_000 } }] },
  { name: 'connection resets on every other call', rules: [{ match: listCall, count: always, every: 2, fault: { kind: 'reset' } }] },
]

t.test('transient HubSpot faults during a backfill end in a clean run', async (t) => {
  const sim = await startSimulator({ contacts, seed: 31 })
  t.teardown(() => sim.close())
  for (const scenario of backfillCases) {
    await t.test(scenario.name, async (t) => {
      const harness = await startHarness(t, sim)
      harness.proxy.setRules(scenario.rules)
      const run = await runSync(harness)
      t.equal(run.status, 'succeeded', `the run succeeds (${run.errorCode ?? 'no error'})`)
      const applied = Object.values(harness.proxy.applied()).reduce((sum, n) => sum + n, 0)
      t.ok(applied > 0, `the faults were applied (${applied})`)
      t.equal(run.counts.created, contacts, 'the run counts every lead')
      t.same(await outboxBySubject(harness.sql, 'leads.imported'), { rows: contacts, leads: contacts }, 'one leads.imported per lead')
      await assertComplete(t, harness)
    })
  }
})

const windowCases: Case[] = [
  { name: '429 SECONDLY on every other search', rules: [{ match: searchCall, count: always, every: 2, fault: { kind: 'rateLimit', policy: 'SECONDLY' } }] },
  {
    name: 'a mix of 5xx, resets and silence on search',
    rules: [
      { match: searchCall, count: always, every: 6, fault: { kind: 'status', status: 502 } },
      { match: searchCall, count: always, every: 5, fault: { kind: 'reset' } },
      { match: searchCall, count: always, every: 4, fault: { kind: 'hang', delayMs: 2_000 } },
    ],
  },
]

t.test('transient HubSpot faults during a window end in a clean run', async (t) => {
  const sim = await startSimulator({ contacts, seed: 33 })
  t.teardown(() => sim.close())
  for (const [index, scenario] of windowCases.entries()) {
    await t.test(scenario.name, async (t) => {
      const title = `Window Case ${index}`
      const harness = await startWindowHarness(t, sim, title, { POLL_PAGE_SIZE: '50' })
      harness.proxy.setRules(scenario.rules)
      const run = await runSync(harness)
      t.equal(run.status, 'succeeded', `the run succeeds (${run.errorCode ?? 'no error'})`)
      t.ok(Object.keys(harness.proxy.applied()).length > 0, 'the faults were applied')
      t.equal(await countStale(harness.sql, title), 0, 'every change arrived')
      t.same(await outboxBySubject(harness.sql, 'leads.updated'), { rows: contacts, leads: contacts }, 'one leads.updated per lead')
      await assertComplete(t, harness)
    })
  }
})

t.test('webhook events are applied once through a HubSpot storm', async (t) => {
  const sim = await startSimulator({ contacts: 0, seed: 34 })
  t.teardown(() => sim.close())
  const harness = await startHarness(t, sim, { HUBSPOT_CLIENT_SECRET: clientSecret, WEBHOOK_PUBLIC_URL: publicUrl })
  harness.proxy.setRules([
    { match: batchReadCall, count: always, every: 4, fault: tenSecondlyStorm },
    { match: batchReadCall, count: always, every: 3, fault: { kind: 'status', status: 503 } },
  ])

  const ids = Array.from({ length: 120 }, (_, i) => Number(sim.contacts.create({ email: `storm-${i}@example.com` }).id))
  for (let start = 0; start < ids.length; start += 10) {
    const events = ids.slice(start, start + 10).map((id) => contactEvent(sim.portalId, 'creation', id, { changeFlag: 'CREATED' }))
    const response = await postSignedWebhook(`${harness.service.url}/webhooks/hubspot`, publicUrl, JSON.stringify(events))
    t.equal(response.status, 200, `batch ${start / 10} stored`)
  }
  await waitForInboxDone(harness.sql)

  const applied = harness.proxy.applied()
  t.ok((applied.rateLimit ?? 0) > 0 && (applied.status ?? 0) > 0, `429s and 5xx were applied (${JSON.stringify(applied)})`)
  await assertLeadsOnce(t, harness.sql, ids)
  t.same(await outboxBySubject(harness.sql, 'leads.imported'), { rows: ids.length, leads: ids.length }, 'one leads.imported per lead')
})
