import { readFileSync } from 'node:fs'

import t, { type Test } from 'tap'
import { parse as parseYaml } from 'yaml'

import { safeEqual } from '../../src/crypto.js'
import { webhookBodyLimitBytes } from '../../src/http/routes/postHubspotWebhook.js'
import { createTestDatabase } from '../helpers/database.js'
import { apiToken, auth, buildAdminApp, encryptionKeyHex } from '../http/helpers.js'
import { clientSecret, postSigned, publicUrl, signV3 } from '../webhooks/fixtures/delivery.js'
import { adminConfig } from '../http/helpers.js'

const adminBodyLimitBytes = 1024 * 1024
const secrets = {
  privateAppToken: 'pat-na1-11111111-2222-3333-4444-555555555555',
  refreshToken: 'refresh-66666666-7777-8888-9999-000000000000',
  oauthAccessToken: 'oauth-access-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  replacedToken: 'pat-na1-replaced-ffff-0000-1111-222222222222',
  apiToken,
  encryptionKey: encryptionKeyHex,
  clientSecret,
}

const { sql } = await createTestDatabase(t)
const config = adminConfig({ HUBSPOT_CLIENT_SECRET: clientSecret, WEBHOOK_PUBLIC_URL: publicUrl })
const app = await buildAdminApp(t, sql, { config })

function assertNoSecret(t: Test, where: string, text: string): void {
  for (const [name, secret] of Object.entries(secrets)) {
    t.equal(text.includes(secret), false, `${where}: ${name} absent`)
  }
}

/** Returns every text value of every table in the public schema, as PostgreSQL prints the rows. */
async function databaseText(): Promise<string> {
  const tables = await sql<{ table_name: string }[]>`
    select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'
  `
  const parts: string[] = []
  for (const { table_name: table } of tables) {
    const rows = await sql<{ text: string | null }[]>`select string_agg(t::text, E'\n') as text from ${sql(table)} t`
    parts.push(rows[0].text ?? '')
  }
  return parts.join('\n')
}

t.test('credentials are sealed in the database and never returned', async (t) => {
  const privateApp = await app.inject({
    method: 'POST',
    url: '/integrations',
    headers: auth,
    payload: { portalId: 901, accessToken: secrets.privateAppToken },
  })
  t.equal(privateApp.statusCode, 201)
  const oauth = await app.inject({
    method: 'POST',
    url: '/integrations',
    headers: auth,
    payload: { portalId: 902, oauth: { refreshToken: secrets.refreshToken, accessToken: secrets.oauthAccessToken } },
  })
  t.equal(oauth.statusCode, 201)
  const patched = await app.inject({
    method: 'PATCH',
    url: `/integrations/${privateApp.json().id}`,
    headers: auth,
    payload: { accessToken: secrets.replacedToken, name: 'rotated' },
  })
  t.equal(patched.statusCode, 200)

  const reads = ['/integrations', `/integrations/${privateApp.json().id}`, `/integrations/${oauth.json().id}`, '/webhook-events?status=pending,done,failed,ignored']
  const responses = [privateApp.body, oauth.body, patched.body]
  for (const url of reads) responses.push((await app.inject({ method: 'GET', url, headers: auth })).body)
  assertNoSecret(t, 'API responses', responses.join('\n'))
  t.notMatch(privateApp.json(), { credentials: /./ }, 'no credentials field')

  const [row] = await sql<{ credentials: Buffer }[]>`select credentials from integrations where portal_id = 902`
  t.equal(row.credentials[0], 1, 'sealed with format version 1')
  t.ok(row.credentials.length > 29, 'version, IV, tag and ciphertext')
  assertNoSecret(t, 'database text', await databaseText())
  const hex = (await databaseText()).toLowerCase()
  for (const name of ['privateAppToken', 'refreshToken', 'replacedToken'] as const) {
    t.equal(hex.includes(Buffer.from(secrets[name]).toString('hex')), false, `${name} not stored as plain bytes`)
  }
})

