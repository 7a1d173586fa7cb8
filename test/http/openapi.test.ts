import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'

import { buildApp, type AppDeps } from '../../src/app.js'
import { testConfig } from '../../src/config.js'
import { connect } from '../../src/db/connection.js'
import { insertIntegration } from '../../src/db/integrations.js'
import { NatsManager } from '../../src/events/nats.js'
import { createLogger } from '../../src/logger.js'
import { startService } from '../../src/server.js'
import { startSimulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { clientSecret, contactEvent, publicUrl, signV3 } from '../webhooks/fixtures/delivery.js'
import { adminConfig, apiToken, auth, buildAdminApp, encryptionKeyHex } from './helpers.js'
import {
  documentedResponses,
  openapi,
  operationParameters,
  responseErrors,
  toOpenapiPath,
} from './openapiSupport.js'

type Method = 'GET' | 'POST' | 'PATCH'

interface Call {
  /** The openapi.yaml path the URL belongs to, such as `/leads/{id}`. */
  path: string
  method: Method
  url: string
  status: number
  payload?: string | object
  headers?: Record<string, string>
}

/** Responses checked against openapi.yaml so far, as `METHOD path status`. */
const checkedResponses = new Set<string>()

/**
 * Sends a request, asserts its status, and asserts that its body matches the schema
 * openapi.yaml gives for that path, method, status and content type.
 */
async function checkResponse(t: Test, app: FastifyInstance, call: Call): Promise<LightMyRequestResponse> {
  const { method, url, path, status, payload } = call
  const response = await app.inject({ method, url, payload, headers: call.headers ?? auth })
  const type = String(response.headers['content-type'] ?? '')
  const contentType = type.split(';')[0] || 'application/json'
  const body = contentType === 'application/json' ? response.json() : response.body
  const name = `${method} ${url} ${status}`

  t.equal(response.statusCode, status, `${name}: status`)
  t.equal(responseErrors(path, method, response.statusCode, body, contentType), null, `${name}: body matches`)
  checkedResponses.add(`${method} ${path} ${response.statusCode}`)
  return response
}

function webhookConfig(overrides: Record<string, string> = {}) {
  return adminConfig({ HUBSPOT_CLIENT_SECRET: clientSecret, WEBHOOK_PUBLIC_URL: publicUrl, ...overrides })
}

/** Builds the full app on a database that refuses every connection. */
async function buildAppWithoutDatabase(t: Test, extra: Partial<AppDeps> = {}): Promise<FastifyInstance> {
  const sql = connect('postgres://root@127.0.0.1:1/unreachable', { maxConnections: 1 })
  t.teardown(() => sql.end({ timeout: 1 }))
  const logger = createLogger('silent')
  const nats = new NatsManager({ url: 'nats://127.0.0.1:1', subjectPrefix: 'unused', logger })
  const services = { encryptionKey: Buffer.from(encryptionKeyHex, 'hex') }
  const app = buildApp({ config: webhookConfig(), sql, logger, nats, services, ...extra })
  await app.ready()
  t.teardown(() => app.close())
  return app
}

const replayBody = { config: 'current' }

/** One request per admin operation that reaches the database with valid input. */
const adminCalls: Omit<Call, 'status'>[] = [
  { method: 'POST', url: '/integrations', path: '/integrations', payload: { portalId: 77, accessToken: 'tok' } },
  { method: 'GET', url: '/integrations', path: '/integrations' },
  { method: 'GET', url: '/integrations/1', path: '/integrations/{id}' },
  { method: 'PATCH', url: '/integrations/1', path: '/integrations/{id}', payload: { name: 'Renamed' } },
  { method: 'GET', url: '/integrations/1/runs', path: '/integrations/{id}/runs' },
  { method: 'GET', url: '/integrations/1/cursor', path: '/integrations/{id}/cursor' },
  { method: 'GET', url: '/integrations/1/leads', path: '/integrations/{id}/leads' },
  {
    method: 'POST',
    url: '/integrations/1/actions/replay',
    path: '/integrations/{id}/actions/replay',
    payload: replayBody,
  },
  { method: 'GET', url: '/sync-runs/1', path: '/sync-runs/{runId}' },
  { method: 'GET', url: '/leads/1', path: '/leads/{id}' },
  { method: 'POST', url: '/leads/1/actions/replay', path: '/leads/{id}/actions/replay', payload: replayBody },
  { method: 'GET', url: '/action-dead-letters', path: '/action-dead-letters' },
  { method: 'GET', url: '/webhook-events', path: '/webhook-events' },
  { method: 'POST', url: '/webhook-events/retry', path: '/webhook-events/retry', payload: { ids: [1] } },
]

/** Admin operations that take a JSON body, with a valid one. */
const jsonBodyCalls = adminCalls.filter((call) => call.payload !== undefined)

t.test('every route is documented with its parameters', async (t) => {
  const { sql } = await createTestDatabase(t)
  const logger = createLogger('silent')
  const nats = new NatsManager({ url: 'nats://127.0.0.1:1', subjectPrefix: 'unused', logger })
  const app = buildApp({ config: adminConfig(), sql, logger, nats, services: {} })
  const registered: { method: string; path: string; schema: Record<string, any> }[] = []
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      // Swagger UI's own asset routes and Fastify's automatic HEAD routes are not API.
      if (method === 'HEAD' || route.url.startsWith('/docs/')) continue
      registered.push({ method, path: toOpenapiPath(route.url), schema: (route.schema ?? {}) as Record<string, any> })
    }
  })
  await app.ready()
  t.teardown(() => app.close())

  const names = registered.map((route) => `${route.method} ${route.path}`)
  for (const route of registered) {
    const name = `${route.method} ${route.path}`
    t.ok(openapi.paths[route.path]?.[route.method.toLowerCase()], `${name} is in openapi.yaml`)
    compareParameters(t, route, 'path', route.schema.params)
    compareParameters(t, route, 'query', route.schema.querystring)
  }
  const documented = Object.entries(openapi.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => ['get', 'post', 'patch', 'put', 'delete'].includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  )
  for (const route of documented) t.ok(names.includes(route), `${route} in openapi.yaml exists`)
})

