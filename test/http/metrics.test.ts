import t, { type Test } from 'tap'

import { testConfig } from '../../src/config.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { findFreePort } from '../../src/freePort.js'
import { endpoints } from '../../src/hubspot/contactsApi.js'
import { createLogger } from '../../src/logger.js'
import { startService, type ServiceHandles } from '../../src/server.js'
import { startInboxWorker } from '../../src/sync/inbox.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { contactEvent, signV3 } from '../webhooks/fixtures/delivery.js'

const apiToken = 'metrics-test-admin-token-0123456789'
const clientSecret = 'metrics-test-client-secret-0123'
const notifyAction = { notify: { enabled: true, channel: 'slack', recipients: ['#new-leads'] } }

/** Every metric of the service, by Prometheus type. */
const serviceMetrics: Record<string, string> = {
  hubspot_sync_runs_total: 'counter',
  hubspot_sync_contacts_total: 'counter',
  hubspot_sync_hubspot_calls_total: 'counter',
  hubspot_sync_hubspot_rate_limited_total: 'counter',
  hubspot_sync_rate_limit_waits_total: 'counter',
  hubspot_sync_rate_limit_wait_seconds_total: 'counter',
  hubspot_sync_webhook_requests_total: 'counter',
  hubspot_sync_webhook_ack_seconds: 'histogram',
  hubspot_sync_inbox_depth: 'gauge',
  hubspot_sync_inbox_oldest_age_seconds: 'gauge',
  hubspot_sync_outbox_depth: 'gauge',
  hubspot_sync_outbox_publish_lag_seconds: 'histogram',
  hubspot_sync_lead_actions_total: 'counter',
  hubspot_sync_drift_contacts_total: 'counter',
}

