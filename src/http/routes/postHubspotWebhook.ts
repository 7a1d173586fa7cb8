import { isUtf8 } from 'node:buffer'

import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { z } from 'zod'

import type { Config } from '../../config.js'
import { isConnectionError, sqlStateOf, type Sql } from '../../db/connection.js'
import { insertWebhookEvents, type InsertResult, type NewWebhookEvent } from '../../db/webhookEvents.js'
import { AppError, ErrorCode, errors } from '../../errors.js'
import { publicRequestUri, verifyWebhookSignature } from '../../hubspot/signature.js'
import { KnownPortals } from '../knownPortals.js'
import {
  checkWebhookEvent,
  contactEventKind,
  describeBatchIssues,
  type ContactEventKind,
  subscriptionTypeOf,
  webhookDedupKey,
  type ReceivedEvent,
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
 * response slower than 5 s as a failure. An insert that finishes after the 503 is dropped
 * as a duplicate when HubSpot retries.
 */
export const inboxWriteTimeoutMs = 3_000

/**
 * Minimum gap between inbox notifications from this process. Each NOTIFY serializes
 * commits on a server-wide lock. Skipping one is safe while the gap is shorter than the
 * worker's gather delay (150 ms by default), because the worker woken by the previous
 * notification claims at least that long after it and so reads the skipped insert.
 */
export const notifyGapMs = 50

const outcomeByStatus: Record<number, string> = {
  200: 'accepted',
  400: 'invalid_body',
  401: 'invalid_signature',
  413: 'too_large',
  500: 'error',
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
    const batch = parseBatch(bodyText)
    const stored = await storeBatch(app, request.log, { knownPortals, notifier }, bodyText, batch)

    request.log.debug({ received: batch.events.length, ...stored }, 'webhook batch stored')
    return reply.code(200).send({ received: batch.events.length, stored: stored.inserted })
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

export interface ParsedBatch {
  /** The array elements as JSON.parse returned them. */
  elements: Record<string, unknown>[]
  events: ReceivedEvent[]
}

/** Parses the body as a JSON array of events, naming the index and field of each problem. */
export function parseBatch(bodyText: string): ParsedBatch {
  let body: unknown
  try {
    body = JSON.parse(bodyText)
  } catch (error) {
    throw invalidBody('body is not valid JSON', [{ field: 'body', reason: (error as Error).message }])
  }
  if (!Array.isArray(body)) throw invalidBody('body is not a JSON array', [{ field: 'body', reason: 'expected an array' }])

  const events: ReceivedEvent[] = []
  const issues: z.core.$ZodIssue[] = []
  body.forEach((element: unknown, index) => {
    const check = checkWebhookEvent(element)
    if (check.ok) events.push(check.received)
    else issues.push(...check.issues.map((issue) => ({ ...issue, path: [index, ...issue.path] })))
  })
  if (issues.length > 0) throw invalidBody('body is not an array of HubSpot events', describeBatchIssues(issues))
  return { elements: body as Record<string, unknown>[], events }
}

/**
 * Maximum nesting of arrays and objects kept in one field of an event. HubSpot's fields are
 * flat. PostgreSQL 15's jsonb parser failed with "stack depth limit exceeded" between
 * 10,000 and 50,000 levels under the default 2 MB max_stack_depth, so 64 stays far below
 * it and below JSON.stringify's recursion limit.
 */
export const maxFieldDepth = 64

const nulCharacter = /\u0000/g
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

export interface DroppedField {
  /** Index of the event in the delivered array. */
  position: number
  field: string
  reason: string
}

export interface StorableJson {
  json: string
  droppedFields: DroppedField[]
  /** True when the text is the elements serialized again instead of the body as received. */
  rewritten: boolean
}

/** Escapes jsonb rejects: `\u0000`, and a surrogate half (also matched inside a valid pair, which only costs a rewrite). */
const jsonbRejectedEscape = /\\u(0000|d[89a-f][0-9a-f]{2})/i
/** A digit followed by an exponent marker, as in `1e5`. */
const exponentAfterDigit = /\d[eE]/
/** A JSON string literal with its escapes. */
const jsonString = /"(?:[^"\\]|\\.)*"/g

/**
 * Returns the JSON text to store for the batch. That is the body itself, so every value is
 * stored as received, unless the body contains an escape jsonb rejects, a number written
 * with an exponent, or a field nested deeper than `maxFieldDepth`. Then the elements are
 * serialized again by `rewrittenJson`. The escapes are found here because PostgreSQL's
 * error for them quotes part of the body in its log. Exponents are found here because
 * jsonb stores `1e131071` in a few bytes but writes it out as 131,072 digits whenever the
 * event is read. A number too long for PostgreSQL's numeric is left to PostgreSQL: the
 * insert fails with SQLSTATE 22003, whose message quotes nothing, and the receiver then
 * stores `rewrittenJson`.
 */
