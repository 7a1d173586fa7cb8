import type { FastifyInstance } from 'fastify'
import t from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { createTestDatabase } from '../helpers/database.js'
import { signatureVectors, type SignatureVector } from '../helpers/signatureVectors.js'
import { buildTestApp, webhookConfig } from './fixtures/delivery.js'
import { createIntegration } from './fixtures/leads.js'

// Every shared HubSpot signature vector, sent through the receiver with the vector's own
// secret, URI, timestamp and expected signature. The test computes no signature itself.
const { sql } = await createTestDatabase(t)
await createIntegration(sql, 62515)

// The vectors were signed years ago, so the age limit is widened and only the signature decides.
const oldestMs = Math.min(...signatureVectors.filter((v) => v.timestamp).map((v) => Number(v.timestamp)))
const maxAgeMs = String(Date.now() - oldestMs + 86_400_000)

function isJsonArray(body: string): boolean {
  try {
    return Array.isArray(JSON.parse(body))
  } catch {
    return false
  }
}

/** Splits a signed URI into the public URL the service is configured with and the request path. */
function requestTarget(uri: string | null): { publicUrl: string; url: string } {
  const parsed = new URL(uri ?? 'https://www.example.com/webhook_uri')
  return { publicUrl: `${parsed.origin}${parsed.pathname}`, url: `/webhooks/hubspot${parsed.search}` }
}

function headersFor(vector: SignatureVector, signature = vector.expected): Record<string, string> {
  if (vector.version === 'v3') {
    return { 'X-HubSpot-Signature-v3': signature, 'X-HubSpot-Request-Timestamp': vector.timestamp as string }
  }
  return { 'X-HubSpot-Signature': signature, 'X-HubSpot-Signature-Version': vector.version }
}

const apps = new Map<string, Promise<FastifyInstance>>()

/** Returns the app for a secret and public URL, built on first use and closed when the file ends. */
function appFor(secret: string, publicUrl: string): Promise<FastifyInstance> {
  const key = `${secret} ${publicUrl}`
  let app = apps.get(key)
  if (!app) {
    const config = webhookConfig({
      HUBSPOT_CLIENT_SECRET: secret,
      WEBHOOK_PUBLIC_URL: publicUrl,
      WEBHOOK_ACCEPT_V1: 'true',
      WEBHOOK_MAX_AGE_MS: maxAgeMs,
    })
    app = buildTestApp(t, sql, config)
    apps.set(key, app)
  }
  return app
}

async function send(vector: SignatureVector, signature = vector.expected) {
  const { publicUrl, url } = requestTarget(vector.uri)
  const app = await appFor(vector.secret, publicUrl)
  const method = (vector.method ?? 'POST') as 'POST' | 'GET'
  const headers = { 'content-type': 'application/json', ...headersFor(vector, signature) }
  return app.inject({ method, url, headers, payload: vector.body === '' ? undefined : vector.body })
}

async function storedEvents(db: Sql): Promise<Record<string, unknown>[]> {
  const rows = await db<{ event: Record<string, unknown> }[]>`select event from webhook_events order by id`
  return rows.map((row) => row.event)
}

/** Flips the first character of a signature to another one of the same alphabet. */
function corrupt(signature: string): string {
  const replacement = signature[0] === 'A' || signature[0] === 'a' ? 'b' : 'a'
  return replacement + signature.slice(1)
}

t.test('v1 and v3 vectors pass the receiver', async (t) => {
  const accepted = signatureVectors.filter((vector) => vector.version !== 'v2')
  t.equal(accepted.length, 8, 'two v1 and six v3 vectors in the shared file')
  for (const vector of accepted) {
    await sql`delete from webhook_events`
    const response = await send(vector)
    if (isJsonArray(vector.body)) {
      t.equal(response.statusCode, 200, `${vector.id} accepted`)
      t.same(await storedEvents(sql), JSON.parse(vector.body), `${vector.id} stored as sent`)
    } else {
      // Verified, then rejected as a body: a signature failure would be 401.
      t.equal(response.statusCode, 400, `${vector.id} verified, body not an event array`)
      t.equal(response.json().code, 'WEBHOOK_BODY_INVALID', `${vector.id} body code`)
    }
  }
})

t.test('v1 and v3 vectors with one character changed are rejected', async (t) => {
  await sql`delete from webhook_events`
  for (const vector of signatureVectors.filter((v) => v.version !== 'v2')) {
    const response = await send(vector, corrupt(vector.expected))
    t.equal(response.statusCode, 401, vector.id)
    t.equal(response.json().code, 'WEBHOOK_SIGNATURE_INVALID', `${vector.id} code`)
  }
  t.same(await storedEvents(sql), [], 'nothing stored')
})

t.test('v2 vectors are not accepted for webhooks', async (t) => {
  await sql`delete from webhook_events`
  for (const vector of signatureVectors.filter((v) => v.version === 'v2')) {
    const response = await send(vector)
    // HubSpot signs webhooks with v1 or v3. It uses v2 for workflow actions and CRM cards.
    const expected = vector.method === 'POST' ? 401 : 404
    t.equal(response.statusCode, expected, vector.id)
  }
  t.same(await storedEvents(sql), [], 'nothing stored')
})
