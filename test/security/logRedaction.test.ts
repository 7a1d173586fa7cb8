import { createServer } from 'node:net'
import { Writable } from 'node:stream'

import t from 'tap'

import { testConfig } from '../../src/config.js'
import { findStoredCredentials } from '../../src/db/credentials.js'
import { computeSignatureV3 } from '../../src/hubspot/signature.js'
import { createLogger } from '../../src/logger.js'
import { startService } from '../../src/server.js'
import { startSimulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'

const apiToken = 'security-admin-token-0123456789abcdef'
const encryptionKeyHex = 'c7'.repeat(32)

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

function captureLines() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { lines, logger: createLogger('trace', stream) }
}

t.test('logs of OAuth setup, sync and webhooks hold no secret or email', async (t) => {
  const simulator = await startSimulator({ contacts: 120, seed: 21 })
  t.teardown(() => simulator.close())
  const grant = simulator.oauth.issueGrant()
  const { url: databaseUrl, sql } = await createTestDatabase(t)
  const port = await freePort()
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/hubspot`
  const config = testConfig({
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    ENCRYPTION_KEY: encryptionKeyHex,
    API_TOKEN: apiToken,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    HUBSPOT_API_URL: simulator.url,
    HUBSPOT_CLIENT_ID: simulator.oauth.clientId,
    HUBSPOT_CLIENT_SECRET: simulator.oauth.clientSecret,
    WEBHOOK_PUBLIC_URL: webhookUrl,
    SCHEDULER_ENABLED: 'false',
    LOG_LEVEL: 'trace',
  })
  const capture = captureLines()
  const handles = await startService(config, { logger: capture.logger })
  t.teardown(() => handles.stop())
  const headers = { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }

  // The grant's access token comes without an expiry, so the service refreshes it first.
  const created = await fetch(`${handles.url}/integrations`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      portalId: simulator.portalId,
      oauth: { refreshToken: grant.refreshToken, accessToken: grant.accessToken },
    }),
  })
  t.equal(created.status, 201)
  const integrationId = ((await created.json()) as { id: number }).id

  const synced = await fetch(`${handles.url}/sync/${integrationId}?wait=true`, {
    method: 'POST',
    headers: { authorization: headers.authorization },
  })
  t.equal(synced.status, 200)
  t.match(await synced.json(), { status: 'succeeded', counts: { created: 120 } })

  simulator.webhooks.configure({ targetUrl: webhookUrl, clientSecret: simulator.oauth.clientSecret })
  const fresh = simulator.contacts.create({ email: 'webhook.secret.person@example.com', firstname: 'Hook' })
  simulator.contacts.update(fresh.id, { email: 'changed.secret.person@example.com' })
  await simulator.webhooks.flush()
  const deliveries = simulator.webhooks.deliveries()
  t.ok(deliveries.length > 0, 'the simulator delivered webhooks')
  t.ok(deliveries.every((attempt) => attempt.status === 200), 'every delivery was accepted')

  const forgedBody = JSON.stringify([{ portalId: simulator.portalId, occurredAt: Date.now(), subscriptionType: 'contact.creation', objectId: 1 }])
  const forgedTimestamp = String(Date.now())
  const forgedSignature = computeSignatureV3({
    secret: 'not-the-client-secret',
    method: 'POST',
    uri: webhookUrl,
    rawBody: Buffer.from(forgedBody),
    timestamp: forgedTimestamp,
  })
  const validSignature = computeSignatureV3({
    secret: simulator.oauth.clientSecret,
    method: 'POST',
    uri: webhookUrl,
    rawBody: Buffer.from(forgedBody),
    timestamp: forgedTimestamp,
  })
  for (const [signature, status] of [[forgedSignature, 401], [validSignature, 200]] as const) {
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hubspot-signature-v3': signature,
        'x-hubspot-request-timestamp': forgedTimestamp,
      },
      body: forgedBody,
    })
    t.equal(response.status, status)
  }
  await handles.inbox?.drain()
  await handles.relay?.flush()

  const stored = await findStoredCredentials(sql, Buffer.from(encryptionKeyHex, 'hex'), integrationId)
  const emails = await sql<{ email: string }[]>`select email from leads where email is not null`
  t.ok(emails.some((row) => row.email === 'changed.secret.person@example.com'), 'the webhook change was applied')
  const secrets: Record<string, string> = {
    'issued access token': grant.accessToken,
    'refresh token': grant.refreshToken,
    'refreshed access token': stored.credentials.accessToken ?? '',
    'client secret': simulator.oauth.clientSecret,
    'private app token': simulator.privateAppToken,
    'API token': apiToken,
    'ENCRYPTION_KEY': encryptionKeyHex,
    'forged signature': forgedSignature,
    'valid signature': validSignature,
  }

  const text = capture.lines.join('')
  t.ok(capture.lines.length > 10, `captured ${capture.lines.length} log lines`)
  t.ok(text.includes('"runId"'), 'the run was logged')
  for (const [name, secret] of Object.entries(secrets)) {
    t.ok(secret.length >= 8, `${name} is a real value`)
    t.equal(text.includes(secret), false, `${name} is not logged`)
  }
  const leaked = emails.filter((row) => text.toLowerCase().includes(row.email.toLowerCase()))
  t.ok(emails.length >= 100, `${emails.length} contact emails to look for`)
  t.same(leaked, [], 'no contact email is logged')
  t.equal(text.includes('webhook.secret.person@example.com'), false, 'the first email of the changed contact is not logged')
})
