import { Writable } from 'node:stream'

import t, { type Test } from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { findStoredCredentials } from '../../src/db/credentials.js'
import { findIntegration, type Integration } from '../../src/db/integrations.js'
import { ErrorCode } from '../../src/errors.js'
import { createLogger } from '../../src/logger.js'
import { createTestDatabase } from '../helpers/database.js'
import {
  addIntegration,
  clientsFor,
  contactJson,
  sendJson,
  startFakeHubSpot,
  testEncryptionKey,
  type FakeHandler,
  type RecordedRequest,
} from './clientHelpers.js'

const oauthEnv = { HUBSPOT_CLIENT_ID: 'client-id-1', HUBSPOT_CLIENT_SECRET: 'client-secret-1' }
const minuteMs = 60_000
const listPage = { results: [contactJson('101')] }
const expiredBody = {
  status: 'error',
  message: 'The OAuth token used to make this call expired 75 second(s) ago.',
  category: 'EXPIRED_AUTHENTICATION',
}

let nextPortalId = 30_000_000

async function addOAuthIntegration(
  sql: Sql,
  accessToken: string,
  expiresInMs: number,
): Promise<Integration> {
  const expiresAt = new Date(Date.now() + expiresInMs)
  return addIntegration(sql, {
    portalId: nextPortalId++,
    oauth: { accessToken, refreshToken: 'refresh-1', expiresAt },
  })
}

interface TokenServerOptions {
  /** Responses of the token endpoint, in turn (the last repeats); default: a fresh token. */
  tokenAnswers?: FakeHandler[]
  /** Responses to CRM calls, in turn (the last repeats); default: a list page. */
  crmAnswers?: FakeHandler[]
}

function grantToken(accessToken: string, delayMs = 0): FakeHandler {
  const body = {
    token_type: 'bearer',
    access_token: accessToken,
    refresh_token: 'refresh-1',
    expires_in: 1800,
  }
  return (_request, response) => {
    setTimeout(() => sendJson(response, 200, body), delayMs)
  }
}

/** Starts a fake HubSpot with the OAuth token endpoint and CRM endpoints, counted apart. */
async function startTokenServer(t: Test, options: TokenServerOptions = {}) {
  const tokenAnswers = options.tokenAnswers ?? [grantToken('access-2')]
  const crmAnswers = options.crmAnswers ?? [
    (_request, response) => sendJson(response, 200, listPage),
  ]
  const tokenRequests: RecordedRequest[] = []
  const crmRequests: RecordedRequest[] = []
  const fake = await startFakeHubSpot(t, (request, response, index) => {
    const [list, answers] =
      request.path === '/oauth/v1/token' ? [tokenRequests, tokenAnswers] : [crmRequests, crmAnswers]
    list.push(request)
    return answers[Math.min(list.length - 1, answers.length - 1)](request, response, index)
  })
  return { url: fake.url, tokenRequests, crmRequests }
}

