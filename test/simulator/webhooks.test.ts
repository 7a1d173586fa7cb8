import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { decodeUriForV3, signV1, signV2, signV3 } from '../../src/simulator/signing.js'
import { startTestSimulator } from './helpers.js'

interface Received {
  headers: Record<string, string | string[] | undefined>
  rawBody: string
  events: Record<string, unknown>[]
  receivedAtMs: number
}

/** Starts a local webhook target that responds with the queued statuses (then 200) and records requests. */
async function startReceiver(t: { teardown: (fn: () => unknown) => void }, statuses: number[] = [], delayMs = 0) {
  const received: Received[] = []
  let inFlight = 0
  let maxInFlight = 0
  const server = createServer((request, response) => {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8')
      received.push({ headers: request.headers, rawBody, events: JSON.parse(rawBody), receivedAtMs: Date.now() })
      setTimeout(() => {
        inFlight--
        response.writeHead(statuses.shift() ?? 200)
        response.end()
      }, delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  )
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hooks/hubspot?source=sim%3Atest`, received, maxInFlight: () => maxInFlight }
}

const secret = 'test-client-secret'

t.test('signatures match the HubSpot test vectors', async (t) => {
  const vectors = JSON.parse(
    readFileSync(new URL('../fixtures/hubspot/signature-test-vectors.json', import.meta.url), 'utf8'),
  ).vectors as Record<string, string | null>[]
  t.ok(vectors.length >= 10)
  for (const vector of vectors) {
    const { version, secret: key, method, uri, body, timestamp, expected } = vector as Record<string, string>
    const actual =
      version === 'v1' ? signV1(key, body) : version === 'v2' ? signV2(key, method, uri, body) : signV3(key, method, uri, body, timestamp)
    t.equal(actual, expected, String(vector.id))
    if (vector.signedUri) t.equal(decodeUriForV3(uri), vector.signedUri)
  }
})

t.test('create sends one signed batch with one occurredAt', async (t) => {
  const receiver = await startReceiver(t)
  const sim = await startTestSimulator(t)
  sim.webhooks.configure({ targetUrl: receiver.url, clientSecret: secret, appId: 999 })

  const created = sim.contacts.create({ email: 'hook@example.com', firstname: 'Hook', lastmodifieddate: 'x' } as never)
  await sim.webhooks.flush()

  t.equal(receiver.received.length, 1)
  const [delivery] = receiver.received
  const types = delivery.events.map((event) => event.subscriptionType)
  t.same(types, ['contact.creation', 'contact.propertyChange', 'contact.propertyChange'])
  t.same(Object.keys(delivery.events[0]), [
    'eventId', 'subscriptionId', 'portalId', 'appId', 'occurredAt', 'subscriptionType', 'attemptNumber', 'objectId',
    'changeFlag', 'changeSource', 'sourceId',
  ])
  t.match(delivery.events[0], { objectId: Number(created.id), changeFlag: 'CREATED', portalId: sim.portalId, appId: 999, attemptNumber: 0 })
  t.equal(new Set(delivery.events.map((event) => event.occurredAt)).size, 1)
  t.same(delivery.events.slice(1).map((event) => event.propertyName).sort(), ['email', 'firstname'])

  const timestamp = String(delivery.headers['x-hubspot-request-timestamp'])
  t.equal(delivery.headers['x-hubspot-signature'], signV1(secret, delivery.rawBody))
  t.equal(delivery.headers['x-hubspot-signature-version'], 'v1')
  t.equal(delivery.headers['x-hubspot-signature-v3'], signV3(secret, 'POST', receiver.url, delivery.rawBody, timestamp))
  t.ok(Math.abs(Number(timestamp) - delivery.receivedAtMs) < 5000)
  t.equal(delivery.headers['x-hubspot-timeout-millis'], '10000')
  t.match(String(delivery.headers['user-agent']), /^HubSpot Connect 2\.0/)
})

t.test('non-2xx responses are retried with rising attemptNumber and fresh timestamps', async (t) => {
  const receiver = await startReceiver(t, [500, 404, 503])
  const sim = await startTestSimulator(t)
  sim.webhooks.configure({ targetUrl: receiver.url, clientSecret: secret, retryDelaysMs: [30, 30, 30] })

  sim.contacts.update(sim.contacts.ids()[0], { jobtitle: 'Retry me' })
  await sim.webhooks.flush()

  t.equal(receiver.received.length, 4)
  t.same(receiver.received.map((delivery) => delivery.events[0].attemptNumber), [0, 1, 2, 3])
  const timestamps = receiver.received.map((delivery) => Number(delivery.headers['x-hubspot-request-timestamp']))
  t.ok(timestamps.every((value, index) => index === 0 || value > timestamps[index - 1]), 'each attempt is re-stamped')
  for (const delivery of receiver.received) {
    const timestamp = String(delivery.headers['x-hubspot-request-timestamp'])
    t.equal(delivery.headers['x-hubspot-signature-v3'], signV3(secret, 'POST', receiver.url, delivery.rawBody, timestamp))
  }
  t.same(sim.webhooks.deliveries().map((attempt) => attempt.status), [500, 404, 503, 200])
})

t.test('retries stop after maxRetries and a slow target counts as a timeout', async (t) => {
  const receiver = await startReceiver(t, [], 300)
  const sim = await startTestSimulator(t)
  sim.webhooks.configure({ targetUrl: receiver.url, clientSecret: secret, timeoutMs: 100, maxRetries: 2, retryTimeScale: 0.00001 })
  sim.contacts.archive(sim.contacts.ids()[0])
  await sim.webhooks.flush()

  const attempts = sim.webhooks.deliveries()
  t.equal(attempts.length, 3, 'first attempt plus two retries')
  t.ok(attempts.every((attempt) => attempt.error === 'timeout'))
})

t.test('GDPR delete sends privacyDeletion and deletion in separate batches', async (t) => {
  const receiver = await startReceiver(t)
  const sim = await startTestSimulator(t)
  sim.webhooks.configure({ targetUrl: receiver.url, clientSecret: secret })
  const id = sim.contacts.ids()[2]
  sim.contacts.gdprDelete(id)
  await sim.webhooks.flush()

  const batches = receiver.received.map((delivery) => delivery.events.map((event) => event.subscriptionType))
  t.same(batches.sort(), [['contact.deletion'], ['contact.privacyDeletion']])
  t.ok(receiver.received.every((delivery) => delivery.events[0].objectId === Number(id)))
})

t.test('merge, restore and association events carry their documented fields', async (t) => {
  const receiver = await startReceiver(t)
  const sim = await startTestSimulator(t)
  sim.webhooks.configure({ targetUrl: receiver.url, clientSecret: secret, subscriptionTypes: ['contact.merge', 'contact.associationChange'] })
  const [primaryId, mergedId] = sim.contacts.ids()
  const survivor = sim.contacts.merge(primaryId, mergedId)
  sim.webhooks.sendAssociationChange({
    fromObjectId: Number(survivor.id), toObjectId: 555, associationType: 'CONTACT_TO_COMPANY',
    associationRemoved: false, isPrimaryAssociation: true,
  })
  await sim.webhooks.flush()

  const events = receiver.received.flatMap((delivery) => delivery.events)
  t.match(events[0], {
    subscriptionType: 'contact.merge', primaryObjectId: Number(primaryId), mergedObjectIds: [Number(mergedId)],
    newObjectId: Number(survivor.id),
  })
  t.same(
    events.slice(1).map((event) => [event.associationType, event.fromObjectId, event.toObjectId]),
    [['CONTACT_TO_COMPANY', Number(survivor.id), 555], ['COMPANY_TO_CONTACT', 555, Number(survivor.id)]],
  )
})

t.test('bulk update arrives in batches of at most 100 within the concurrency limit', async (t) => {
  const receiver = await startReceiver(t, [], 20)
  const sim = await startTestSimulator(t, { contacts: 300 })
  sim.webhooks.configure({ targetUrl: receiver.url, clientSecret: secret, maxConcurrentRequests: 2 })
  sim.contacts.bulkUpdate(sim.contacts.ids().slice(0, 250), { jobtitle: 'Bulk-updated title' })
  await sim.webhooks.flush()

  const sizes = receiver.received.map((delivery) => delivery.events.length).sort((a, b) => b - a)
  t.same(sizes, [100, 100, 50])
  t.ok(receiver.maxInFlight() <= 2)
  t.equal(new Set(receiver.received.flatMap((d) => d.events.map((event) => event.occurredAt))).size, 1)
})

t.test('fault injection: duplicates, stale timestamps, tampered bodies and the generic format', async (t) => {
  const receiver = await startReceiver(t)
  const sim = await startTestSimulator(t, {
    options: { webhookFaults: { duplicateRate: 1, staleTimestampRate: 1, tamperedBodyRate: 1 } },
  })
  sim.webhooks.configure({ targetUrl: receiver.url, clientSecret: secret, format: 'generic' })
  sim.contacts.update(sim.contacts.ids()[0], { company: 'Tampered' })
  await sim.webhooks.flush()

  t.equal(receiver.received.length, 2, 'the batch arrives twice')
  const [delivery] = receiver.received
  t.equal(delivery.events[0].subscriptionType, 'object.propertyChange')
  t.equal(delivery.events[0].objectTypeId, '0-1')
  t.ok(Date.now() - Number(delivery.headers['x-hubspot-request-timestamp']) > 300_000, 'timestamp older than 5 minutes')
  t.not(delivery.headers['x-hubspot-signature'], signV1(secret, delivery.rawBody), 'body no longer matches v1')
})