t.test('admin routes reject missing and wrong tokens', async (t) => {
  const document = parseYaml(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, { security?: unknown[] }>>
  }
  const wrongHeaders: [string, Record<string, string>][] = [
    ['no header', {}],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['wrong token', { authorization: 'Bearer wrong-token-0123456789abcdef' }],
    ['token prefix', { authorization: `Bearer ${apiToken.slice(0, -1)}` }],
    ['token with a suffix', { authorization: `Bearer ${apiToken}x` }],
    ['basic scheme', { authorization: `Basic ${Buffer.from(`admin:${apiToken}`).toString('base64')}` }],
    ['token without scheme', { authorization: apiToken }],
    ['token in the query', {}],
  ]
  let routes = 0
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!['get', 'post', 'patch'].includes(method) || operation.security?.length === 0) continue
      routes += 1
      const url = path.replace(/\{[^}]+\}/g, '1')
      for (const [name, headers] of wrongHeaders) {
        const target = name === 'token in the query' ? `${url}?token=${apiToken}` : url
        const response = await app.inject({ method: method.toUpperCase() as 'GET', url: target, headers })
        t.equal(response.statusCode, 401, `${method} ${path} ${name}`)
        t.equal(response.json().code, 'UNAUTHORIZED', `${method} ${path} ${name}: code`)
      }
    }
  }
  t.ok(routes >= 14, `${routes} admin routes checked`)
})

t.test('safeEqual compares whole values of any length', async (t) => {
  t.equal(safeEqual(apiToken, apiToken), true)
  t.equal(safeEqual(apiToken, `${apiToken} `), false)
  t.equal(safeEqual(apiToken, ''), false)
  t.equal(safeEqual('', ''), true)
  t.equal(safeEqual('a'.repeat(10_000), 'a'.repeat(9_999) + 'b'), false)
  const source = readFileSync(new URL('../../src/http/plugins/adminAuth.ts', import.meta.url), 'utf8')
  t.match(source, /safeEqual\(presented, expected\)/, 'adminAuth compares the token with safeEqual')
  t.notMatch(source, /presented\s*[!=]==?\s*expected|expected\s*[!=]==?\s*presented/, 'and never with ===')
})

t.test('webhooks reject unsigned, forged and stale requests', async (t) => {
  const body = JSON.stringify([{ portalId: 901, occurredAt: Date.now(), subscriptionType: 'contact.creation', objectId: 3 }])
  const cases: [string, Record<string, string>][] = [
    ['unsigned', { 'content-type': 'application/json' }],
    ['forged', signV3({ body, secret: 'guessed-secret' })],
    ['stale', signV3({ body, timestampMs: Date.now() - 6 * 60_000 })],
    ['future', signV3({ body, timestampMs: Date.now() + 6 * 60_000 })],
    ['timestamp not a number', { ...signV3({ body }), 'x-hubspot-request-timestamp': 'soon' }],
  ]
  for (const [name, headers] of cases) {
    const response = await app.inject({ method: 'POST', url: '/webhooks/hubspot', headers, payload: body })
    t.equal(response.statusCode, 401, name)
    t.equal(response.json().code, 'WEBHOOK_SIGNATURE_INVALID', `${name}: code`)
  }
  const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from webhook_events`
  t.equal(count, 0, 'nothing stored')
  t.equal((await postSigned(app, { body })).statusCode, 200, 'the signed request is accepted')
})

t.test('request bodies are bounded on every route', async (t) => {
  const oversized = Buffer.alloc(adminBodyLimitBytes + 1, 0x20)
  const bodyRoutes: [string, string][] = [
    ['POST', '/integrations'],
    ['PATCH', '/integrations/1'],
    ['POST', '/sync/1'],
    ['POST', '/leads/1/actions/replay'],
    ['POST', '/integrations/1/actions/replay'],
    ['POST', '/webhook-events/retry'],
  ]
  for (const [method, url] of bodyRoutes) {
    const headers = { ...auth, 'content-type': 'application/json' }
    const response = await app.inject({ method: method as 'POST', url, headers, payload: oversized })
    t.equal(response.statusCode, 413, `${method} ${url}: 413 over 1 MiB`)
  }
  const unauthenticated = await app.inject({
    method: 'POST',
    url: '/integrations',
    headers: { 'content-type': 'application/json' },
    payload: oversized,
  })
  t.equal(unauthenticated.statusCode, 401, 'an oversized body without a token is rejected before it is read')

  const webhookBody = Buffer.alloc(webhookBodyLimitBytes + 1, 0x20)
  const webhook = await app.inject({ method: 'POST', url: '/webhooks/hubspot', headers: signV3({ body: webhookBody }), payload: webhookBody })
  t.equal(webhook.statusCode, 413, 'webhook: 413 over 2 MiB')

  for (const url of ['/healthz', '/integrations', '/metrics']) {
    const response = await app.inject({ method: 'GET', url, headers: { ...auth, 'content-type': 'application/json' }, payload: webhookBody })
    t.ok(response.statusCode < 500, `GET ${url} with a large body is not a server error (${response.statusCode})`)
  }
})
