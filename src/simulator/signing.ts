import { createHash, createHmac } from 'node:crypto'

/**
 * HubSpot's webhook request signatures, computed the way the sender does. All of them are keyed
 * with the app's client secret and computed over UTF-8 bytes.
 */

/** v1: hex SHA-256 of clientSecret + raw body (a plain hash, not an HMAC). */
export function signV1(clientSecret: string, rawBody: string): string {
  return createHash('sha256').update(clientSecret + rawBody, 'utf8').digest('hex')
}

/** v2: hex SHA-256 of clientSecret + method + URI + raw body (workflow webhooks and CRM cards). */
export function signV2(clientSecret: string, method: string, uri: string, rawBody: string): string {
  return createHash('sha256').update(clientSecret + method + uri + rawBody, 'utf8').digest('hex')
}

/** v3: base64 HMAC-SHA256 of method + decoded URI + raw body + timestamp (epoch ms as sent). */
export function signV3(clientSecret: string, method: string, uri: string, rawBody: string, timestamp: string): string {
  return createHmac('sha256', clientSecret)
    .update(method + decodeUriForV3(uri) + rawBody + timestamp, 'utf8')
    .digest('base64')
}

/** The only escapes HubSpot decodes in the URI before computing a v3 signature. */
const v3Escapes: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$',
  '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
}

/**
 * Decodes the 12 escapes HubSpot lists and nothing else, so `%20` or `%26` stay encoded.
 * NOTE: HubSpot does not say whether lower-case escapes such as `%3a` are decoded; this leaves
 * them encoded, matching the documented table literally.
 */
export function decodeUriForV3(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/g, (escape) => v3Escapes[escape])
}
