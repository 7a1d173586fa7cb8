import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The only percent-escapes HubSpot decodes in the request URI before it computes a v3
 * signature (HubSpot's "Validating requests" guide). Every other escape, such as `%20` or
 * `%26`, stays as sent. Only upper-case hex is listed there, so only upper-case is decoded.
 */
const v3UriEscapes: Readonly<Record<string, string>> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
}

const v3UriEscapePattern = /%(?:3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/g

/** Decodes HubSpot's 12 listed escapes in a URI and leaves everything else untouched. */
export function decodeSignedUri(uri: string): string {
  return uri.replace(v3UriEscapePattern, (escape) => v3UriEscapes[escape])
}

export interface V3Input {
  secret: string
  method: string
  /** The URI exactly as HubSpot requested it. The listed escapes are decoded here. */
  uri: string
  rawBody: Buffer
  /** The `X-HubSpot-Request-Timestamp` header value, byte for byte. */
  timestamp: string
}

/** Computes a v3 signature: base64 HMAC-SHA256 over method, decoded URI, body and timestamp. */
export function computeSignatureV3(input: V3Input): string {
  const hmac = createHmac('sha256', input.secret)
  hmac.update(input.method, 'utf8')
  hmac.update(decodeSignedUri(input.uri), 'utf8')
  hmac.update(input.rawBody)
  hmac.update(input.timestamp, 'utf8')
  return hmac.digest('base64')
}

/** Computes a v1 signature: hex SHA-256 (a plain hash, not an HMAC) of secret + body. */
export function computeSignatureV1(secret: string, rawBody: Buffer): string {
  return createHash('sha256').update(secret, 'utf8').update(rawBody).digest('hex')
}

/**
 * Computes a v2 signature: hex SHA-256 of secret + method + URI + body. HubSpot uses v2
 * for workflow actions and CRM cards, never for webhook subscriptions, so the receiver does
 * not accept it. It is kept so the official test vectors can be checked.
 */
export function computeSignatureV2(secret: string, method: string, uri: string, rawBody: Buffer): string {
  return createHash('sha256')
    .update(secret + method + uri, 'utf8')
    .update(rawBody)
    .digest('hex')
}

/** Compares two signatures in constant time (length differences return false at once). */
export function signaturesMatch(expected: string, received: string): boolean {
  const expectedBytes = Buffer.from(expected, 'utf8')
  const receivedBytes = Buffer.from(received, 'utf8')
  if (expectedBytes.length !== receivedBytes.length) return false
  return timingSafeEqual(expectedBytes, receivedBytes)
}

export type SignatureFailure =
  | 'missing_signature'
  | 'missing_timestamp'
  | 'invalid_timestamp'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'signature_mismatch'

export type SignatureCheck =
  | { valid: true; version: 'v1' | 'v3' }
  | { valid: false; reason: SignatureFailure }

export interface VerifyRequest {
  secret: string
  method: string
  /** The public URI HubSpot called: the configured base URL plus the query string. */
  publicUri: string
  rawBody: Buffer
  headers: Record<string, string | string[] | undefined>
  /** Timestamps further than this from `nowMs`, in either direction, are rejected. */
  maxAgeMs: number
  acceptV1: boolean
  nowMs: number
}

/**
 * Verifies a webhook delivery. The v3 headers win when present. V1, which has no timestamp
 * and so no replay protection, is only tried when the operator enabled it and no v3
 * signature was sent.
 */
export function verifyWebhookSignature(request: VerifyRequest): SignatureCheck {
  const v3Signature = header(request.headers, 'x-hubspot-signature-v3')
  if (v3Signature !== undefined) return verifyV3(request, v3Signature)

  const v1Signature = header(request.headers, 'x-hubspot-signature')
  const version = header(request.headers, 'x-hubspot-signature-version') ?? 'v1'
  if (!request.acceptV1 || v1Signature === undefined || version.toLowerCase() !== 'v1') {
    return { valid: false, reason: 'missing_signature' }
  }
  const expected = computeSignatureV1(request.secret, request.rawBody)
  if (!signaturesMatch(expected, v1Signature.toLowerCase())) {
    return { valid: false, reason: 'signature_mismatch' }
  }
  return { valid: true, version: 'v1' }
}

function verifyV3(request: VerifyRequest, signature: string): SignatureCheck {
  const timestamp = header(request.headers, 'x-hubspot-request-timestamp')
  if (timestamp === undefined) return { valid: false, reason: 'missing_timestamp' }
  if (!/^\d{1,16}$/.test(timestamp)) return { valid: false, reason: 'invalid_timestamp' }

  const ageMs = request.nowMs - Number(timestamp)
  if (ageMs > request.maxAgeMs) return { valid: false, reason: 'stale_timestamp' }
  if (ageMs < -request.maxAgeMs) return { valid: false, reason: 'future_timestamp' }

  const expected = computeSignatureV3({
    secret: request.secret,
    method: request.method,
    uri: request.publicUri,
    rawBody: request.rawBody,
    timestamp,
  })
  if (!signaturesMatch(expected, signature)) return { valid: false, reason: 'signature_mismatch' }
  return { valid: true, version: 'v3' }
}

/** Reads a header by name, ignoring case. A repeated header counts as absent. */
function header(headers: VerifyRequest['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue
    return typeof value === 'string' ? value : undefined
  }
  return undefined
}

/**
 * Builds the URI HubSpot signed from the configured public URL and the query string of
 * the request as received. The path and host behind a proxy are not trusted.
 */
export function publicRequestUri(publicUrl: string, requestUrl: string): string {
  const baseEnd = publicUrl.indexOf('?')
  const base = baseEnd === -1 ? publicUrl : publicUrl.slice(0, baseEnd)
  const queryStart = requestUrl.indexOf('?')
  return queryStart === -1 ? base : base + requestUrl.slice(queryStart)
}
