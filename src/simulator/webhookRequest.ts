import type { WebhookFaultOptions } from './options.js'
import type { Random } from './random.js'
import { signV1, signV3 } from './signing.js'
import type { WebhookEvent } from './webhookEvents.js'
import type { ResolvedWebhookSettings } from './webhookSettings.js'

const userAgent =
  'HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client) - WebhooksExecutorDaemon-executor'
const staleByMs = 6 * 60 * 1000

/** One attempt to deliver a batch, as recorded for tests. */
export interface DeliveryAttempt {
  batchId: number
  attemptNumber: number
  eventCount: number
  timestamp: string
  status: number | null
  error: string | null
  durationMs: number
}

/** Events queued for one request, and the number of the attempt to send them. */
export interface Batch {
  id: number
  events: WebhookEvent[]
  attempt: number
}

/** Sends a batch once, signed with v1 and v3, and records the outcome. */
export async function sendBatch(
  batch: Batch,
  settings: ResolvedWebhookSettings,
  faults: WebhookFaultOptions,
  random: Random,
): Promise<DeliveryAttempt> {
  const body = JSON.stringify(batch.events.map((event) => ({ ...event, attemptNumber: batch.attempt })))
  // The timestamp is taken per attempt, so a retry hours later still passes the 5-minute check.
  const sentAtMs = Date.now()
  const timestamp = String(random.chance(faults.staleTimestampRate) ? sentAtMs - staleByMs : sentAtMs)
  const headers = {
    'content-type': 'application/json',
    'user-agent': userAgent,
    'x-hubspot-signature': signV1(settings.clientSecret, body),
    'x-hubspot-signature-version': 'v1',
    'x-hubspot-signature-v3': signV3(settings.clientSecret, 'POST', settings.targetUrl, body, timestamp),
    'x-hubspot-request-timestamp': timestamp,
    'x-hubspot-timeout-millis': '10000',
  }
  const sentBody = random.chance(faults.tamperedBodyRate) ? tamper(body) : body
  const result: DeliveryAttempt = {
    batchId: batch.id, attemptNumber: batch.attempt, eventCount: batch.events.length,
    timestamp, status: null, error: null, durationMs: 0,
  }
  try {
    const response = await fetch(settings.targetUrl, {
      method: 'POST', headers, body: sentBody, signal: AbortSignal.timeout(settings.timeoutMs),
    })
    result.status = response.status
    await response.arrayBuffer().catch(() => undefined)
  } catch (error) {
    result.error = (error as Error).name === 'TimeoutError' ? 'timeout' : String((error as Error).message)
  }
  result.durationMs = Date.now() - sentAtMs
  return result
}

/** Changes the body after signing, as a proxy or an attacker might. */
function tamper(body: string): string {
  return body.replace(/"occurredAt":(\d)/, (_match, digit: string) => `"occurredAt":${(Number(digit) + 1) % 10}`)
}