const comparedKeywords = ['type', 'minimum', 'maximum', 'enum', 'pattern']

/**
 * Compares the path or query parameters a route validates with those openapi.yaml lists.
 * A `default` the route applies in its handler may be documented without being in the
 * route schema.
 */
function compareParameters(
  t: Test,
  route: { method: string; path: string },
  location: 'path' | 'query',
  routeSchema: { properties?: Record<string, Record<string, unknown>> } | undefined,
): void {
  const name = `${route.method} ${route.path}`
  const validated = routeSchema?.properties ?? {}
  const documented = operationParameters(route.path, route.method).filter((parameter) => parameter.in === location)
  const documentedNames = documented.map((parameter) => parameter.name).sort()
  t.same(documentedNames, Object.keys(validated).sort(), `${name}: ${location} parameters documented`)

  for (const parameter of documented) {
    const actual = validated[parameter.name]
    if (!actual) continue
    for (const keyword of comparedKeywords) {
      t.same(parameter.schema[keyword], actual[keyword], `${name}: ${parameter.name} ${keyword}`)
    }
    if (actual.default !== undefined) {
      t.same(parameter.schema.default, actual.default, `${name}: ${parameter.name} default`)
    }
  }
}

t.test('public and admin responses match openapi.yaml', async (t) => {
  const { sql } = await createTestDatabase(t)
  const app = await buildAdminApp(t, sql, { config: webhookConfig() })
  const check = (call: Call) => checkResponse(t, app, call)

  await check({ method: 'GET', url: '/healthz', path: '/healthz', status: 200 })
  await check({ method: 'GET', url: '/readyz', path: '/readyz', status: 200 })
  await check({ method: 'GET', url: '/metrics', path: '/metrics', status: 200 })
  await check({ method: 'GET', url: '/openapi.yaml', path: '/openapi.yaml', status: 200 })
  await check({ method: 'GET', url: '/docs', path: '/docs', status: 200 })

  const created = await check({
    method: 'POST',
    url: '/integrations',
    path: '/integrations',
    payload: { portalId: 31, accessToken: 'tok' },
    status: 201,
  })
  const id = created.json().id as number
  t.equal(created.headers.location, `/integrations/${id}`, 'Location of the new integration')
  await check({
    method: 'POST',
    url: '/integrations',
    path: '/integrations',
    payload: { portalId: 31, accessToken: 'tok' },
    status: 409,
  })
  await check({ method: 'POST', url: '/integrations', path: '/integrations', payload: { portalId: 'x' }, status: 400 })
  await check({ method: 'GET', url: '/integrations', path: '/integrations', headers: {}, status: 401 })
  await check({ method: 'GET', url: '/integrations', path: '/integrations', status: 200 })

  const integration = `/integrations/${id}`
  await check({ method: 'GET', url: integration, path: '/integrations/{id}', status: 200 })
  await check({ method: 'GET', url: '/integrations/999999', path: '/integrations/{id}', status: 404 })
  await check({ method: 'GET', url: '/integrations/0', path: '/integrations/{id}', status: 400 })
  const rename = { name: 'Renamed' }
  await check({ method: 'PATCH', url: integration, path: '/integrations/{id}', payload: rename, status: 200 })
  await check({ method: 'PATCH', url: integration, path: '/integrations/{id}', payload: { colour: 'red' }, status: 400 })
  await check({ method: 'PATCH', url: '/integrations/999999', path: '/integrations/{id}', payload: rename, status: 404 })
  await sql`update integrations set status = 'needs_reauth' where id = ${id}`
  const activate = { status: 'active' }
  await check({ method: 'PATCH', url: integration, path: '/integrations/{id}', payload: activate, status: 409 })

  const other = await insertIntegration(sql, Buffer.from(encryptionKeyHex, 'hex'), {
    portalId: 32,
    name: 'Other',
    authType: 'private_app',
    credentials: { accessToken: 'x' },
    accessTokenExpiresAt: null,
    actions: { notify: { enabled: false } },
    burstPer10Seconds: null,
    ownerUserId: null,
  })
  await sql`
    insert into leads (integration_id, hubspot_contact_id, email, properties, content_hash, assigned_user_id, assigned_at)
    values (${other.id}, 2147483749, 'a@example.com', '{"email":"a@example.com","phone":null}'::jsonb, 'h', 3, now())
  `
  const [lead] = await sql<{ id: number }[]>`select id from leads`
  await sql`
    insert into lead_actions (lead_id, action, status, decision)
    values (${lead.id}, 'notify', 'skipped', '{"reason": "disabled"}'::jsonb)
  `
  const [run] = await sql<{ id: number }[]>`
    insert into sync_runs (integration_id, trigger, status, finished_at, error_code, error)
    values (${other.id}, 'schedule', 'failed', now(), 'HUBSPOT_UNAVAILABLE', 'HubSpot kept failing')
    returning id
  `

  const leads = `/integrations/${other.id}/leads`
  await check({ method: 'GET', url: `${leads}?limit=1`, path: '/integrations/{id}/leads', status: 200 })
  await check({ method: 'GET', url: `${leads}?limit=0`, path: '/integrations/{id}/leads', status: 400 })
  await check({ method: 'GET', url: '/integrations/999999/leads', path: '/integrations/{id}/leads', status: 404 })
  await check({ method: 'GET', url: `/leads/${lead.id}`, path: '/leads/{id}', status: 200 })
  await check({ method: 'GET', url: '/leads/999999', path: '/leads/{id}', status: 404 })
  await check({ method: 'GET', url: '/leads/x', path: '/leads/{id}', status: 400 })
  const cursor = `/integrations/${other.id}/cursor`
  await check({ method: 'GET', url: cursor, path: '/integrations/{id}/cursor', status: 200 })
  await check({ method: 'GET', url: '/integrations/999999/cursor', path: '/integrations/{id}/cursor', status: 404 })
  await check({ method: 'GET', url: '/integrations/x/cursor', path: '/integrations/{id}/cursor', status: 400 })
  const runs = `/integrations/${other.id}/runs`
  await check({ method: 'GET', url: runs, path: '/integrations/{id}/runs', status: 200 })
  await check({ method: 'GET', url: `${runs}?limit=201`, path: '/integrations/{id}/runs', status: 400 })
  await check({ method: 'GET', url: '/integrations/999999/runs', path: '/integrations/{id}/runs', status: 404 })
  await check({ method: 'GET', url: `/sync-runs/${run.id}`, path: '/sync-runs/{runId}', status: 200 })
  await check({ method: 'GET', url: '/sync-runs/999999', path: '/sync-runs/{runId}', status: 404 })
  await check({ method: 'GET', url: '/sync-runs/0', path: '/sync-runs/{runId}', status: 400 })

  const leadReplay = '/leads/{id}/actions/replay'
  await check({ method: 'POST', url: `/leads/${lead.id}/actions/replay`, path: leadReplay, payload: replayBody, status: 200 })
  await check({ method: 'POST', url: `/leads/${lead.id}/actions/replay`, path: leadReplay, status: 200 })
  await check({ method: 'POST', url: '/leads/999999/actions/replay', path: leadReplay, status: 404 })
  const badSource = { config: 'yesterday' }
  await check({ method: 'POST', url: `/leads/${lead.id}/actions/replay`, path: leadReplay, payload: badSource, status: 400 })
  const integrationReplay = '/integrations/{id}/actions/replay'
  const replayUrl = `/integrations/${other.id}/actions/replay`
  await check({ method: 'POST', url: replayUrl, path: integrationReplay, payload: replayBody, status: 200 })
  await check({ method: 'POST', url: '/integrations/999999/actions/replay', path: integrationReplay, status: 404 })
  await check({ method: 'POST', url: replayUrl, path: integrationReplay, payload: badSource, status: 400 })

  const eventId = '0d4c8a52-5b0e-4f8e-9f57-3b1c2f0a7e11'
  await sql`
    insert into action_dead_letters (event_id, lead_id, deliveries, reason, payload)
    values
      (${eventId}, ${lead.id}, 5, 'DATABASE_ERROR: runLeadActions failed', '{"id": "x"}'::jsonb),
      (gen_random_uuid(), null, 1, 'unreadable message: not JSON', '"<garbage>"'::jsonb)
  `
  const deadLetters = { method: 'GET', path: '/action-dead-letters' } as const
  const all = await check({ ...deadLetters, url: '/action-dead-letters', status: 200 })
  t.same(
    all.json().deadLetters.map((letter: { leadId: number | null }) => letter.leadId),
    [null, lead.id],
    'every dead letter, newest first',
  )
  const ofLead = await check({ ...deadLetters, url: `/action-dead-letters?leadId=${lead.id}&limit=1`, status: 200 })
  t.match(ofLead.json(), { deadLetters: [{ eventId, deliveries: 5, reason: /DATABASE_ERROR/ }], nextBefore: Number })
  const page = await check({ ...deadLetters, url: `/action-dead-letters?before=${ofLead.json().nextBefore}`, status: 200 })
  t.same(page.json().deadLetters, [], 'nothing before the oldest')
  await check({ ...deadLetters, url: '/action-dead-letters?leadId=0', status: 400 })

  await check({ method: 'POST', url: `/sync/${other.id}`, path: '/sync/{integrationId}', status: 503 })

  t.test('webhook deliveries and the inbox', async (t) => {
    const check = (call: Call) => checkResponse(t, app, call)
    const webhook = { method: 'POST', url: '/webhooks/hubspot', path: '/webhooks/hubspot' } as const
    const body = JSON.stringify([contactEvent(31, 'creation', 5), contactEvent(9999, 'creation', 6)])
    await check({ ...webhook, payload: body, headers: signV3({ body }), status: 200 })
    await check({ ...webhook, payload: '{}', headers: signV3({ body: '{}' }), status: 400 })
    const unsigned = { 'content-type': 'application/json' }
    await check({ ...webhook, payload: body, headers: unsigned, status: 401 })
    const huge = `[${' '.repeat(2 * 1024 * 1024)}]`
    await check({ ...webhook, payload: huge, headers: signV3({ body: huge }), status: 413 })

    const events = { method: 'GET', path: '/webhook-events' } as const
    const listed = await check({ ...events, url: '/webhook-events?status=pending,ignored', status: 200 })
    t.equal(listed.json().events.length, 2, 'both stored events listed')
    await check({ ...events, url: '/webhook-events?status=lost', status: 400 })
    await check({ ...events, url: '/webhook-events?limit=1', status: 200 })
    const retry = { method: 'POST', url: '/webhook-events/retry', path: '/webhook-events/retry' } as const
    await check({ ...retry, payload: { ids: [1, 2] }, status: 200 })
    await check({ ...retry, status: 200 })
    await check({ ...retry, payload: { ids: ['one'] }, status: 400 })
  })

  t.test('bodies that are too large or not JSON', async (t) => {
    const tooLarge = JSON.stringify({ name: 'x'.repeat(1024 * 1024) })
    const xml = { ...auth, 'content-type': 'application/xml' }
    for (const call of jsonBodyCalls) {
      const json = { ...auth, 'content-type': 'application/json' }
      await checkResponse(t, app, { ...call, payload: tooLarge, headers: json, status: 413 })
      await checkResponse(t, app, { ...call, payload: '<name>x</name>', headers: xml, status: 415 })
    }
  })

  t.test('admin routes without a valid token', async (t) => {
    const wrongToken = { authorization: 'Bearer not-the-admin-token-0123456789' }
    const allAdminCalls = [...adminCalls, { method: 'POST', url: '/sync/1', path: '/sync/{integrationId}' } as const]
    for (const call of allAdminCalls) {
      const response = await checkResponse(t, app, { ...call, headers: wrongToken, status: 401 })
      t.equal(response.json().code, 'UNAUTHORIZED', `${call.method} ${call.url}: code`)
    }

    const disabled = await buildAdminApp(t, sql, { config: adminConfig({ API_TOKEN: '' }) })
    const response = await checkResponse(t, disabled, { ...adminCalls[1], status: 401 })
    t.equal(response.json().code, 'ADMIN_DISABLED', 'admin routes disabled without API_TOKEN')
  })
})

