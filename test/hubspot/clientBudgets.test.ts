import t, { type Test } from 'tap'

import { syncedProperties } from '../../src/hubspot/types.js'
import { createTestDatabase } from '../helpers/database.js'
import {
  addIntegration,
  clientsFor,
  contactJson,
  fakeClock,
  sendJson,
  startFakeHubSpot,
  type RecordedRequest,
} from './clientHelpers.js'

/** Counts the most requests that arrived at the fake server within any `windowMs`. */
function maxInAnyWindow(requests: RecordedRequest[], windowMs: number): number {
  const times = requests.map((request) => request.receivedAtMs).sort((a, b) => a - b)
  let max = 0
  for (let first = 0; first < times.length; first++) {
    let last = first
    while (last + 1 < times.length && times[last + 1] - times[first] < windowMs) last++
    max = Math.max(max, last - first + 1)
  }
  return max
}

function listAnswer(request: RecordedRequest): Record<string, unknown> {
  const url = new URL(request.url, 'http://fake.local')
  const limit = Number(url.searchParams.get('limit') ?? 10)
  const first = Number(url.searchParams.get('after') ?? 1000)
  const ids = Array.from({ length: limit }, (_, index) => String(first + index))
  return {
    results: ids.map((id) => contactJson(id)),
    paging: { next: { after: String(first + limit) } },
  }
}

/** HubSpot's burst rate-limit headers: `max` calls per `intervalMs`, `remaining` of them left. */
function rateLimitHeaders(max: number, intervalMs: number, remaining: number) {
  return {
    'x-hubspot-ratelimit-max': String(max),
    'x-hubspot-ratelimit-interval-milliseconds': String(intervalMs),
    'x-hubspot-ratelimit-remaining': String(remaining),
  }
}

/** Starts a fake HubSpot that responds to every request with a list page of `limit` contacts. */
function startListFake(t: Test, headers: Record<string, string> = {}) {
  return startFakeHubSpot(t, (request, response) =>
    sendJson(response, 200, listAnswer(request), headers),
  )
}

function batchReadAnswer(
  request: RecordedRequest,
  missing: Set<string> = new Set(),
): { status: number; body: unknown } {
  const body = JSON.parse(request.body) as { inputs: { id: string }[] }
  const ids = body.inputs.map((input) => input.id)
  // HubSpot does not promise result order; reverse it to prove the client restores list order.
  const results = ids
    .filter((id) => !missing.has(id))
    .reverse()
    .map((id) => contactJson(id))
  const missed = ids.filter((id) => missing.has(id))
  if (missed.length === 0) return { status: 200, body: { status: 'COMPLETE', results } }
  const errors = [
    {
      status: 'error',
      category: 'OBJECT_NOT_FOUND',
      message: 'Could not get some CONTACT objects',
      context: { ids: missed },
    },
  ]
  return { status: 207, body: { status: 'COMPLETE', results, numErrors: 1, errors } }
}

