import { isUtf8 } from 'node:buffer'

import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'

import type { Config } from '../../config.js'
import { insertWebhookEvents, type NewWebhookEvent } from '../../db/webhookEvents.js'
import { AppError, ErrorCode, errors } from '../../errors.js'
import { publicRequestUri, verifyWebhookSignature } from '../../hubspot/signature.js'
import { KnownPortals } from '../knownPortals.js'
import {
  contactEventKind,
  describeBatchIssues,
  subscriptionTypeOf,
  webhookBatchSchema,
  webhookDedupKey,
  type WebhookEvent,
} from '../../hubspot/webhookEvents.js'
import { webhookAckSeconds, webhookRequests } from '../../metrics.js'

/**
 * Largest accepted delivery. HubSpot sends at most 100 events a request and a typical
 * event is 250-400 bytes, but a propertyChange carries the new value, and text properties
 * hold up to 65,536 characters. 2 MiB leaves about 20 KiB per event for 100 events.
 */
export const webhookBodyLimitBytes = 2 * 1024 * 1024

/**
 * How long the receiver waits for the inbox insert before it responds 503. HubSpot counts a
 * response slower than 5 s as a failure; an insert that finishes after the 503 is dropped
 * as a duplicate when HubSpot retries.
 */
export const inboxWriteTimeoutMs = 3_000

/**
 * Minimum gap between inbox notifications from this process. Each NOTIFY serializes
 * commits on a server-wide lock. Skipping one is safe while the gap is shorter than the
 * worker's gather delay (150 ms by default), because the worker woken by the previous
 * notification claims at least that long after it and so sees the skipped insert.
 */
export const notifyGapMs = 50

const outcomeByStatus: Record<number, string> = {
  200: 'accepted',
  400: 'invalid_body',
  401: 'invalid_signature',
  413: 'too_large',
  503: 'unavailable',
}

/**
 * `POST /webhooks/hubspot`: verifies HubSpot's signature on the raw bytes, stores every
 * event of the batch in the inbox and responds 200 once the insert committed. Processing
 * happens later, in the inbox worker.
 */
export const postHubspotWebhook: FastifyPluginAsync = async (app) => {
  // Scoped to this plugin: the signature covers the body bytes exactly as sent, so the
  // body must reach the handler unparsed.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyLimitBytes }, (_request, body, done) => {
    done(null, body)
  })

  app.addHook('onResponse', async (_request, reply) => {
    webhookRequests.inc({ outcome: outcomeByStatus[reply.statusCode] ?? 'error' })
    webhookAckSeconds.observe(reply.elapsedTime / 1000)
  })

  const warnOnce = onceLogger(app)
  const knownPortals = new KnownPortals()
  const notifier = { lastNotifiedAtMs: 0 }
  app.post('/webhooks/hubspot', { bodyLimit: webhookBodyLimitBytes }, async (request, reply) => {
    const config = app.deps.config
    if (app.deps.isShuttingDown?.()) throw errors.shuttingDown()
    if (!config.HUBSPOT_CLIENT_SECRET || !config.WEBHOOK_PUBLIC_URL) {
      warnOnce(config)
      throw webhookNotConfigured()
    }

    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    checkSignature(request, rawBody, config)
    if (!isUtf8(rawBody)) {
      throw invalidBody('body is not valid UTF-8', [{ field: 'body', reason: 'contains bytes that are not valid UTF-8' }])
    }
    const bodyText = rawBody.toString('utf8')
    const events = parseBatch(bodyText)
    const stored = await storeBatch(app, { knownPortals, notifier }, storableJson(bodyText, events), events)

    request.log.debug({ received: events.length, ...stored }, 'webhook batch stored')
    return reply.code(200).send({ received: events.length, stored: stored.inserted })
  })
}

function checkSignature(request: FastifyRequest, rawBody: Buffer, config: Config): void {
  const check = verifyWebhookSignature({
    secret: config.HUBSPOT_CLIENT_SECRET ?? '',
    method: request.method,
    publicUri: publicRequestUri(config.WEBHOOK_PUBLIC_URL ?? '', request.url),
    rawBody,
    headers: request.headers,
    maxAgeMs: config.WEBHOOK_MAX_AGE_MS,
    acceptV1: config.WEBHOOK_ACCEPT_V1,
    nowMs: Date.now(),
  })
  if (check.valid) return

  request.log.warn({ reason: check.reason }, 'webhook signature rejected')
  throw new AppError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, `Webhook signature rejected: ${check.reason}`, {
    statusCode: 401,
    context: { reason: check.reason },
  })
}

/** Parses the body as a JSON array of events, naming the index and field of each problem. */
export function parseBatch(bodyText: string): WebhookEvent[] {
  let body: unknown
  try {
    body = JSON.parse(bodyText)
  } catch (error) {
    throw invalidBody('body is not valid JSON', [{ field: 'body', reason: (error as Error).message }])
  }
  if (!Array.isArray(body)) throw invalidBody('body is not a JSON array', [{ field: 'body', reason: 'expected an array' }])

  const parsed = webhookBatchSchema.safeParse(body)
  if (!parsed.success) throw invalidBody('body is not an array of HubSpot events', describeBatchIssues(parsed.error))
  return parsed.data
}