t.test('sync route responses match openapi.yaml', async (t) => {
  const simulator = await startSimulator({ contacts: 30, seed: 7 })
  t.teardown(() => simulator.close())
  const { url, sql } = await createTestDatabase(t)
  const config = testConfig({
    PORT: '0',
    DATABASE_URL: url,
    ENCRYPTION_KEY: encryptionKeyHex,
    API_TOKEN: apiToken,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    HUBSPOT_API_URL: simulator.url,
    SCHEDULER_ENABLED: 'false',
    INBOX_WORKER_ENABLED: 'false',
    OUTBOX_RELAY_ENABLED: 'false',
    ACTIONS_ENABLED: 'false',
  })
  const handles = await startService(config, { logger: createLogger('silent') })
  t.teardown(() => handles.stop())
  const check = (call: Call) => checkResponse(t, handles.app, call)

  const created = await check({
    method: 'POST',
    url: '/integrations',
    path: '/integrations',
    payload: { portalId: simulator.portalId, accessToken: simulator.privateAppToken },
    status: 201,
  })
  const id = created.json().id as number
  const sync = { method: 'POST', path: '/sync/{integrationId}' } as const

  const started = await check({ ...sync, url: `/sync/${id}`, status: 202 })
  t.equal(started.json().started, true, 'a new run started')
  const finished = await check({ ...sync, url: `/sync/${id}?wait=true`, status: 200 })
  t.equal(finished.json().status, 'succeeded', 'the run succeeded')
  await check({ ...sync, url: `/sync/${id}?kind=drift&wait=true`, status: 200 })
  await check({ ...sync, url: '/sync/999999', status: 404 })
  await check({ ...sync, url: `/sync/${id}?kind=everything`, status: 400 })

  // Another replica that holds the run lock but has not written its run row yet.
  const other = await sql.reserve()
  const lockName = `hubspot-sync:run:contacts:${id}`
  await other`select pg_advisory_lock(hashtextextended(${lockName}, 0))`
  try {
    const busy = await check({ ...sync, url: `/sync/${id}`, status: 409 })
    t.equal(busy.json().code, 'SYNC_ALREADY_RUNNING', 'lock held elsewhere')
  } finally {
    await other`select pg_advisory_unlock(hashtextextended(${lockName}, 0))`
    other.release()
  }

  // A failing statement, not a lost connection, is a 500.
  await sql`alter table integrations rename to integrations_hidden`
  try {
    const failed = await check({ ...sync, url: `/sync/${id}`, status: 500 })
    t.match(failed.json().code, /^(DATABASE_ERROR|INTERNAL)$/, 'statement failure')
  } finally {
    await sql`alter table integrations_hidden rename to integrations`
  }
})

