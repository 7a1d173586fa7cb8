import t, { type Test } from 'tap'

import type { Sql } from '../../src/db/connection.js'
import type { Integration } from '../../src/db/integrations.js'
import { ErrorCode } from '../../src/errors.js'
import { registry } from '../../src/metrics.js'
import { createTestDatabase } from '../helpers/database.js'
import {
  addIntegration,
  clientsFor,
  contactJson,
  fakeClock,
  sendJson,
  startFakeHubSpot,
  type ClientOptions,
  type FakeHandler,
} from './clientHelpers.js'

const listPage = {
  results: [contactJson('101'), contactJson('102')],
  paging: { next: { after: '103' } },
}
const searchPage = { total: 2, results: [contactJson('101'), contactJson('102')] }

function rateLimitBody(policyName: string): Record<string, string> {
  return {
    status: 'error',
    message: `You have reached your ${policyName.toLowerCase()} limit.`,
    errorType: 'RATE_LIMIT',
    correlationId: 'c0ffee00-0000-4000-8000-000000000429',
    policyName,
  }
}

/** Responds to a request with `status` and `body` as JSON. */
function respond(status: number, body: unknown, headers: Record<string, string> = {}): FakeHandler {
  return (_request, response) => sendJson(response, status, body, headers)
}

/** Responds with HubSpot's 429 body for `policyName`. */
function rateLimited(policyName: string, headers: Record<string, string> = {}): FakeHandler {
  return respond(429, rateLimitBody(policyName), headers)
}

/** Responds to request number i with `answers[i]`, and with the last one after that. */
function answerInTurn(answers: FakeHandler[]): FakeHandler {
  return (request, response, index) =>
    answers[Math.min(index, answers.length - 1)](request, response, index)
}

const okList = respond(200, listPage)
const okSearch = respond(200, searchPage)

interface ClientTarget {
  sql: Sql
  integration: Integration
}

/** Starts a fake HubSpot that responds with `handler`, and a client of it on a fake clock. */
async function startClient(
  t: Test,
  target: ClientTarget,
  handler: FakeHandler,
  options: ClientOptions = {},
) {
  const fake = await startFakeHubSpot(t, handler)
  const clock = fakeClock()
  const { clients } = clientsFor(t, target.sql, fake.url, { clock, ...options })
  return { fake, clock, api: clients.forIntegration(target.integration) }
}

async function metricValue(name: string, labels: Record<string, string | number>): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  const match = values.find((value) =>
    Object.entries(labels).every(([key, expected]) => value.labels[key] === expected),
  )
  return match?.value ?? 0
}

