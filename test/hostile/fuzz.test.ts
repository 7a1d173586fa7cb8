import t from 'tap'

import { createTestDatabase } from '../helpers/database.js'
import { adminConfig, auth, buildAdminApp } from '../http/helpers.js'
import { clientSecret, publicUrl, signV3 } from '../webhooks/fixtures/delivery.js'
import { createIntegration } from '../webhooks/fixtures/leads.js'
import { corpusPortalId, nestedArrays, validEvent } from './corpus.js'

/** Fixed seed so a failure reproduces. FUZZ_SEED picks another run. */
const seed = Number(process.env.FUZZ_SEED ?? 20240301)
const maxRequests = 3_000
const maxDurationMs = 8_000

/** mulberry32: a small seeded PRNG, good enough to pick mutations. */
function createRandom(initial: number) {
  let state = initial >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = Math.imul(state ^ (state >>> 15), 1 | state)
    value ^= value + Math.imul(value ^ (value >>> 7), 61 | value)
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
  const int = (max: number) => Math.floor(next() * max)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]
  return { next, int, pick }
}

type Random = ReturnType<typeof createRandom>

const oddValues: readonly unknown[] = [
  null, true, false, 0, -1, 1.5, 2 ** 53 + 2, 8.64e15 + 1, 1e308, '', ' ', '\u0000', 'x'.repeat(5_000),
  '1,234.50', '😀', '\u202Eevil', [], [1, 2], {}, { nested: { deeper: [null] } }, '1700000000000',
  '__proto__', { __proto__: { polluted: 'yes' } }, { constructor: { prototype: { polluted: 'yes' } } },
]
const fieldNames = [
  'portalId', 'occurredAt', 'subscriptionType', 'objectId', 'propertyName', 'propertyValue',
  'mergedObjectIds', 'eventId', 'objectTypeId', 'newObjectId', '__proto__', 'constructor', 'extra',
]
const types = ['contact.creation', 'contact.propertyChange', 'contact.deletion', 'contact.merge', 'object.creation']

function randomEvent(random: Random): Record<string, unknown> {
  return validEvent({
    objectId: 1 + random.int(50),
    occurredAt: 1_700_000_000_000 + random.int(1_000_000),
    subscriptionType: random.pick(types),
    propertyName: 'firstname',
    propertyValue: `v${random.int(1000)}`,
  })
}

/** Applies one structured change to a parsed batch: a field gets an odd value, is removed, or is added. */
function mutateBatch(random: Random, events: Record<string, unknown>[]): unknown {
  const event = events[random.int(events.length)]
  const field = random.pick(fieldNames)
  switch (random.int(6)) {
    case 0:
      Object.defineProperty(event, field, { value: random.pick(oddValues), enumerable: true, writable: true })
      return events
    case 1:
      delete event[field]
      return events
    case 2:
      return random.pick([events[0], null, 'text', 42, { events }])
    case 3:
      return [...events, random.pick(oddValues)]
    case 4:
      event.extra = JSON.parse(nestedArrays(1 + random.int(2_000)))
      return events
    default:
      return events
  }
}

/**
 * Damages JSON text at the byte level: flips a bit, cuts the end, inserts bytes, or replaces the
 * text with random bytes. One time in five it returns the text unchanged.
 */
function damageBytes(random: Random, text: string): Buffer {
  const bytes = Buffer.from(text)
  switch (random.int(5)) {
    case 0:
      bytes[random.int(bytes.length)] ^= 1 << random.int(8)
      return bytes
    case 1:
      return bytes.subarray(0, random.int(bytes.length))
    case 2: {
      const at = random.int(bytes.length)
      return Buffer.concat([bytes.subarray(0, at), randomBytesFrom(random, 1 + random.int(8)), bytes.subarray(at)])
    }
    case 3:
      return randomBytesFrom(random, random.int(2_000))
    default:
      return bytes
  }
}

function randomBytesFrom(random: Random, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => random.int(256)))
}

function randomBody(random: Random): Buffer {
  const events = Array.from({ length: 1 + random.int(5) }, () => randomEvent(random))
  const mutated = random.next() < 0.7 ? mutateBatch(random, events) : events
  const text = JSON.stringify(mutated)
  return random.next() < 0.35 ? damageBytes(random, text) : Buffer.from(text)
}

