import { Writable } from 'node:stream'

import t, { type Test } from 'tap'

import { findStoredCredentials } from '../../src/db/credentials.js'
import { computeSignatureV3 } from '../../src/hubspot/signature.js'
import { createLogger } from '../../src/logger.js'
import type { ServiceHandles } from '../../src/server.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { startFaultProxy, type FaultProxy } from '../helpers/hubspotFaultProxy.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import { freePort } from '../helpers/ports.js'
import {
  callAdmin,
  serviceApiToken,
  serviceEncryptionKey,
  serviceEnv,
  startTestService,
  syncAndWait,
} from '../helpers/service.js'
import { waitFor } from '../helpers/waitFor.js'

interface Setup {
  sim: Simulator
  service: ServiceHandles
  lines: string[]
  webhookUrl: string
  integrationId: number
  grant: { accessToken: string; refreshToken: string }
  proxy: FaultProxy
  sql: Awaited<ReturnType<typeof createTestDatabase>>['sql']
}

/**
 * Starts the service at trace level with its log captured, against a fault proxy in front of
 * a simulator, and registers an OAuth integration whose token the service refreshes first.
 */
async function setUp(t: Test, contacts: number, seed: number): Promise<Setup> {
  const sim = await startSimulator({ contacts, seed })
  t.teardown(() => sim.close())
  const proxy = await startFaultProxy(t, sim.url)
  const grant = sim.oauth.issueGrant()
  const { url, sql } = await createTestDatabase(t)
  const port = await freePort()
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/hubspot`
  const options = { databaseUrl: url, hubspotUrl: proxy.url, subjectPrefix: uniqueSubjectPrefix(t), port }
  const env = serviceEnv(options, {
    HUBSPOT_CLIENT_ID: sim.oauth.clientId,
    HUBSPOT_CLIENT_SECRET: sim.oauth.clientSecret,
    WEBHOOK_PUBLIC_URL: webhookUrl,
    HUBSPOT_MAX_ATTEMPTS: '3',
    LOG_LEVEL: 'trace',
  })
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const service = await startTestService(t, env, { logger: createLogger('trace', stream) })

  // The grant's access token comes without an expiry, so the service refreshes it first.
  const created = await callAdmin(service.url, 'POST', '/integrations', {
    portalId: sim.portalId,
    oauth: { refreshToken: grant.refreshToken, accessToken: grant.accessToken },
  })
  t.equal(created.status, 201)
  return { sim, service, lines, webhookUrl, integrationId: created.body.id, grant, proxy, sql }
}

/** Asserts that no secret and no contact email occurs anywhere in the captured log. */
async function assertLogHoldsNoSecret(t: Test, setup: Setup, extra: Record<string, string> = {}) {
  const stored = await findStoredCredentials(setup.sql, Buffer.from(serviceEncryptionKey, 'hex'), setup.integrationId)
  const secrets: Record<string, string> = {
    'issued access token': setup.grant.accessToken,
    'refresh token': setup.grant.refreshToken,
    'refreshed access token': stored.credentials.accessToken ?? '',
    'client secret': setup.sim.oauth.clientSecret,
    'private app token': setup.sim.privateAppToken,
    'API token': serviceApiToken,
    ENCRYPTION_KEY: serviceEncryptionKey,
    ...extra,
  }
  const text = setup.lines.join('')
  t.ok(setup.lines.length > 10, `captured ${setup.lines.length} log lines`)
  for (const [name, secret] of Object.entries(secrets)) {
    t.ok(secret.length >= 8, `${name} is a real value`)
    t.equal(text.includes(secret), false, `${name} is not logged`)
  }
  const known = setup.sim.contacts.all().flatMap((contact) => contact.properties.email ?? [])
  t.ok(known.length >= 50, `${known.length} contact emails to look for`)
  t.same(known.filter((email) => text.toLowerCase().includes(email.toLowerCase())), [], 'no contact email is logged')
}

function logged(setup: Setup, message: string): boolean {
  return setup.lines.some((line) => line.includes(`"msg":"${message}"`))
}

function signedRequest(url: string, body: string, secret: string) {
  const timestamp = String(Date.now())
  const signature = computeSignatureV3({ secret, method: 'POST', uri: url, rawBody: Buffer.from(body), timestamp })
  const headers = { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp }
  return { signature, send: () => fetch(url, { method: 'POST', headers, body }) }
}

t.test('logs of OAuth setup, sync and webhooks hold no secret or email', async (t) => {
  const setup = await setUp(t, 120, 21)
  const run = await syncAndWait(setup.service.url, setup.integrationId)
  t.match(run, { status: 'succeeded', counts: { created: 120 } })

  setup.sim.webhooks.configure({ targetUrl: setup.webhookUrl, clientSecret: setup.sim.oauth.clientSecret })
  const fresh = setup.sim.contacts.create({ email: 'webhook.secret.person@example.com', firstname: 'Hook' })
  setup.sim.contacts.update(fresh.id, { email: 'changed.secret.person@example.com' })
  await setup.sim.webhooks.flush()
  const deliveries = setup.sim.webhooks.deliveries()
  t.ok(deliveries.length > 0, 'the simulator delivered webhooks')
  t.ok(deliveries.every((attempt) => attempt.status === 200), 'every delivery was accepted')

  const body = JSON.stringify([{ portalId: setup.sim.portalId, occurredAt: Date.now(), subscriptionType: 'contact.creation', objectId: 1 }])
  const forged = signedRequest(setup.webhookUrl, body, 'not-the-client-secret')
  const valid = signedRequest(setup.webhookUrl, body, setup.sim.oauth.clientSecret)
  t.equal((await forged.send()).status, 401, 'the forged delivery is rejected')
  t.equal((await valid.send()).status, 200, 'the signed delivery is accepted')
  await setup.service.inbox?.drain()
  await setup.service.relay?.flush()

  const [lead] = await setup.sql<{ email: string }[]>`select email from leads where hubspot_contact_id = ${Number(fresh.id)}`
  t.equal(lead?.email, 'changed.secret.person@example.com', 'the webhook change was applied')
  t.ok(setup.lines.join('').includes('"runId"'), 'the run was logged')
  await assertLogHoldsNoSecret(t, setup, {
    'forged signature': forged.signature,
    'valid signature': valid.signature,
    'first email of the changed contact': 'webhook.secret.person@example.com',
  })
})

t.test('logs of failing HubSpot calls hold no secret or email', async (t) => {
  const setup = await setUp(t, 150, 22)
  setup.proxy.setRules([
    { match: 'POST /oauth/v1/token', count: 1, fault: { kind: 'status', status: 502 } },
    { match: 'GET /crm/v3/objects/contacts?', count: 1, fault: { kind: 'status', status: 401 } },
    { match: 'GET /crm/v3/objects/contacts?', count: 1, fault: { kind: 'reset' } },
    { match: 'GET /crm/v3/objects/contacts?', count: 1, fault: { kind: 'rateLimit', policy: null, retryAfterSeconds: 1 } },
    { match: 'GET /crm/v3/objects/contacts?', count: Infinity, skip: 1, fault: { kind: 'truncate' } },
  ])
  const run = await syncAndWait(setup.service.url, setup.integrationId)
  t.equal(run.errorCode, 'HUBSPOT_BAD_RESPONSE', 'the run ends on the truncated page')

  setup.proxy.setRules([{ match: 'POST /crm/v3/objects/contacts/batch/read', count: Infinity, fault: { kind: 'status', status: 503 } }])
  setup.sim.webhooks.configure({ targetUrl: setup.webhookUrl, clientSecret: setup.sim.oauth.clientSecret })
  setup.sim.contacts.create({ email: 'failing.webhook.person@example.com' })
  await setup.sim.webhooks.flush()
  await waitFor('the inbox retry', 30_000, () => logged(setup, 'webhook events failed; retry scheduled'))

  for (const message of ['retrying OAuth token refresh', 'HubSpot rejected the access token; refreshing', 'HubSpot call failed; retrying', 'HubSpot rate limit hit; waiting', 'sync run finished']) {
    t.ok(logged(setup, message), `the log has "${message}"`)
  }
  await assertLogHoldsNoSecret(t, setup, { 'email of the failing webhook': 'failing.webhook.person@example.com' })
})
