import t from 'tap'

import { buildApp } from '../../src/app.js'
import { insertIntegration } from '../../src/db/integrations.js'
import { NatsManager } from '../../src/events/nats.js'
import { createLogger } from '../../src/logger.js'
import { createTestDatabase } from '../helpers/database.js'
import { adminConfig, auth, buildAdminApp, encryptionKeyHex } from './helpers.js'
import { openapi, responseErrors, toOpenapiPath } from './openapiSupport.js'

t.test('every route is documented', async (t) => {
  const { sql } = await createTestDatabase(t)
  const logger = createLogger('silent')
  const nats = new NatsManager({ url: 'nats://127.0.0.1:1', subjectPrefix: 'unused', logger })
  const app = buildApp({ config: adminConfig(), sql, logger, nats, services: {} })
  const registered: string[] = []
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      // Swagger UI's own asset routes and Fastify's automatic HEAD routes are not API.
      if (method === 'HEAD' || route.url.startsWith('/docs/')) continue
      registered.push(`${method} ${toOpenapiPath(route.url)}`)
    }
  })
  await app.ready()
  t.teardown(() => app.close())

  for (const route of registered) {
    const [method, path] = route.split(' ')
    t.ok(openapi.paths[path]?.[method.toLowerCase()], `${route} is in openapi.yaml`)
  }
  const documented = Object.entries(openapi.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => ['get', 'post', 'patch', 'put', 'delete'].includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  )
  for (const route of documented) t.ok(registered.includes(route), `${route} in openapi.yaml exists`)
})

t.test('responses match openapi.yaml', async (t) => {
  const { sql } = await createTestDatabase(t)
  const app = await buildAdminApp(t, sql)
  const check = async (method: 'GET' | 'POST' | 'PATCH', url: string, path: string, payload?: object, headers = auth) => {
    const response = await app.inject({ method, url, headers, payload })
    const type = String(response.headers['content-type'] ?? '')
    const body = type.startsWith('application/json') ? response.json() : response.body
    const contentType = type.split(';')[0] || 'application/json'
    t.equal(responseErrors(path, method, response.statusCode, body, contentType), null, `${method} ${url} ${response.statusCode}`)
    return response
  }

  await check('GET', '/healthz', '/healthz')
  await check('GET', '/readyz', '/readyz')
  await check('GET', '/metrics', '/metrics')
  await check('GET', '/openapi.yaml', '/openapi.yaml')
  await check('GET', '/docs', '/docs')

  const created = await check('POST', '/integrations', '/integrations', { portalId: 31, accessToken: 'tok' })
  t.equal(created.statusCode, 201)
  await check('POST', '/integrations', '/integrations', { portalId: 31, accessToken: 'tok' })
  await check('POST', '/integrations', '/integrations', { portalId: 'x' })
  await check('GET', '/integrations', '/integrations', undefined, {} as typeof auth)
  await check('GET', '/integrations', '/integrations')

  const id = created.json().id
  await check('GET', `/integrations/${id}`, '/integrations/{id}')
  await check('GET', '/integrations/999999', '/integrations/{id}')
  await check('PATCH', `/integrations/${id}`, '/integrations/{id}', { name: 'Renamed' })
  await check('PATCH', `/integrations/${id}`, '/integrations/{id}', { colour: 'red' })

  const other = await insertIntegration(sql, Buffer.from(encryptionKeyHex, 'hex'), {
    portalId: 32,
    name: 'Other',
    authType: 'private_app',
    credentials: { accessToken: 'x' },
    accessTokenExpiresAt: null,
    actions: {},
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
  await check('GET', `/integrations/${other.id}/leads?limit=1`, '/integrations/{id}/leads')
  await check('GET', `/leads/${lead.id}`, '/leads/{id}')
  await check('GET', '/leads/999999', '/leads/{id}')
  await check('GET', `/integrations/${other.id}/cursor`, '/integrations/{id}/cursor')
  await check('GET', `/integrations/${other.id}/runs`, '/integrations/{id}/runs')
  await check('GET', `/sync-runs/${run.id}`, '/sync-runs/{runId}')
  await check('GET', '/sync-runs/999999', '/sync-runs/{runId}')
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