t.test('client request budgets', async (t) => {
  const { sql } = await createTestDatabase(t)
  const integration = await addIntegration(sql, { portalId: 11111111, accessToken: 'pat-budgets' })

  t.test('search stays within the per-second budget across clients of a portal', async (t) => {
    const fake = await startFakeHubSpot(t, (_request, response) =>
      sendJson(response, 200, { total: 0, results: [] }),
    )
    const { clients } = clientsFor(t, sql, fake.url, {
      env: { HUBSPOT_SEARCH_REQUESTS_PER_SECOND: '4' },
    })
    const first = clients.forIntegration(integration)
    const second = clients.forIntegration(integration)

    const searches = Array.from({ length: 13 }, (_, index) =>
      (index % 2 === 0 ? first : second).searchContacts({}),
    )
    await Promise.all(searches)

    t.equal(fake.requests.length, 13)
    const busiest = maxInAnyWindow(fake.requests, 1000)
    t.ok(busiest <= 4, `at most 4 searches arrived within one second (saw ${busiest})`)
    t.ok(first.stats.rateLimitWaits + second.stats.rateLimitWaits > 0, 'waits are counted')
  })

  t.test('the burst budget follows the rate-limit headers', async (t) => {
    const fake = await startListFake(t, rateLimitHeaders(3, 1000, 2))
    const api = clientsFor(t, sql, fake.url).clients.forIntegration(integration)

    await api.listContacts({ limit: 1 })
    await Promise.all(Array.from({ length: 8 }, () => api.listContacts({ limit: 1 })))

    const busiest = maxInAnyWindow(fake.requests, 1000)
    t.ok(busiest <= 3, `at most 3 calls arrived within one interval (saw ${busiest})`)
  })

  t.test('fewer remaining calls than counted holds calls back', async (t) => {
    const fake = await startListFake(t, rateLimitHeaders(100, 10_000, 0))
    const clock = fakeClock()
    const api = clientsFor(t, sql, fake.url, { clock }).clients.forIntegration(integration)

    await api.listContacts({ limit: 1 })
    t.same(clock.sleeps, [], 'the first call goes at once')
    await api.listContacts({ limit: 1 })

    t.equal(api.stats.rateLimitWaits, 1)
    t.ok(clock.sleeps[0] >= 10_000, `waited ${clock.sleeps[0]} ms for the window to clear`)
  })

  t.test('the integration burst budget overrides the configured one', async (t) => {
    const limited = await addIntegration(sql, {
      portalId: 22222222,
      accessToken: 'pat-limited',
      burstPer10Seconds: 2,
    })
    const fake = await startListFake(t)
    const clock = fakeClock()
    const api = clientsFor(t, sql, fake.url, { clock }).clients.forIntegration(limited)

    for (let call = 0; call < 3; call++) await api.listContacts({ limit: 1 })

    t.equal(clock.sleeps.length, 1, 'only the third call waits')
    t.ok(clock.sleeps[0] >= 10_000, `waited ${clock.sleeps[0]} ms`)
  })

  t.test('default properties travel in the list query', async (t) => {
    const fake = await startListFake(t)
    const api = clientsFor(t, sql, fake.url).clients.forIntegration(integration)

    const page = await api.listContacts({ limit: 5, after: '2000', archived: true })

    t.equal(fake.requests.length, 1)
    const url = new URL(fake.requests[0].url, 'http://fake.local')
    t.same(url.searchParams.getAll('properties'), [...syncedProperties])
    t.equal(url.searchParams.get('archived'), 'true')
    t.equal(url.searchParams.get('after'), '2000')
    t.equal(page.nextAfter, '2005')
  })

  t.test('a long property list never goes into the URL', async (t) => {
    const properties = Array.from({ length: 300 }, (_, index) => `custom_property_number_${index}`)
    const fake = await startFakeHubSpot(t, (request, response) => {
      if (request.method === 'GET') return sendJson(response, 200, listAnswer(request))
      const answer = batchReadAnswer(request, new Set(['3002']))
      sendJson(response, answer.status, answer.body)
    })
    const api = clientsFor(t, sql, fake.url).clients.forIntegration(integration)

    const page = await api.listContacts({ limit: 5, after: '3000', properties })

    t.same(
      fake.requests.map((request) => `${request.method} ${request.path}`),
      ['GET /crm/v3/objects/contacts', 'POST /crm/v3/objects/contacts/batch/read'],
    )
    for (const request of fake.requests)
      t.ok(request.url.length < 2000, `${request.method} URL is ${request.url.length} characters`)
    t.same(new URL(fake.requests[0].url, 'http://fake.local').searchParams.getAll('properties'), [
      'hs_object_id',
    ])
    t.same(
      JSON.parse(fake.requests[1].body).properties,
      properties,
      'properties travel in the batch read body',
    )
    t.same(
      page.contacts.map((contact) => contact.id),
      ['3000', '3001', '3003', '3004'],
      'list order, without the vanished contact',
    )
    t.equal(page.nextAfter, '3005')
  })

  t.test('batch read splits into requests of 100 ids', async (t) => {
    const fake = await startFakeHubSpot(t, (request, response) => {
      const answer = batchReadAnswer(request, new Set(['5', '150']))
      sendJson(response, answer.status, answer.body)
    })
    const api = clientsFor(t, sql, fake.url).clients.forIntegration(integration)
    const ids = Array.from({ length: 250 }, (_, index) => String(index + 1))

    const read = await api.batchReadContacts([...ids, '1'], {
      properties: ['email'],
      archived: true,
    })

    const sizes = fake.requests.map((request) => JSON.parse(request.body).inputs.length)
    t.same(sizes, [100, 100, 50], 'duplicate ids are sent once')
    t.ok(fake.requests.every((request) => request.url.endsWith('archived=true')))
    t.same(JSON.parse(fake.requests[0].body).properties, ['email'])
    t.equal(read.contacts.length, 248)
    t.same(read.missingIds, ['5', '150'])
    t.same(read.invalid, [])
    t.equal(api.stats.calls, 3)
  })

  t.test('batch read of no ids sends nothing', async (t) => {
    const fake = await startFakeHubSpot(t, (_request, response) => sendJson(response, 500, {}))
    const api = clientsFor(t, sql, fake.url).clients.forIntegration(integration)

    t.same(await api.batchReadContacts([]), { contacts: [], missingIds: [], invalid: [] })
    t.equal(fake.requests.length, 0)
  })
})