export function storableJson(bodyText: string, elements: Record<string, unknown>[]): StorableJson {
  const rewrite = elements.some(hasDeepField) || hasRejectedEscape(bodyText) || hasExponent(bodyText)
  return rewrite ? rewrittenJson(elements) : { json: bodyText, droppedFields: [], rewritten: false }
}

function hasDeepField(element: Record<string, unknown>): boolean {
  for (const key in element) {
    const value = element[key]
    if (value !== null && typeof value === 'object' && exceedsDepth(value, 0)) return true
  }
  return false
}

function hasRejectedEscape(bodyText: string): boolean {
  return bodyText.includes('\\u') && jsonbRejectedEscape.test(bodyText)
}

/**
 * True when a number outside the strings has an exponent. The first test, most of the
 * 28 µs `storableJson` takes a delivery in bench/webhookSteps.ts, also matches text such
 * as "4e2a" inside strings, so only a body it matches has its strings removed and is
 * tested again.
 */
function hasExponent(bodyText: string): boolean {
  return exponentAfterDigit.test(bodyText) && exponentAfterDigit.test(bodyText.replace(jsonString, '""'))
}

/**
 * Serializes the elements again in a form jsonb accepts and stores at about its own size.
 * Strings lose NULs and get U+FFFD for unpaired surrogates, and keys get U+FFFD for both.
 * Numbers are written as JavaScript read them: 1e-20000 becomes 0, and an integer of 2^53
 * or more can lose its last digits. A field is dropped and reported in three cases: it is
 * nested too deep, or its cleaned key repeats another key, or it contains a number that
 * JavaScript would write with an exponent. Those are numbers beyond a double's range, 1e21
 * or more, or below 1e-6, and jsonb writes them out in full. Validated fields are flat, so only fields the service does not read can be
 * dropped. The signature was checked on the original bytes.
 */
export function rewrittenJson(elements: Record<string, unknown>[]): StorableJson {
  const droppedFields: DroppedField[] = []
  const cleaned = elements.map((element, position) => {
    // No prototype, so a key named "__proto__" is stored as a field like any other.
    const copy: Record<string, unknown> = Object.create(null)
    for (const [key, value] of Object.entries(element)) {
      const field = cleanKey(key)
      const problem = exceedsDepth(value, 0)
        ? `nested deeper than ${maxFieldDepth} levels`
        : (numberProblem(value) ?? (Object.hasOwn(copy, field) ? 'key repeats another key once cleaned' : null))
      if (problem === null) copy[field] = cleanValue(value)
      else droppedFields.push({ position, field: field.slice(0, 100), reason: problem })
    }
    return copy
  })
  return { json: JSON.stringify(cleaned), droppedFields, rewritten: true }
}

function exceedsDepth(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return false
  if (depth >= maxFieldDepth) return true
  const children = Array.isArray(value) ? value : Object.values(value)
  return children.some((child) => exceedsDepth(child, depth + 1))
}

/**
 * Returns why a value contains a number that JavaScript would write with an exponent, or null.
 * Called only on values within maxFieldDepth, so the recursion is bounded.
 */
function numberProblem(value: unknown): string | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'holds a number beyond the range of a double'
    const magnitude = Math.abs(value)
    if (magnitude >= 1e21 || (magnitude > 0 && magnitude < 1e-6)) {
      return 'holds a number of 1e21 or more, or below 1e-6, which jsonb would write out in full'
    }
    return null
  }
  if (value === null || typeof value !== 'object') return null
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    const problem = numberProblem(child)
    if (problem !== null) return problem
  }
  return null
}

function cleanString(value: string): string {
  return value.replace(nulCharacter, '').replace(loneSurrogate, '\uFFFD')
}

// A key keeps its length: removing a NUL could turn "objectId\u0000" into "objectId".
function cleanKey(key: string): string {
  return key.replace(nulCharacter, '\uFFFD').replace(loneSurrogate, '\uFFFD')
}