async function call(handles: ServiceHandles, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${apiToken}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${handles.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return (await response.json()) as Record<string, any>
}

/** One scrape of GET /metrics: the text, and the sum of the series that match a filter. */
class Scrape {
  constructor(readonly text: string) {}

  /** Adds up every series of `name` whose labels include each of `labels` (`key="value"`). */
  sum(name: string, labels: string[] = []): number {
    let total = 0
    for (const line of this.text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
      const series = line.slice(0, line.lastIndexOf(' '))
      if (labels.every((label) => series.includes(label))) total += Number(line.slice(series.length + 1))
    }
    return total
  }
}

async function scrape(handles: ServiceHandles): Promise<Scrape> {
  const response = await fetch(`${handles.url}/metrics`)
  return new Scrape(await response.text())
}

/** Returns how much the matching series grew between two scrapes. */
function delta(before: Scrape, after: Scrape, name: string, labels: string[] = []): number {
  return after.sum(name, labels) - before.sum(name, labels)
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadlineMs = Date.now() + timeoutMs
  while (Date.now() < deadlineMs) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`)
}

async function startWithSimulator(t: Test, simulator: Simulator) {
  const { url, sql } = await createTestDatabase(t)
  const port = await findFreePort()
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/hubspot`
  const config = testConfig({
    PORT: String(port),
    DATABASE_URL: url,
    ENCRYPTION_KEY: 'e5'.repeat(32),
    API_TOKEN: apiToken,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    HUBSPOT_API_URL: simulator.url,
    HUBSPOT_CLIENT_SECRET: clientSecret,
    HUBSPOT_SEARCH_REQUESTS_PER_SECOND: '5',
    WEBHOOK_PUBLIC_URL: webhookUrl,
    SCHEDULER_ENABLED: 'false',
    POLL_SETTLE_SECONDS: '0',
    // Small search pages make the poll send many searches in a row, so a one-per-second
    // HubSpot limit rejects some of them however slowly this machine runs.
    POLL_PAGE_SIZE: '10',
    // Both queues fill while their workers are off, so the gauges show a depth. The test
    // starts the workers itself once it has read them.
    OUTBOX_RELAY_ENABLED: 'false',
    INBOX_WORKER_ENABLED: 'false',
  })
  const logger = createLogger('silent')
  const handles = await startService(config, { logger })
  t.teardown(() => handles.stop())
  return { handles, sql, webhookUrl, config, logger }
}

async function postWebhook(handles: ServiceHandles, body: string, headers: Record<string, string>) {
  const response = await fetch(`${handles.url}/webhooks/hubspot`, { method: 'POST', headers, body })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

t.test('GET /metrics counts runs, calls, webhooks, queues and actions as they happen', async (t) => {
  const simulator = await startSimulator({ contacts: 150, seed: 5 })
  t.teardown(() => simulator.close())
  const { handles, sql, webhookUrl, config, logger } = await startWithSimulator(t, simulator)
  t.ok(await handles.nats.waitUntilConnected(5000), 'NATS connected')

  const start = await scrape(handles)
  for (const [name, type] of Object.entries(serviceMetrics)) {
    t.ok(start.text.includes(`# TYPE ${name} ${type}\n`), `${name} is exposed as a ${type}`)
  }
  t.ok(start.sum('process_resident_memory_bytes') > 0, 'process defaults')
  t.ok(start.sum('nodejs_heap_size_used_bytes') > 0, 'Node.js defaults')

  const created = await call(handles, 'POST', '/integrations', {
    portalId: simulator.portalId,
    accessToken: simulator.privateAppToken,
  })
  const integrationId = created.id as number
  await call(handles, 'PATCH', `/integrations/${integrationId}`, { actions: notifyAction })

  t.test('backfill', async (t) => {
    const before = await scrape(handles)
    const run = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
    t.equal(run.status, 'succeeded', 'backfill succeeded')
    const after = await scrape(handles)

    const runLabels = ['kind="contacts"', 'trigger="manual"', 'outcome="succeeded"']
    t.equal(delta(before, after, 'hubspot_sync_runs_total', runLabels), 1, 'one succeeded manual run')
    const backfilled = ['origin="backfill"', 'outcome="created"']
    t.equal(delta(before, after, 'hubspot_sync_contacts_total', backfilled), 150, 'contacts created by backfill')
    const listCalls = [`endpoint="${endpoints.list}"`, 'status="200"']
    t.ok(delta(before, after, 'hubspot_sync_hubspot_calls_total', listCalls) >= 1, 'list calls by endpoint and status')
  })

  t.test('drift check', async (t) => {
    // One contact HubSpot has and the service never saw, one it archived without a webhook.
    simulator.contacts.create({ email: 'metrics-drift@example.com', firstname: 'Drift' })
    simulator.contacts.archive(simulator.contacts.all()[0].id)
    const before = await scrape(handles)
    const run = await call(handles, 'POST', `/sync/${integrationId}?kind=drift&wait=true`)
    t.equal(run.status, 'succeeded', 'drift check succeeded')
    const after = await scrape(handles)

    const runLabels = ['kind="drift"', 'trigger="manual"', 'outcome="succeeded"']
    t.equal(delta(before, after, 'hubspot_sync_runs_total', runLabels), 1, 'the drift run counted under its kind')
    const drift = (kind: string) => delta(before, after, 'hubspot_sync_drift_contacts_total', [`kind="${kind}"`])
    t.equal(drift('missing_locally'), 1, 'the contact missing locally')
    t.equal(drift('missing_in_hubspot'), 1, 'the lead missing in HubSpot')
  })

  t.test('run of a paused integration', async (t) => {
    await call(handles, 'PATCH', `/integrations/${integrationId}`, { status: 'paused' })
    const before = await scrape(handles)
    const run = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
    t.equal(run.status, 'failed', 'the run failed')
    const after = await scrape(handles)
    await call(handles, 'PATCH', `/integrations/${integrationId}`, { status: 'active' })

    const failed = ['kind="contacts"', 'trigger="manual"', 'outcome="failed"']
    t.equal(delta(before, after, 'hubspot_sync_runs_total', failed), 1, 'one failed run')
  })

  t.test('poll through a 429', async (t) => {
    // HubSpot allows one search a second here while the client sends up to five, so some of
    // the poll's pages of 10 receive a 429 and the client waits for the budget.
    simulator.setOptions({
      rateLimits: { enabled: true, searchPerSecond: 1, dailyLimit: null, retryAfterSeconds: 1 },
    })
    for (const contact of simulator.contacts.all().slice(1, 121)) {
      simulator.contacts.update(contact.id, { jobtitle: 'Buyer' })
    }
    const before = await scrape(handles)
    const run = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
    simulator.setOptions({ rateLimits: { enabled: false } })
    t.equal(run.status, 'succeeded', 'poll succeeded')
    const after = await scrape(handles)

    const updated = ['origin="poll"', 'outcome="updated"']
    t.equal(delta(before, after, 'hubspot_sync_contacts_total', updated), 120, 'contacts updated by the poll')
    const limited = [`endpoint="${endpoints.search}"`, 'status="429"']
    t.ok(delta(before, after, 'hubspot_sync_hubspot_calls_total', limited) >= 1, 'the 429 search call')
    const policy = ['policy="SECONDLY"']
    t.ok(delta(before, after, 'hubspot_sync_hubspot_rate_limited_total', policy) >= 1, '429s by policy')
    const search = ['bucket="search"']
    t.ok(delta(before, after, 'hubspot_sync_rate_limit_waits_total', search) >= 1, 'budget waits')
    t.ok(delta(before, after, 'hubspot_sync_rate_limit_wait_seconds_total', search) > 0, 'seconds waited')
  })

  t.test('poll of unchanged contacts', async (t) => {
    const before = await scrape(handles)
    const run = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
    t.equal(run.status, 'succeeded', 'poll succeeded')
    const after = await scrape(handles)

    // The window reaches back POLL_OVERLAP_SECONDS, so it reads the 120 updates again.
    const contacts = (outcome: string) =>
      delta(before, after, 'hubspot_sync_contacts_total', ['origin="poll"', `outcome="${outcome}"`])
    t.ok(contacts('unchanged') >= 120, 'contacts read again without a change')
    t.equal(contacts('updated'), 0, 'nothing updated')
    t.equal(contacts('created'), 0, 'nothing created')
  })

  t.test('webhook deliveries', async (t) => {
    const contact = simulator.contacts.create({ email: 'metrics-webhook@example.com', firstname: 'Hook' })
    const body = JSON.stringify([contactEvent(simulator.portalId, 'creation', Number(contact.id))])
    const sign = (payload: string) => signV3({ body: payload, secret: clientSecret, signedUri: webhookUrl })
    const before = await scrape(handles)

    const forged = await postWebhook(handles, body, signV3({ body, secret: 'wrong-secret', signedUri: webhookUrl }))
    t.equal(forged.status, 401, 'forged signature rejected')
    const notArray = await postWebhook(handles, '{}', sign('{}'))
    t.equal(notArray.status, 400, 'signed body that is not an array rejected')
    const accepted = await postWebhook(handles, body, sign(body))
    t.same(accepted, { status: 200, body: { received: 1, stored: 1 } }, 'signed delivery stored')
    const after = await scrape(handles)

    const requests = (outcome: string) =>
      delta(before, after, 'hubspot_sync_webhook_requests_total', [`outcome="${outcome}"`])
    t.equal(requests('invalid_signature'), 1, 'invalid signature counted')
    t.equal(requests('invalid_body'), 1, 'invalid body counted')
    t.equal(requests('accepted'), 1, 'accepted delivery counted')
    t.equal(delta(before, after, 'hubspot_sync_webhook_ack_seconds_count'), 3, 'every answer timed')
    const slowest = ['le="+Inf"']
    t.equal(delta(before, after, 'hubspot_sync_webhook_ack_seconds_bucket', slowest), 3, 'histogram buckets')
    t.ok(delta(before, after, 'hubspot_sync_webhook_ack_seconds_sum') > 0, 'seconds observed')

    t.ok(after.sum('hubspot_sync_inbox_depth') >= 1, 'inbox depth counts the pending delivery')
    t.ok(after.sum('hubspot_sync_inbox_oldest_age_seconds') > 0, 'age of the oldest inbox event')
    t.ok(after.sum('hubspot_sync_outbox_depth') > 0, 'outbox depth counts unpublished events')
  })

  t.test('inbox worker', async (t) => {
    const before = await scrape(handles)
    const inbox = startInboxWorker({ sql, clients: handles.clients, logger, config })
    t.teardown(() => inbox.stop())
    await inbox.drain()
    const after = await scrape(handles)

    const fromWebhook = ['origin="webhook"', 'outcome="created"']
    t.equal(delta(before, after, 'hubspot_sync_contacts_total', fromWebhook), 1, 'contact created from the webhook')
    const batchReads = [`endpoint="${endpoints.batchRead}"`, 'status="200"']
    t.ok(delta(before, after, 'hubspot_sync_hubspot_calls_total', batchReads) >= 1, 'batch read counted')
    t.equal(after.sum('hubspot_sync_inbox_depth'), 0, 'inbox drained')
    t.equal(after.sum('hubspot_sync_inbox_oldest_age_seconds'), 0, 'no oldest event left')
  })

  t.test('outbox relay and actions', async (t) => {
    const before = await scrape(handles)
    const relay = startOutboxRelay({ sql, nats: handles.nats, logger })
    t.teardown(() => relay.stop())
    await relay.flush()
    // Each new lead's notify action queues one more event, which the relay then publishes.
    let after = before
    await waitFor('actions run and their events published', 30_000, async () => {
      after = await scrape(handles)
      const actions = delta(before, after, 'hubspot_sync_lead_actions_total')
      return actions > 0 && after.sum('hubspot_sync_outbox_depth') === 0
    })

    const notified = ['action="notify"', 'outcome="done"']
    t.ok(delta(before, after, 'hubspot_sync_lead_actions_total', notified) >= 1, 'action outcomes')
    t.ok(delta(before, after, 'hubspot_sync_outbox_publish_lag_seconds_count') > 0, 'publish lag observed')
    t.equal(after.sum('hubspot_sync_outbox_depth'), 0, 'outbox drained')
  })
})
