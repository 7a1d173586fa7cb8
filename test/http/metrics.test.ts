import { createServer } from 'node:net'

import t from 'tap'

import { testConfig } from '../../src/config.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { createLogger } from '../../src/logger.js'
import { startService, type ServiceHandles } from '../../src/server.js'
import { startInboxWorker } from '../../src/sync/inbox.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'

const apiToken = 'metrics-test-admin-token-0123456789'
const clientSecret = 'metrics-test-client-secret-0123'
const notifyAction = { notify: { enabled: true, channel: 'slack', recipients: ['#new-leads'] } }

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
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

async function scrape(handles: ServiceHandles): Promise<string> {
  const response = await fetch(`${handles.url}/metrics`)
  return response.text()
}

/** The value of one series, e.g. `name{label="x"}`; null when the series is absent. */
function valueOf(text: string, series: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return null
}

/** Adds up every series of a metric whose labels contain all of `labels`. */
function sumOf(text: string, name: string, labels: string[] = []): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (labels.every((label) => line.includes(label))) sum += Number(line.split(' ').pop())
  }
  return sum
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadlineMs = Date.now() + timeoutMs
  while (Date.now() < deadlineMs) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`)
}

async function startWithSimulator(t: Tap.Test, simulator: Simulator) {
  const { url, sql } = await createTestDatabase(t)
  const port = await freePort()
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

t.test('GET /metrics reports runs, calls, webhooks, queues and actions', async (t) => {
  const simulator = await startSimulator({ contacts: 150, seed: 5 })
  t.teardown(() => simulator.close())
  const { handles, sql, webhookUrl, config, logger } = await startWithSimulator(t, simulator)
  t.ok(await handles.nats.waitUntilConnected(5000), 'NATS connected')

  const created = await call(handles, 'POST', '/integrations', {
    portalId: simulator.portalId,
    accessToken: simulator.privateAppToken,
  })
  const integrationId = created.id as number
  await call(handles, 'PATCH', `/integrations/${integrationId}`, { actions: notifyAction })
  const backfill = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(backfill.status, 'succeeded', 'backfill succeeded')

  // A contact archived in HubSpot without a webhook is drift the check finds.
  simulator.contacts.archive(simulator.contacts.all()[0].id)
  const drift = await call(handles, 'POST', `/sync/${integrationId}?kind=drift&wait=true`)
  t.equal(drift.status, 'succeeded', 'drift check succeeded')

  // HubSpot allows one search a second here while the client sends up to five, so the poll's
  // second search page receives a 429 and waits for the budget.
  simulator.setOptions({
    rateLimits: { enabled: true, searchPerSecond: 1, dailyLimit: null, retryAfterSeconds: 1 },
  })
  for (const contact of simulator.contacts.all().slice(1, 121)) {
    simulator.contacts.update(contact.id, { jobtitle: 'Buyer' })
  }
  const poll = await call(handles, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(poll.status, 'succeeded', 'poll succeeded')
  simulator.setOptions({ rateLimits: { enabled: false } })

  simulator.webhooks.configure({ targetUrl: webhookUrl, clientSecret, retryTimeScale: 0.0001 })
  simulator.contacts.create({ email: 'metrics-webhook@example.com', firstname: 'Hook' })
  await simulator.webhooks.flush()

  const queued = await scrape(handles)
  t.ok(sumOf(queued, 'hubspot_sync_inbox_depth') > 0, 'inbox depth counts the pending delivery')
  t.ok(sumOf(queued, 'hubspot_sync_inbox_oldest_age_seconds') > 0, 'age of the oldest event')
  t.ok(sumOf(queued, 'hubspot_sync_outbox_depth') > 0, 'outbox depth counts unpublished events')

  const inbox = startInboxWorker({ sql, clients: handles.clients, logger, config })
  t.teardown(() => inbox.stop())
  await inbox.drain()
  const relay = startOutboxRelay({ sql, nats: handles.nats, logger })
  t.teardown(() => relay.stop())
  await relay.flush()
  // Each new lead's notify action queues one more event, which the relay then publishes.
  await waitFor('actions run and their events published', 30_000, async () => {
    const text = await scrape(handles)
    const actions = sumOf(text, 'hubspot_sync_lead_actions_total')
    return actions > 0 && sumOf(text, 'hubspot_sync_outbox_depth') === 0
  })

  const text = await scrape(handles)
  const runs = (labels: string) => sumOf(text, 'hubspot_sync_runs_total', [labels])
  t.ok(runs('trigger="manual",outcome="succeeded"') >= 3, 'finished runs by trigger and outcome')
  t.ok(runs('kind="drift"') >= 1, 'the drift run is counted under its kind')

  const contacts = (origin: string, outcome: string) =>
    sumOf(text, 'hubspot_sync_contacts_total', [`origin="${origin}"`, `outcome="${outcome}"`])
  t.equal(contacts('backfill', 'created'), 150, 'contacts created by the backfill')
  t.ok(contacts('poll', 'updated') >= 120, 'contacts updated by the poll')
  t.ok(contacts('webhook', 'created') >= 1, 'contacts created from a webhook')

  const listCalls = 'hubspot_sync_hubspot_calls_total{endpoint="GET /crm/v3/objects/contacts",status="200"}'
  t.ok((valueOf(text, listCalls) ?? 0) >= 2, 'list calls by endpoint and status')
  t.ok(sumOf(text, 'hubspot_sync_hubspot_calls_total', ['status="429"']) >= 1, 'the 429 call')
  t.ok(sumOf(text, 'hubspot_sync_hubspot_rate_limited_total', ['policy="SECONDLY"']) >= 1, '429s by policy')
  t.ok(sumOf(text, 'hubspot_sync_rate_limit_wait_seconds_total', ['bucket="search"']) > 0, 'budget waits')

  t.ok(sumOf(text, 'hubspot_sync_webhook_requests_total', ['outcome="accepted"']) >= 1, 'webhook requests')
  t.ok(sumOf(text, 'hubspot_sync_webhook_ack_seconds_count') >= 1, 'acknowledgement latency observed')
  t.equal(sumOf(text, 'hubspot_sync_inbox_depth'), 0, 'inbox drained')
  t.equal(sumOf(text, 'hubspot_sync_outbox_depth'), 0, 'outbox drained')
  t.ok(sumOf(text, 'hubspot_sync_outbox_publish_lag_seconds_count') > 0, 'publish lag observed')
  t.ok(sumOf(text, 'hubspot_sync_lead_actions_total', ['action="notify"']) >= 1, 'action outcomes')
  t.ok(sumOf(text, 'hubspot_sync_drift_contacts_total', ['kind="missing_in_hubspot"']) >= 1, 'drift found')

  t.ok((valueOf(text, 'process_resident_memory_bytes') ?? 0) > 0, 'process defaults')
  t.ok(sumOf(text, 'nodejs_heap_size_used_bytes') > 0, 'Node.js defaults')
})