function cleanValue(value: unknown): unknown {
  if (typeof value === 'string') return cleanString(value)
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(cleanValue)
  const copy: Record<string, unknown> = Object.create(null)
  for (const [key, child] of Object.entries(value)) {
    const field = cleanKey(key)
    if (!Object.hasOwn(copy, field)) copy[field] = cleanValue(child)
  }
  return copy
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

async function storeBatch(app: FastifyInstance, log: FastifyBaseLogger, state: ReceiverState, bodyText: string, batch: ParsedBatch) {
  const sql = app.deps.sql
  const insert = async () => {
    const portalIds = [...new Set(batch.events.map((received) => received.event.portalId))]
    const rows = toInboxRows(batch.events, await state.knownPortals.filterKnown(sql, portalIds))
    const notify = Date.now() - state.notifier.lastNotifiedAtMs >= notifyGapMs
    const result = await insertStorable(sql, log, { bodyText, elements: batch.elements, rows, notify })
    if (result.notified) state.notifier.lastNotifiedAtMs = Date.now()
    return result
  }
  try {
    return await withTimeout(insert(), inboxWriteTimeoutMs)
  } catch (error) {
    // 503 makes HubSpot deliver the batch again later, which helps only when the database
    // was out of reach or slow.
    if (error instanceof InboxTimeoutError || isConnectionError(error)) throw errors.databaseUnavailable(error)
    throw inboxWriteFailed(log, error)
  }
}

interface InboxWrite {
  bodyText: string
  elements: Record<string, unknown>[]
  rows: NewWebhookEvent[]
  notify: boolean
}

/**
 * Inserts the batch in the form `storableJson` chooses. When PostgreSQL rejects the body
 * as received with a data exception (SQLSTATE class 22, such as 22003 for a number too long
 * for numeric), the statement stored nothing, and the events are inserted serialized again.
 */
async function insertStorable(sql: Sql, log: FastifyBaseLogger, write: InboxWrite): Promise<InsertResult> {
  const storable = storableJson(write.bodyText, write.elements)
  try {
    return await insertJson(sql, log, storable, write)
  } catch (error) {
    const sqlState = sqlStateOf(error)
    if (storable.rewritten || sqlState === undefined || !sqlState.startsWith('22')) throw error
    log.info({ sqlState, cause: (error as Error).message }, 'webhook body rejected by jsonb, storing its events serialized again')
    return insertJson(sql, log, rewrittenJson(write.elements), write)
  }
}

function insertJson(sql: Sql, log: FastifyBaseLogger, storable: StorableJson, write: InboxWrite): Promise<InsertResult> {
  if (storable.droppedFields.length > 0) {
    // Field names only, because values can contain personal data.
    log.warn({ droppedFields: storable.droppedFields.slice(0, 20) }, 'webhook fields dropped before storing')
  }
  return insertWebhookEvents(sql, storable.json, write.rows, write.notify)
}

/**
 * Logs a failed inbox insert and returns the 500 to send. Only the SQLSTATE and message are
 * logged: PostgreSQL's detail and context lines, and postgres.js's parameters, can quote
 * the body.
 */
function inboxWriteFailed(log: FastifyBaseLogger, error: unknown): AppError {
  const sqlState = sqlStateOf(error)
  const message = error instanceof Error ? error.message : String(error)
  log.error({ sqlState, cause: message }, 'webhook batch not stored: the inbox insert failed')
  return new AppError(ErrorCode.DATABASE_ERROR, 'Storing the webhook batch failed. See the service log for the cause.', {
    statusCode: 500,
    context: sqlState === undefined ? {} : { sqlState },
  })
}

/**
 * Turns a batch into inbox rows, one per distinct dedup key, with their initial status.
 * Events of a portal without an integration are kept as `ignored`, so HubSpot, which
 * retries every non-2xx answer for a day, gets its 200.
 */
export function toInboxRows(events: ReceivedEvent[], knownPortals: Set<number>): NewWebhookEvent[] {
  const rows = new Map<string, NewWebhookEvent>()
  events.forEach((received, position) => {
    const kind = contactEventKind(received.event)
    const dedupKey = webhookDedupKey(received.event, received.invalidFields, kind)
    if (!rows.has(dedupKey)) rows.set(dedupKey, toInboxRow(received, kind, position, dedupKey, knownPortals))
  })
  return [...rows.values()]
}

function toInboxRow(
  { event, failure }: ReceivedEvent,
  kind: ContactEventKind | null,
  position: number,
  dedupKey: string,
  knownPortals: Set<number>,
): NewWebhookEvent {
  const type = subscriptionTypeOf(event)
  const row: NewWebhookEvent = {
    position,
    dedupKey,
    portalId: event.portalId,
    // PostgreSQL text rejects NUL, so it is removed here as storableJson removes it from the stored event.
    subscriptionType: type.includes('\u0000') ? type.replace(nulCharacter, '') : type,
    objectId: event.objectId ?? event.newObjectId ?? event.primaryObjectId ?? null,
    occurredAtMs: event.occurredAt,
    status: 'pending',
    reason: null,
  }
  if (!knownPortals.has(event.portalId)) return { ...row, status: 'ignored', reason: 'no integration for this portal' }
  if (kind === null) return { ...row, status: 'ignored', reason: 'not a contact event' }
  // Kept in the inbox, listed by GET /webhook-events, instead of failing the whole batch.
  if (failure !== null) return { ...row, status: 'failed', reason: failure }
  // Association changes are kept for the record, but leads do not store associations.
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

class InboxTimeoutError extends Error {
  override name = 'InboxTimeoutError'
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new InboxTimeoutError(`inbox insert timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