// JSON escapes PostgreSQL's jsonb rejects: NUL, and surrogate halves (valid when paired).
const jsonbUnsafeEscape = /\\u(0000|d[89a-f][0-9a-f]{2})/i
const nulCharacter = /\u0000/g
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * Returns JSON text of the batch that jsonb accepts: the body itself, or, in the rare body
 * with a NUL or an unpaired surrogate escape, the events re-serialized without NULs and
 * with unpaired surrogates replaced by U+FFFD. The signature was checked on the original.
 */
export function storableJson(bodyText: string, events: WebhookEvent[]): string {
  if (!jsonbUnsafeEscape.test(bodyText)) return bodyText
  return JSON.stringify(events, (_key, value: unknown) =>
    typeof value === 'string' ? value.replace(nulCharacter, '').replace(loneSurrogate, '\uFFFD') : value,
  )
}

function invalidBody(summary: string, issues: { field: string; reason: string }[]): AppError {
  const detail = issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ')
  return new AppError(ErrorCode.WEBHOOK_BODY_INVALID, `Invalid webhook body: ${summary} (${detail})`, {
    statusCode: 400,
    context: { issues },
  })
}

interface ReceiverState {
  knownPortals: KnownPortals
  notifier: { lastNotifiedAtMs: number }
}

async function storeBatch(app: FastifyInstance, state: ReceiverState, bodyText: string, events: WebhookEvent[]) {
  const sql = app.deps.sql
  const insert = async () => {
    const portalIds = [...new Set(events.map((event) => event.portalId))]
    const rows = toInboxRows(events, await state.knownPortals.filterKnown(sql, portalIds))
    const notify = Date.now() - state.notifier.lastNotifiedAtMs >= notifyGapMs
    const result = await insertWebhookEvents(sql, bodyText, rows, notify)
    if (result.notified) state.notifier.lastNotifiedAtMs = Date.now()
    return result
  }
  try {
    return await withTimeout(insert(), inboxWriteTimeoutMs)
  } catch (error) {
    // Whatever stopped the insert, 503 makes HubSpot deliver the batch again later.
    throw errors.databaseUnavailable(error)
  }
}

/**
 * Turns a batch into inbox rows, one per distinct dedup key, with their initial status.
 * Events of a portal without an integration are kept as `ignored`, so HubSpot, which
 * retries every non-2xx answer for a day, gets its 200.
 */
export function toInboxRows(events: WebhookEvent[], knownPortals: Set<number>): NewWebhookEvent[] {
  const rows = new Map<string, NewWebhookEvent>()
  events.forEach((event, position) => {
    const dedupKey = webhookDedupKey(event)
    if (!rows.has(dedupKey)) rows.set(dedupKey, toInboxRow(event, position, dedupKey, knownPortals))
  })
  return [...rows.values()]
}

function toInboxRow(
  event: WebhookEvent,
  position: number,
  dedupKey: string,
  knownPortals: Set<number>,
): NewWebhookEvent {
  const kind = contactEventKind(event)
  const row: NewWebhookEvent = {
    position,
    dedupKey,
    portalId: event.portalId,
    // PostgreSQL text rejects NUL; storableJson removes it from the stored event the same way.
    subscriptionType: subscriptionTypeOf(event).replace(nulCharacter, ''),
    objectId: event.objectId ?? event.newObjectId ?? event.primaryObjectId ?? null,
    occurredAt: new Date(event.occurredAt),
    status: 'pending',
    reason: null,
  }
  if (!knownPortals.has(event.portalId)) return { ...row, status: 'ignored', reason: 'no integration for this portal' }
  if (kind === null) return { ...row, status: 'ignored', reason: 'not a contact event' }
  // Association changes are kept for the record; leads do not store associations.
  if (kind === 'associationChange') return { ...row, status: 'done', reason: 'association changes are not synced' }
  return row
}

function webhookNotConfigured(): AppError {
  return new AppError(
    ErrorCode.WEBHOOK_NOT_CONFIGURED,
    'Webhooks are not configured: set HUBSPOT_CLIENT_SECRET and WEBHOOK_PUBLIC_URL and restart',
    { statusCode: 503 },
  )
}

function onceLogger(app: FastifyInstance): (config: Config) => void {
  let logged = false
  return (config) => {
    if (logged) return
    logged = true
    app.log.error(
      {
        clientSecretSet: Boolean(config.HUBSPOT_CLIENT_SECRET),
        publicUrlSet: Boolean(config.WEBHOOK_PUBLIC_URL),
      },
      'webhook receiver disabled: HUBSPOT_CLIENT_SECRET or WEBHOOK_PUBLIC_URL is unset',
    )
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`inbox insert timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
