import t from 'tap'

import {
  computeSignatureV1,
  computeSignatureV2,
  computeSignatureV3,
  decodeSignedUri,
  publicRequestUri,
  verifyWebhookSignature,
} from '../../src/hubspot/signature.js'
import { signatureVectors } from '../helpers/signatureVectors.js'


t.test('every shared vector computes its expected signature', async (t) => {
  t.ok(signatureVectors.length >= 11, 'all vectors loaded')
  for (const vector of signatureVectors) {
    const body = Buffer.from(vector.body, 'utf8')
    let actual: string
    if (vector.version === 'v1') actual = computeSignatureV1(vector.secret, body)
    else if (vector.version === 'v2') actual = computeSignatureV2(vector.secret, vector.method!, vector.uri!, body)
    else {
      actual = computeSignatureV3({
        secret: vector.secret,
        method: vector.method!,
        uri: vector.uri!,
        rawBody: body,
        timestamp: vector.timestamp!,
      })
    }
    t.equal(actual, vector.expected, vector.id)
  }
})

t.test('every v1 and v3 vector passes verification', async (t) => {
  for (const vector of signatureVectors.filter((v) => v.version !== 'v2')) {
    const headers: Record<string, string> =
      vector.version === 'v3'
        ? { 'X-HubSpot-Signature-v3': vector.expected, 'X-HubSpot-Request-Timestamp': vector.timestamp! }
        : { 'X-HubSpot-Signature': vector.expected, 'X-HubSpot-Signature-Version': 'v1' }
    const check = verifyWebhookSignature({
      secret: vector.secret,
      method: vector.method ?? 'POST',
      publicUri: vector.uri ?? 'https://www.example.com/webhook_uri',
      rawBody: Buffer.from(vector.body, 'utf8'),
      headers,
      maxAgeMs: 300_000,
      acceptV1: true,
      nowMs: vector.timestamp === null ? Date.now() : Number(vector.timestamp) + 1_000,
    })
    t.same(check, { valid: true, version: vector.version }, vector.id)
  }
})

t.test('uri decoding touches only the listed escapes', async (t) => {
  const vector = signatureVectors.find((v) => v.id === 'LOCAL-V3-URI-DECODE')!
  t.equal(decodeSignedUri(vector.uri!), vector.signedUri)
  t.equal(decodeSignedUri('%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B'), ":/?@!$'()*,;")
  t.equal(decodeSignedUri('%20%26%25%2B%3D'), '%20%26%25%2B%3D', 'other escapes stay encoded')
  t.equal(decodeSignedUri('%3a'), '%3a', 'lower-case hex is not listed')
  const undecoded = computeSignatureV3({
    secret: vector.secret,
    method: 'POST',
    uri: vector.signedUri!,
    rawBody: Buffer.from(vector.body),
    timestamp: vector.timestamp!,
  })
  t.not(undecoded, vector.expectedIfUriNotDecoded, 'decoded and raw URIs sign differently')
})

t.test('public uri keeps the request query and drops the proxy path', async (t) => {
  t.equal(publicRequestUri('https://a.example/hook', '/internal/hook?x=1&y=%3A'), 'https://a.example/hook?x=1&y=%3A')
  t.equal(publicRequestUri('https://a.example/hook', '/internal/hook'), 'https://a.example/hook')
  t.equal(publicRequestUri('https://a.example/hook?old=1', '/hook?new=2'), 'https://a.example/hook?new=2')
})

const base = {
  secret: 'secret',
  method: 'POST',
  publicUri: 'https://hooks.example.com/h',
  rawBody: Buffer.from('[]'),
  maxAgeMs: 300_000,
  acceptV1: false,
  nowMs: 1_700_000_000_000,
}

function v3Headers(overrides: { timestamp?: string; body?: Buffer; secret?: string } = {}) {
  const timestamp = overrides.timestamp ?? String(base.nowMs)
  return {
    'x-hubspot-signature-v3': computeSignatureV3({
      secret: overrides.secret ?? base.secret,
      method: 'POST',
      uri: base.publicUri,
      rawBody: overrides.body ?? base.rawBody,
      timestamp,
    }),
    'x-hubspot-request-timestamp': timestamp,
  }
}

t.test('verification rejects bad requests with a reason', async (t) => {
  const cases: [string, Record<string, string>, string, Partial<typeof base>?][] = [
    ['unsigned', {}, 'missing_signature'],
    ['forged', v3Headers({ secret: 'other' }), 'signature_mismatch'],
    ['tampered', v3Headers({ body: Buffer.from('[{}]') }), 'signature_mismatch'],
    ['stale', v3Headers({ timestamp: String(base.nowMs - 300_001) }), 'stale_timestamp'],
    ['future', v3Headers({ timestamp: String(base.nowMs + 300_001) }), 'future_timestamp'],
    ['bad timestamp', { ...v3Headers(), 'x-hubspot-request-timestamp': '17e11' }, 'invalid_timestamp'],
    ['no timestamp', { 'x-hubspot-signature-v3': v3Headers()['x-hubspot-signature-v3'] }, 'missing_timestamp'],
    ['v1 while disabled', { 'x-hubspot-signature': computeSignatureV1('secret', base.rawBody) }, 'missing_signature'],
    ['other method', v3Headers(), 'signature_mismatch', { method: 'PUT' }],
    ['other uri', v3Headers(), 'signature_mismatch', { publicUri: 'http://hooks.example.com/h' }],
  ]
  for (const [name, headers, reason, overrides] of cases) {
    const check = verifyWebhookSignature({ ...base, ...overrides, headers })
    t.same(check, { valid: false, reason }, name)
  }
})

t.test('verification accepts edge timestamps and any header case', async (t) => {
  const oldest = v3Headers({ timestamp: String(base.nowMs - 300_000) })
  t.ok(verifyWebhookSignature({ ...base, headers: oldest }).valid, 'exactly max age')
  const upper = Object.fromEntries(Object.entries(v3Headers()).map(([k, v]) => [k.toUpperCase(), v]))
  t.ok(verifyWebhookSignature({ ...base, headers: upper }).valid, 'upper-case header names')
})

t.test('v1 verifies only when enabled and not superseded by v3', async (t) => {
  const headers = { 'x-hubspot-signature': computeSignatureV1('secret', base.rawBody), 'x-hubspot-signature-version': 'v1' }
  t.same(verifyWebhookSignature({ ...base, acceptV1: true, headers }), { valid: true, version: 'v1' })
  const mixed = { ...headers, 'x-hubspot-signature-v3': 'AAAA', 'x-hubspot-request-timestamp': String(base.nowMs) }
  t.same(verifyWebhookSignature({ ...base, acceptV1: true, headers: mixed }), {
    valid: false,
    reason: 'signature_mismatch',
  })
})
