import type { JsMsg } from '@nats-io/jetstream'
import { z } from 'zod'

import { isConnectionError, type Sql } from '../db/connection.js'
import { insertActionDeadLetter } from '../db/leadActions.js'
import { ErrorCode, isAppError } from '../errors.js'
import { deterministicEventId } from '../events/eventIds.js'
import { Subject } from '../events/subjects.js'
import type { Logger } from '../logger.js'
import { actionOutcomes } from '../metrics.js'
import { actionNames } from './config.js'
import { runLeadActions } from './runLeadActions.js'

const id = z.number().int().positive()

/** The parts of a leads.imported event the consumer relies on; other fields may change. */
const importedEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  type: z.literal(Subject.leadsImported),
  data: z.object({ leadId: id, integrationId: id }),
})

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const rawPayloadMaxChars = 10_000

export interface MessageHandlerDeps {
  sql: Sql
  logger: Logger
  /** The delivery on which the consumer gives up and writes a dead letter. */
  maxDeliveries: number
  /** Redelivery delay after a failed delivery, by delivery number; the last one repeats. */
  retryDelaysMs: readonly number[]
  /** How often a message is kept alive (`working`) while the database is unreachable. */
  databaseRetryMs: number
  isStopping: () => boolean
  /** Runs after the commit and before the ack; if it throws, the message stays unacked. */
  beforeAck?: (leadId: number) => Promise<void> | void
}

type ParsedMessage =
  | { ok: true; eventId: string; leadId: number; payload: unknown }
  | { ok: false; eventId: string; reason: string; payload: unknown }

/**
 * Handles one leads.imported delivery: runs the lead's actions, then acks. A message that
 * can never succeed (invalid JSON or envelope) is dead-lettered at once. A failed run is
 * retried with a delay until the last delivery, then dead-lettered and terminated.
 */
export async function handleImportedMessage(msg: JsMsg, deps: MessageHandlerDeps): Promise<void> {
  const parsed = parseMessage(msg)
  if (!parsed.ok) {
    await deadLetter(msg, deps, { eventId: parsed.eventId, leadId: null, payload: parsed.payload }, parsed.reason)
    return
  }

  try {
    await waitForDatabase(msg, deps, () => runLeadActions(deps.sql, parsed.leadId, { trigger: 'import' }))
  } catch (error) {
    await onRunFailed(msg, deps, parsed, error)
    return
  }

  try {
    await deps.beforeAck?.(parsed.leadId)
  } catch {
    return
  }
  msg.ack()
}

function parseMessage(msg: JsMsg): ParsedMessage {
  const text = msg.string()
  let payload: unknown
  try {
    payload = JSON.parse(text)
  } catch {
    const raw = { raw: text.slice(0, rawPayloadMaxChars) }
    return { ok: false, eventId: fallbackEventId(msg, null), reason: 'message is not valid JSON', payload: raw }
  }

  const parsed = importedEventSchema.safeParse(payload)
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'event'}: ${issue.message}`)
    const reason = `invalid ${Subject.leadsImported} event: ${details.join('; ')}`
    return { ok: false, eventId: fallbackEventId(msg, payload), reason, payload }
  }
  const eventId = uuidPattern.test(parsed.data.id) ? parsed.data.id : fallbackEventId(msg, null)
  return { ok: true, eventId, leadId: parsed.data.data.leadId, payload }
}

/** Picks a uuid for a dead letter: the event's own id, the Nats-Msg-Id, or one from the sequence. */
function fallbackEventId(msg: JsMsg, payload: unknown): string {
  const ownId = (payload as { id?: unknown } | null)?.id
  if (typeof ownId === 'string' && uuidPattern.test(ownId)) return ownId
  const msgId = msg.headers?.get('Nats-Msg-Id') ?? ''
  if (uuidPattern.test(msgId)) return msgId
  return deterministicEventId('action-dead-letter', msg.info.stream, msg.seq)
}

async function onRunFailed(
  msg: JsMsg,
  deps: MessageHandlerDeps,
  parsed: Extract<ParsedMessage, { ok: true }>,
  error: unknown,
): Promise<void> {
  const deliveries = msg.info.deliveryCount
  const reason = errorReason(error)
  if (deliveries >= deps.maxDeliveries) {
    await deadLetter(msg, deps, { eventId: parsed.eventId, leadId: parsed.leadId, payload: parsed.payload }, reason)
    return
  }
  const delays = deps.retryDelaysMs
  const delayMs = delays[Math.min(deliveries - 1, delays.length - 1)] ?? 0
  deps.logger.warn(
    { err: error, leadId: parsed.leadId, eventId: parsed.eventId, deliveries, retryInMs: delayMs },
    'lead actions failed; retrying',
  )
  msg.nak(delayMs)
}

interface DeadLetterTarget {
  eventId: string
  leadId: number | null
  payload: unknown
}

async function deadLetter(
  msg: JsMsg,
  deps: MessageHandlerDeps,
  target: DeadLetterTarget,
  reason: string,
): Promise<void> {
  const deliveries = msg.info.deliveryCount
  const fields = { leadId: target.leadId, eventId: target.eventId, deliveries, reason }
  try {
    await waitForDatabase(msg, deps, () =>
      insertActionDeadLetter(deps.sql, { ...target, deliveries, reason }),
    )
  } catch (error) {
    // The message is terminated anyway: a dead letter that cannot be stored would otherwise
    // be retried forever. This log line is then the only record.
    deps.logger.error({ ...fields, err: error, streamSequence: msg.seq }, 'dead letter not stored')
  }
  for (const action of actionNames) actionOutcomes.inc({ action, outcome: 'dead_lettered' })
  deps.logger.error(fields, 'lead actions dead-lettered')
  msg.term(reason.slice(0, 200))
}

/**
 * Retries `work` while the database is unreachable, telling the server the message is still
 * being worked on, so an outage does not use up deliveries. Gives up when the consumer stops.
 */
async function waitForDatabase<T>(msg: JsMsg, deps: MessageHandlerDeps, work: () => Promise<T>): Promise<T> {
  let warned = false
  for (;;) {
    try {
      return await work()
    } catch (error) {
      if (!isDatabaseDown(error) || deps.isStopping()) throw error
      if (!warned) deps.logger.warn({ err: error }, 'database unavailable; lead actions wait')
      warned = true
      msg.working()
      await new Promise((resolve) => setTimeout(resolve, deps.databaseRetryMs))
    }
  }
}

function isDatabaseDown(error: unknown): boolean {
  return isAppError(error, ErrorCode.DATABASE_UNAVAILABLE) || isConnectionError(error)
}

/** Builds a dead letter's reason from the error code and message and the message of its cause. */
function errorReason(error: unknown): string {
  const text = isAppError(error) ? `${error.code}: ${error.message}` : messageOf(error)
  const cause = error instanceof Error ? error.cause : undefined
  return cause === undefined ? text : `${text} (cause: ${messageOf(cause)})`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