t.test('responses while the database is down match openapi.yaml', async (t) => {
  const app = await buildAppWithoutDatabase(t)
  for (const call of adminCalls) {
    const response = await checkResponse(t, app, { ...call, status: 503 })
    t.equal(response.json().code, 'DATABASE_UNAVAILABLE', `${call.method} ${call.url}: code`)
  }
  await checkResponse(t, app, { method: 'GET', url: '/readyz', path: '/readyz', status: 503 })
  await checkResponse(t, app, { method: 'GET', url: '/healthz', path: '/healthz', status: 200 })
  await checkResponse(t, app, { method: 'GET', url: '/metrics', path: '/metrics', status: 200 })

  const body = JSON.stringify([contactEvent(31, 'creation', 5)])
  const webhook = { method: 'POST', url: '/webhooks/hubspot', path: '/webhooks/hubspot' } as const
  const stored = await checkResponse(t, app, { ...webhook, payload: body, headers: signV3({ body }), status: 503 })
  t.equal(stored.json().code, 'DATABASE_UNAVAILABLE', 'webhook: HubSpot retries later')

  const stopping = await buildAppWithoutDatabase(t, { isShuttingDown: () => true })
  const sync = { method: 'POST', url: '/sync/1', path: '/sync/{integrationId}' } as const
  const refused = await checkResponse(t, stopping, { ...sync, status: 503 })
  t.equal(refused.json().code, 'SHUTTING_DOWN', 'sync refused while shutting down')
})