const db = await createTestDatabase(t)
await createIntegration(db.sql, corpusPortalId)
const config = adminConfig({ HUBSPOT_CLIENT_SECRET: clientSecret, WEBHOOK_PUBLIC_URL: publicUrl })
const app = await buildAdminApp(t, db.sql, { config })

t.test('randomized webhook bodies never get a 5xx', async (t) => {
  const random = createRandom(seed)
  const statuses = new Map<number, number>()
  let storedTotal = 0
  const startedAt = Date.now()
  let sent = 0
  while (sent < maxRequests && Date.now() - startedAt < maxDurationMs) {
    const body = randomBody(random)
    const headers = signV3({ body })
    // One request in ten carries a signature of other bytes, as a tampered delivery would.
    if (random.next() < 0.1) headers['x-hubspot-signature-v3'] = signV3({ body: `${body}x` })['x-hubspot-signature-v3']
    const response = await app.inject({ method: 'POST', url: '/webhooks/hubspot', headers, payload: body })
    sent += 1

    statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
    if (![200, 400, 401, 413].includes(response.statusCode)) {
      t.fail(`seed ${seed} request ${sent}: status ${response.statusCode} ${response.body.slice(0, 300)}`)
      t.comment(`body (base64): ${body.toString('base64').slice(0, 2_000)}`)
      break
    }
    if (response.statusCode === 200) storedTotal += response.json().stored
  }

  t.comment(`seed ${seed}: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok((statuses.get(200) ?? 0) > 0, 'some bodies were accepted')
  t.ok((statuses.get(400) ?? 0) > 0, 'some bodies were rejected')
  const [{ count }] = await db.sql<{ count: number }[]>`select count(*)::int as count from webhook_events`
  t.equal(count, storedTotal, 'the inbox holds exactly the events the 200 answers counted')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted')

  const health = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(health.statusCode, 200, 'the app still serves')
})

interface AdminRoute {
  method: 'POST' | 'PATCH'
  url: string
  /** A body the route accepts, which the fuzzer damages. */
  valid: (random: Random) => Record<string, unknown>
  allowed: number[]
}

const adminRoutes: AdminRoute[] = [
  {
    method: 'POST',
    url: '/integrations',
    valid: (random) => ({ portalId: 1 + random.int(20), name: `n${random.int(100)}`, accessToken: 'pat-fuzz-0000' }),
    allowed: [201, 400, 409, 413, 415],
  },
  {
    method: 'PATCH',
    url: '/integrations/1',
    valid: (random) => ({ name: `p${random.int(100)}`, status: random.pick(['active', 'paused']), burstPer10Seconds: 100 }),
    allowed: [200, 400, 413, 415],
  },
  {
    method: 'POST',
    url: '/webhook-events/retry',
    valid: (random) => ({ ids: [1 + random.int(5), 1 + random.int(5)] }),
    allowed: [200, 400, 413, 415],
  },
]

t.test('randomized admin bodies never get a 5xx', async (t) => {
  const random = createRandom(seed + 1)
  const statuses = new Map<string, number>()
  const startedAt = Date.now()
  let sent = 0
  while (sent < maxRequests && Date.now() - startedAt < maxDurationMs) {
    const route = adminRoutes[sent % adminRoutes.length]
    const body = JSON.stringify(mutateBatch(random, [route.valid(random)]))
    const unwrapped = body.startsWith('[') && random.next() < 0.7 ? body.slice(1, -1) : body
    const payload = random.next() < 0.3 ? damageBytes(random, unwrapped) : Buffer.from(unwrapped)
    const headers = { ...auth, 'content-type': 'application/json' }
    const response = await app.inject({ method: route.method, url: route.url, headers, payload })
    sent += 1

    const key = `${route.method} ${route.url} ${response.statusCode}`
    statuses.set(key, (statuses.get(key) ?? 0) + 1)
    if (!route.allowed.includes(response.statusCode)) {
      t.fail(`seed ${seed + 1} request ${sent}: ${key} ${response.body.slice(0, 300)}`)
      t.comment(`body (base64): ${payload.toString('base64').slice(0, 2_000)}`)
      break
    }
  }

  t.comment(`seed ${seed + 1}: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  for (const route of adminRoutes) {
    const accepted = [...statuses].some(([key]) => key.startsWith(`${route.method} ${route.url} 2`))
    t.ok(accepted, `${route.method} ${route.url}: some bodies were accepted`)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype not polluted')
  const list = await app.inject({ method: 'GET', url: '/integrations', headers: auth })
  t.equal(list.statusCode, 200, 'the app still serves')
})