t.test('OAuth access tokens', async (t) => {
  const { sql } = await createTestDatabase(t)

  t.test('a token close to expiry is refreshed before the call', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', 2 * minuteMs)
    const server = await startTokenServer(t)
    const api = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    await api.listContacts({})

    t.equal(server.tokenRequests.length, 1)
    const form = new URLSearchParams(server.tokenRequests[0].body)
    t.equal(form.get('grant_type'), 'refresh_token')
    t.equal(form.get('refresh_token'), 'refresh-1')
    t.equal(form.get('client_id'), 'client-id-1')
    t.equal(form.get('client_secret'), 'client-secret-1')
    t.match(server.tokenRequests[0].headers['content-type'], /application\/x-www-form-urlencoded/)
    t.equal(server.crmRequests[0].headers.authorization, 'Bearer access-2')

    const stored = await findStoredCredentials(sql, testEncryptionKey, integration.id)
    t.same(stored.credentials, { accessToken: 'access-2', refreshToken: 'refresh-1' })
    const expiresInMs = (stored.accessTokenExpiresAt?.getTime() ?? 0) - Date.now()
    t.ok(
      expiresInMs > 29 * minuteMs && expiresInMs <= 30 * minuteMs,
      'the new expiry is 30 minutes ahead',
    )
  })

  t.test('a fresh token is used without refresh', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', 20 * minuteMs)
    const server = await startTokenServer(t)
    const api = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    await api.listContacts({})
    await api.listContacts({})

    t.equal(server.tokenRequests.length, 0)
    t.same(
      server.crmRequests.map((request) => request.headers.authorization),
      ['Bearer access-1', 'Bearer access-1'],
    )
  })

  t.test('two replicas refreshing at once make one refresh', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', -minuteMs)
    const server = await startTokenServer(t, {
      tokenAnswers: [grantToken('access-2', 300), grantToken('access-3')],
    })
    const replicaA = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )
    const replicaB = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    await Promise.all([
      replicaA.listContacts({}),
      replicaB.listContacts({}),
      replicaA.listContacts({}),
      replicaB.listContacts({}),
    ])

    t.equal(server.tokenRequests.length, 1, 'exactly one token request')
    t.same(
      new Set(server.crmRequests.map((request) => request.headers.authorization)),
      new Set(['Bearer access-2']),
    )
  })

  t.test('a 401 EXPIRED_AUTHENTICATION refreshes once and retries once', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', 20 * minuteMs)
    const server = await startTokenServer(t, {
      crmAnswers: [
        (_request, response) => sendJson(response, 401, expiredBody),
        (_request, response) => sendJson(response, 200, listPage),
      ],
    })
    const api = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    const page = await api.listContacts({})

    t.equal(page.contacts.length, 1)
    t.equal(server.tokenRequests.length, 1)
    t.same(
      server.crmRequests.map((request) => request.headers.authorization),
      ['Bearer access-1', 'Bearer access-2'],
    )
  })

  t.test('a second 401 after the refresh fails the call', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', 20 * minuteMs)
    const server = await startTokenServer(t, {
      crmAnswers: [(_request, response) => sendJson(response, 401, expiredBody)],
    })
    const api = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    await t.rejects(api.listContacts({}), { code: ErrorCode.HUBSPOT_AUTH_FAILED })
    t.equal(server.tokenRequests.length, 1)
    t.equal(server.crmRequests.length, 2)
  })

  t.test('a revoked refresh token marks the integration needs_reauth', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', -minuteMs)
    const revoked: FakeHandler = (_request, response) =>
      sendJson(response, 400, {
        status: 'BAD_REFRESH_TOKEN',
        message: 'missing or invalid refresh token',
        correlationId: 'c-1',
      })
    const server = await startTokenServer(t, { tokenAnswers: [revoked] })
    const api = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    await t.rejects(api.listContacts({}), {
      code: ErrorCode.HUBSPOT_REAUTH_REQUIRED,
      message: /missing or invalid refresh token/,
    })
    const row = await findIntegration(sql, integration.id)
    t.equal(row?.status, 'needs_reauth')
    t.match(
      row?.statusReason,
      /HubSpot rejected the OAuth refresh token \(missing or invalid refresh token\)/,
    )

    await t.rejects(api.listContacts({}), { code: ErrorCode.HUBSPOT_REAUTH_REQUIRED })
    t.equal(server.tokenRequests.length, 1, 'a marked integration is not refreshed again')
    t.equal(server.crmRequests.length, 0)
  })

  t.test('an invalid_grant answer also marks needs_reauth', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', -minuteMs)
    const invalidGrant: FakeHandler = (_request, response) =>
      sendJson(response, 400, { error: 'invalid_grant' })
    const server = await startTokenServer(t, { tokenAnswers: [invalidGrant] })
    const api = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    await t.rejects(api.listContacts({}), { code: ErrorCode.HUBSPOT_REAUTH_REQUIRED })
    t.equal((await findIntegration(sql, integration.id))?.status, 'needs_reauth')
  })

  t.test('a rejected OAuth client does not mark the integration', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', -minuteMs)
    const badClient: FakeHandler = (_request, response) =>
      sendJson(response, 400, { status: 'BAD_CLIENT_ID', message: 'missing or invalid client_id' })
    const server = await startTokenServer(t, { tokenAnswers: [badClient] })
    const api = clientsFor(t, sql, server.url, { env: oauthEnv }).clients.forIntegration(
      integration,
    )

    await t.rejects(api.listContacts({}), {
      code: ErrorCode.HUBSPOT_AUTH_FAILED,
      message: /HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET/,
    })
    t.equal((await findIntegration(sql, integration.id))?.status, 'active')
  })

  t.test('a token endpoint failure is retried', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', -minuteMs)
    const down: FakeHandler = (_request, response) => sendJson(response, 502, 'bad gateway')
    const server = await startTokenServer(t, { tokenAnswers: [down, grantToken('access-2')] })
    const { clients } = clientsFor(t, sql, server.url, { env: oauthEnv, retryBaseDelayMs: 1 })

    await clients.forIntegration(integration).listContacts({})

    t.equal(server.tokenRequests.length, 2)
    t.equal(server.crmRequests[0].headers.authorization, 'Bearer access-2')
  })

  t.test('missing OAuth client settings name both variables', async (t) => {
    const integration = await addOAuthIntegration(sql, 'access-1', 20 * minuteMs)
    const server = await startTokenServer(t)
    const api = clientsFor(t, sql, server.url).clients.forIntegration(integration)

    await t.rejects(api.listContacts({}), {
      code: ErrorCode.HUBSPOT_AUTH_FAILED,
      message: /HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET must be set/,
    })
    t.equal(server.crmRequests.length, 0)
  })

  t.test('tokens and secrets never reach the log', async (t) => {
    const lines: string[] = []
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const logger = createLogger('trace', destination)
    const integration = await addOAuthIntegration(sql, 'access-secret-1', 20 * minuteMs)
    const server = await startTokenServer(t, {
      tokenAnswers: [grantToken('access-secret-2')],
      crmAnswers: [
        (_request, response) => sendJson(response, 401, expiredBody),
        (_request, response) =>
          sendJson(response, 503, { status: 'error', message: 'unavailable' }),
        (_request, response) => sendJson(response, 200, listPage),
      ],
    })
    const api = clientsFor(t, sql, server.url, {
      env: oauthEnv,
      logger,
      retryBaseDelayMs: 1,
    }).clients.forIntegration(integration)

    await api.listContacts({})

    const output = lines.join('')
    t.ok(lines.length >= 2, 'the refresh and the retry were logged')
    for (const secret of ['access-secret-1', 'access-secret-2', 'refresh-1', 'client-secret-1']) {
      t.notOk(output.includes(secret), `${secret} is not in the log`)
    }
  })
})