t.test('responses after a failed statement match openapi.yaml', async (t) => {
  const { sql } = await createTestDatabase(t)
  const app = await buildAdminApp(t, sql, { config: webhookConfig() })
  // Every table is gone, so each statement fails with undefined_table (42P01).
  await sql`drop schema public cascade`
  await sql`create schema public`
  for (const call of adminCalls) {
    const response = await checkResponse(t, app, { ...call, status: 500 })
    t.match(response.json().code, /^(DATABASE_ERROR|INTERNAL)$/, `${call.method} ${call.url}: code`)
  }
  const body = JSON.stringify([contactEvent(31, 'creation', 5)])
  const webhook = { method: 'POST', url: '/webhooks/hubspot', path: '/webhooks/hubspot' } as const
  const refused = await checkResponse(t, app, { ...webhook, payload: body, headers: signV3({ body }), status: 500 })
  t.equal(refused.json().code, 'DATABASE_ERROR', 'webhook: a failed insert is not reported as an outage')
})

t.test('every documented response is checked', async (t) => {
  for (const response of documentedResponses()) {
    t.ok(checkedResponses.has(response), `${response} checked against a real response`)
  }
})

t.test('openapi.yaml passes the Redocly lint', async (t) => {
  const { execFile } = await import('node:child_process')
  const { promisify } = await import('node:util')
  const { openapiPath } = await import('../../src/http/openapiDocument.js')
  const redocly = new URL('../../node_modules/.bin/redocly', import.meta.url).pathname
  const run = promisify(execFile)
  // redocly.yaml beside openapi.yaml contains the rule settings. A lint failure exits non-zero.
  const cwd = new URL('../..', import.meta.url).pathname
  const { stderr } = await run(redocly, ['lint', openapiPath, '--format=summary'], { timeout: 60_000, cwd })
  t.match(stderr, /valid/)
})