t.test('client retry policies', async (t) => {
  const { sql } = await createTestDatabase(t)
  const integration = await addIntegration(sql, { portalId: 12345678, accessToken: 'pat-test' })
  const target = { sql, integration }

  t.test('429 TEN_SECONDLY_ROLLING waits and retries', async (t) => {
    const handler = answerInTurn([rateLimited('TEN_SECONDLY_ROLLING'), okList])
    const { fake, api } = await startClient(t, target, handler)
    const limitedBefore = await metricValue('hubspot_sync_hubspot_rate_limited_total', {
      policy: 'TEN_SECONDLY_ROLLING',
    })

    const page = await api.listContacts({})

    t.same(
      page.contacts.map((contact) => contact.id),
      ['101', '102'],
    )
    t.equal(fake.requests.length, 2, 'the call is sent again after the wait')
    t.same(api.stats.rateLimited, { TEN_SECONDLY_ROLLING: 1 })
    t.equal(api.stats.rateLimitWaits, 1)
    t.ok(api.stats.waitedMs >= 1000, `waited ${api.stats.waitedMs} ms`)
    const limitedAfter = await metricValue('hubspot_sync_hubspot_rate_limited_total', {
      policy: 'TEN_SECONDLY_ROLLING',
    })
    t.equal(limitedAfter - limitedBefore, 1, 'the 429 is counted in metrics')
  })

  t.test('429 SECONDLY on search waits and retries', async (t) => {
    const handler = answerInTurn([rateLimited('SECONDLY'), rateLimited('SECONDLY'), okSearch])
    const { fake, api } = await startClient(t, target, handler)

    const page = await api.searchContacts({ limit: 2 })

    t.equal(page.total, 2)
    t.equal(fake.requests.length, 3)
    t.same(api.stats.rateLimited, { SECONDLY: 2 })
    t.equal(api.stats.rateLimitWaits, 2)
    t.ok(
      api.stats.waitedMs >= 2000,
      `each 429 holds the search budget back for at least 1 s (waited ${api.stats.waitedMs} ms)`,
    )
  })

  t.test('Retry-After on a 429 sets the wait', async (t) => {
    const handler = answerInTurn([rateLimited('SECONDLY', { 'retry-after': '7' }), okSearch])
    const { clock, api } = await startClient(t, target, handler)

    await api.searchContacts({})

    t.same(clock.sleeps, [7000])
    t.equal(api.stats.waitedMs, 7000)
  })

  t.test('Retry-After on a 503 replaces the backoff', async (t) => {
    const down = respond(503, { status: 'error', message: 'down' }, { 'retry-after': '4' })
    const { clock, api } = await startClient(t, target, answerInTurn([down, okList]))

    await api.listContacts({})

    t.same(clock.sleeps, [4000])
  })

  t.test('429 DAILY throws at once', async (t) => {
    const handler = answerInTurn([rateLimited('DAILY'), okList])
    const { fake, clock, api } = await startClient(t, target, handler)

    await t.rejects(api.listContacts({}), { code: ErrorCode.HUBSPOT_DAILY_LIMIT })
    t.equal(fake.requests.length, 1, 'no retry')
    t.same(clock.sleeps, [], 'no wait')
    t.same(api.stats.rateLimited, { DAILY: 1 })
  })

  t.test('5xx storm then success', async (t) => {
    const html502 = '<html><head><title>502 Bad Gateway</title></head></html>'
    const handler = answerInTurn([
      respond(500, { status: 'error', message: 'internal error' }),
      (_request, response) => {
        response.writeHead(502, { 'content-type': 'text/html' })
        response.end(html502)
      },
      respond(503, { status: 'error', message: 'unavailable' }),
      respond(504, { status: 'error', message: 'timeout' }),
      okList,
    ])
    const { fake, clock, api } = await startClient(t, target, handler, { retryBaseDelayMs: 100 })
    const callsBefore = await metricValue('hubspot_sync_hubspot_calls_total', {
      endpoint: 'GET /crm/v3/objects/contacts',
      status: 502,
    })

    const page = await api.listContacts({})

    t.equal(page.contacts.length, 2)
    t.equal(fake.requests.length, 5)
    t.equal(api.stats.calls, 5)
    t.same(
      clock.sleeps,
      [50, 100, 200, 400],
      'full jitter with random 0.5: half of 100 * 2^(attempt - 1)',
    )
    const callsAfter = await metricValue('hubspot_sync_hubspot_calls_total', {
      endpoint: 'GET /crm/v3/objects/contacts',
      status: 502,
    })
    t.equal(callsAfter - callsBefore, 1, 'calls are counted by status')
  })

  t.test('retries are bounded by HUBSPOT_MAX_ATTEMPTS', async (t) => {
    const unavailable = respond(503, { status: 'error', message: 'unavailable' })
    const { fake, clock, api } = await startClient(t, target, unavailable, {
      env: { HUBSPOT_MAX_ATTEMPTS: '3' },
    })

    await t.rejects(api.listContacts({}), {
      code: ErrorCode.HUBSPOT_UNAVAILABLE,
      context: { attempts: 3 },
    })
    t.equal(fake.requests.length, 3)
    t.equal(clock.sleeps.length, 2)
  })

  t.test('423 waits at least 2 seconds', async (t) => {
    const locked = respond(423, { status: 'error', message: 'locked', category: 'LOCKED' })
    const { fake, clock, api } = await startClient(t, target, answerInTurn([locked, okList]))

    await api.listContacts({})

    t.equal(fake.requests.length, 2)
    t.ok(clock.sleeps[0] >= 2000, `slept ${clock.sleeps[0]} ms`)
  })

  t.test('a timed-out request is retried', async (t) => {
    const handler = answerInTurn([
      () => {
        // Never responds; the client's socket timeout has to end the request.
      },
      okList,
    ])
    const { fake, clock, api } = await startClient(t, target, handler, {
      env: { HUBSPOT_TIMEOUT_MS: '300' },
    })

    const page = await api.listContacts({})

    t.equal(page.contacts.length, 2)
    t.equal(fake.requests.length, 2)
    t.equal(clock.sleeps.length, 1, 'one backoff before the second attempt')
  })

  t.test('a reset connection is retried', async (t) => {
    const handler = answerInTurn([(_request, response) => void response.socket?.destroy(), okList])
    const { fake, api } = await startClient(t, target, handler)

    const page = await api.listContacts({})

    t.equal(page.contacts.length, 2)
    t.equal(fake.requests.length, 2)
  })

  t.test('invalid JSON in a 200 is a bad response', async (t) => {
    const { fake, api } = await startClient(t, target, respond(200, '{"results": [{"id": "1"'))

    await t.rejects(api.listContacts({}), {
      code: ErrorCode.HUBSPOT_BAD_RESPONSE,
      message: /not valid JSON/,
    })
    t.equal(fake.requests.length, 1)
  })

  t.test('a 200 with the wrong shape is a bad response', async (t) => {
    const { api } = await startClient(t, target, respond(200, { items: [] }))

    await t.rejects(api.searchContacts({}), {
      code: ErrorCode.HUBSPOT_BAD_RESPONSE,
      message: /results/,
    })
  })

  t.test('a bad contact is reported and the rest of the page kept', async (t) => {
    const badProperties = { ...contactJson('202'), properties: { email: 42 } }
    const noId = { properties: {}, createdAt: 'x', updatedAt: 'x' }
    const body = { results: [contactJson('201'), badProperties, noId, contactJson('203')] }
    const { api } = await startClient(t, target, respond(200, body))

    const page = await api.listContacts({})

    t.same(
      page.contacts.map((contact) => contact.id),
      ['201', '203'],
    )
    t.equal(page.invalid.length, 2)
    t.equal(page.invalid[0].id, '202')
    t.match(page.invalid[0].reason, /properties\.email/)
    t.equal(page.invalid[1].id, null)
    t.equal(page.nextAfter, null)
  })

  t.test('other 4xx is rejected with the message and correlation id', async (t) => {
    const body = {
      status: 'error',
      message: 'There was a problem with the request.',
      correlationId: 'b3a7a2d4-0276-4890-bb06-546f121e3d6a',
      category: 'VALIDATION_ERROR',
    }
    const { fake, api } = await startClient(t, target, respond(400, body))

    await t.rejects(api.searchContacts({}), {
      code: ErrorCode.HUBSPOT_REQUEST_REJECTED,
      message: /400: There was a problem with the request\./,
      context: { status: 400, correlationId: body.correlationId, category: 'VALIDATION_ERROR' },
    })
    t.equal(fake.requests.length, 1)
  })

  t.test('401 on a private-app token fails without retry', async (t) => {
    const body = {
      status: 'error',
      message: 'Authentication credentials not found.',
      category: 'INVALID_AUTHENTICATION',
    }
    const { fake, api } = await startClient(t, target, respond(401, body))

    await t.rejects(api.listContacts({}), { code: ErrorCode.HUBSPOT_AUTH_FAILED })
    t.equal(fake.requests.length, 1)
    t.equal(fake.requests[0].headers.authorization, 'Bearer pat-test')
  })
})
