import { createHash } from 'node:crypto'

import { z } from 'zod'

/**
 * Message of the issue for an id of 2^53 or more. A JavaScript number represents integers
 * exactly only below 2^53, so such an id could name the wrong contact. HubSpot's ids stay
 * far below.
 */
export const unsafeIdMessage = 'expected an id below 2^53 (9007199254740992), because a JavaScript number cannot represent larger ids exactly'

/** Schema of an id, which arrives as a JSON number. Numeric strings are accepted too, in case a proxy rewrote them. */
const objectId = z
  .union([z.number(), z.string().regex(/^\d{1,30}$/, 'expected a numeric id')])
  .transform((value, context) => {
    const id = Number(value)
    if (!Number.isInteger(id) || id < 0) {
      context.addIssue({ code: 'custom', message: 'expected a non-negative integer id', input: value })
      return z.NEVER
    }
    if (!Number.isSafeInteger(id)) {
      context.addIssue({ code: 'custom', message: unsafeIdMessage, input: value })
      return z.NEVER
    }
    return id
  })

const maxDateMs = 8.64e15

/**
 * Schema of an integer field the service never reads. HubSpot types `eventId` as int64, so
 * values of 2^53 or more are accepted, as JavaScript read them (rounded). The inbox keeps the
 * event text as received.
 */
const unreadInteger = z.number().refine(Number.isInteger, 'expected an integer')

/**
 * One element of the array HubSpot posts, in the legacy `contact.*` form or the generic
 * `object.*` form. Unknown keys are kept, because HubSpot adds fields without notice and
 * the inbox stores the event as received.
 */
export const webhookEventSchema = z
  .looseObject({
    eventId: unreadInteger.optional(),
    subscriptionId: unreadInteger.optional(),
    portalId: objectId,
    appId: unreadInteger.optional(),
    // 8.64e15 ms is the largest time a JavaScript Date can represent (ECMA-262 "Time Values").
    occurredAt: z.number().int().nonnegative().max(maxDateMs, 'expected milliseconds since the epoch'),
    // HubSpot's guide labels the type `eventType`, but every real delivery uses `subscriptionType`.
    subscriptionType: z.string().min(1).optional(),
    eventType: z.string().min(1).optional(),
    attemptNumber: unreadInteger.optional(),
    objectId: objectId.optional(),
    objectTypeId: z.string().optional(),
    propertyName: z.string().optional(),
    propertyValue: z.string().nullable().optional(),
    changeFlag: z.string().optional(),
    changeSource: z.string().optional(),
    sourceId: z.string().optional(),
    primaryObjectId: objectId.optional(),
    mergedObjectIds: z.array(objectId).optional(),
    newObjectId: objectId.optional(),
    numberOfPropertiesMoved: unreadInteger.optional(),
    associationType: z.string().optional(),
    fromObjectId: objectId.optional(),
    toObjectId: objectId.optional(),
    associationRemoved: z.boolean().optional(),
    isPrimaryAssociation: z.boolean().optional(),
  })
  .refine((event) => event.subscriptionType !== undefined || event.eventType !== undefined, {
    message: 'missing subscriptionType',
    path: ['subscriptionType'],
  })

export type WebhookEvent = z.infer<typeof webhookEventSchema>

/** The fields every event needs before it can be stored: its portal, time and type. */
const webhookEventBaseSchema = z
  .looseObject({
    portalId: objectId,
    occurredAt: webhookEventSchema.shape.occurredAt,
    subscriptionType: webhookEventSchema.shape.subscriptionType,
    eventType: webhookEventSchema.shape.eventType,
  })
  .refine((event) => event.subscriptionType !== undefined || event.eventType !== undefined, {
    message: 'missing subscriptionType',
    path: ['subscriptionType'],
  })

/** One delivered event that the inbox can store. */
export interface ReceivedEvent {
  /** The validated event, without the fields listed in `invalidFields`. */
  event: WebhookEvent
  /** Known fields that failed validation, with their values as received; null when none did. */
  invalidFields: Record<string, unknown> | null
  /** Reason a contact event cannot be applied, or null for events the worker processes or ignores. */
  failure: string | null
}

export type EventCheck = { ok: true; received: ReceivedEvent } | { ok: false; issues: z.core.$ZodIssue[] }

/**
 * Validates one element of a delivery. A contact event must match the schema, with one
 * exception: an id of 2^53 or more makes it a `failure` to store, not an invalid batch.
 * Any other event is only stored as ignored, so a field of an unexpected type is set aside
 * in `invalidFields` instead of failing the batch. Every event needs `portalId`,
 * `occurredAt` and a type.
 */
export function checkWebhookEvent(element: unknown): EventCheck {
  const quick = quickCheck(element)
  if (quick !== null) return { ok: true, received: { event: quick, invalidFields: null, failure: null } }

  const full = webhookEventSchema.safeParse(element)
  if (full.success) return { ok: true, received: { event: full.data, invalidFields: null, failure: null } }

  const base = webhookEventBaseSchema.safeParse(element)
  if (!base.success) return { ok: false, issues: full.error.issues }

  const raw = element as Record<string, unknown>
  const isContact = contactEventKind(baseView(base.data, raw.objectTypeId)) !== null
  if (isContact && !full.error.issues.every((issue) => issue.message === unsafeIdMessage)) {
    return { ok: false, issues: full.error.issues }
  }

  const fields = [...new Set(full.error.issues.map((issue) => String(issue.path[0])))]
  const rest = { ...raw }
  for (const field of fields) delete rest[field]
  const again = webhookEventSchema.safeParse(rest)
  // Unreachable while every field outside the base schema is optional.
  if (!again.success) return { ok: false, issues: full.error.issues }

  const invalidFields = Object.fromEntries(fields.map((field) => [field, raw[field]]))
  const failure = isContact ? `contact event not applied: ${fields.join(', ')}: ${unsafeIdMessage}` : null
  return { ok: true, received: { event: again.data, invalidFields, failure } }
}

type QuickRule = 'int' | 'id' | 'time' | 'type' | 'string' | 'stringOrNull' | 'boolean'

/** Fields that `quickCheck` accepts. An event with any other field, `mergedObjectIds` included, goes through zod. */
const quickFields: readonly (readonly [string, QuickRule])[] = [
  ['eventId', 'int'],
  ['subscriptionId', 'int'],
  ['portalId', 'id'],
  ['appId', 'int'],
  ['occurredAt', 'time'],
  ['subscriptionType', 'type'],
  ['eventType', 'type'],
  ['attemptNumber', 'int'],
  ['objectId', 'id'],
  ['objectTypeId', 'string'],
  ['propertyName', 'string'],
  ['propertyValue', 'stringOrNull'],
  ['changeFlag', 'string'],
  ['changeSource', 'string'],
  ['sourceId', 'string'],
  ['primaryObjectId', 'id'],
  ['newObjectId', 'id'],
  ['numberOfPropertiesMoved', 'int'],
  ['associationType', 'string'],
  ['fromObjectId', 'id'],
  ['toObjectId', 'id'],
  ['associationRemoved', 'boolean'],
  ['isPrimaryAssociation', 'boolean'],
]

const quickRules = new Map<string, QuickRule>(quickFields)

function passesQuickRule(rule: QuickRule, value: unknown): boolean {
  switch (rule) {
    case 'int':
      return typeof value === 'number' && Number.isInteger(value)
    case 'id':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    case 'time':
      return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= maxDateMs
    case 'type':
      return typeof value === 'string' && value.length > 0
    case 'string':
      return typeof value === 'string'
    case 'stringOrNull':
      return value === null || typeof value === 'string'
    case 'boolean':
      return typeof value === 'boolean'
  }
}

/**
 * Returns the element itself when it is a plain object with only `quickFields` keys and
 * values of the expected types, or null when the event needs zod. For such an element zod
 * would return a copy with the same fields and values, so the copy is skipped. Null does
 * not mean the event is invalid.
 */
function quickCheck(element: unknown): WebhookEvent | null {
  if (typeof element !== 'object' || element === null || Object.getPrototypeOf(element) !== Object.prototype) {
    return null
  }
  const input = element as Record<string, unknown>
  for (const key of Object.keys(input)) {
    const rule = quickRules.get(key)
    if (rule === undefined || !passesQuickRule(rule, input[key])) return null
  }
  if (input.portalId === undefined || input.occurredAt === undefined) return null
  if (input.subscriptionType === undefined && input.eventType === undefined) return null
  return input as WebhookEvent
}

function baseView(base: z.infer<typeof webhookEventBaseSchema>, objectTypeId: unknown): WebhookEvent {
  return { ...base, objectTypeId: typeof objectTypeId === 'string' ? objectTypeId : undefined }
}

export const webhookBatchSchema = z.array(webhookEventSchema)

/** The contact event kinds, shared by `contact.<kind>` and `object.<kind>` with objectTypeId 0-1. */
export const contactEventKinds = [
  'creation',
  'deletion',
  'propertyChange',
  'merge',
  'restore',
  'associationChange',
  'privacyDeletion',
] as const
export type ContactEventKind = (typeof contactEventKinds)[number]

/** HubSpot's object type id for contacts in generic `object.*` events. */
export const contactObjectTypeId = '0-1'

export function subscriptionTypeOf(event: WebhookEvent): string {
  return event.subscriptionType ?? event.eventType ?? ''
}

const kindByType = new Map<string, ContactEventKind | null>()

/** Returns the contact event kind, or null for events about other objects or unknown types. */
export function contactEventKind(event: WebhookEvent): ContactEventKind | null {
  const type = subscriptionTypeOf(event)
  const cacheKey = event.objectTypeId === undefined ? type : `${type}|${event.objectTypeId}`
  let kind = kindByType.get(cacheKey)
  if (kind === undefined) {
    kind = parseKind(type, event.objectTypeId)
    // Types come from HubSpot's short list, so the bound only guards against a flood of odd ones.
    if (kindByType.size < 1_000) kindByType.set(cacheKey, kind)
  }
  return kind
}

function parseKind(type: string, objectTypeId: string | undefined): ContactEventKind | null {
  const [family, kind] = type.split('.', 2)
  if (!(contactEventKinds as readonly string[]).includes(kind)) return null
  if (family === 'contact') return kind as ContactEventKind
  if (family === 'object' && objectTypeId === contactObjectTypeId) return kind as ContactEventKind
  return null
}

/**
 * Builds the inbox dedup key from the fields that make an event what it is. HubSpot's
 * `eventId` is not unique, and `attemptNumber` and `subscriptionId` change between copies
 * of one change, so all three are left out. The key uses the event kind, so
 * `contact.creation` and the generic `object.creation` of one contact count as one event.
 * Fields are joined with `|`, and strings are JSON-quoted so no value can fake a separator.
 */
export function webhookDedupKey(
  event: WebhookEvent,
  invalidFields: Record<string, unknown> | null = null,
  kind: ContactEventKind | null = contactEventKind(event),
): string {
  const merged = event.mergedObjectIds === undefined ? '' : [...event.mergedObjectIds].sort((a, b) => a - b).join(',')
  // A template string instead of an array join. `?? ''` keeps join's empty text for a
  // missing value, so every key stays the same.
  let text =
    `${event.portalId ?? ''}|${kind === null ? quoted(subscriptionTypeOf(event)) : kind}|${event.objectId ?? ''}|` +
    `${event.occurredAt ?? ''}|${quoted(event.propertyName)}|${quoted(event.propertyValue)}|${quoted(event.changeFlag)}|` +
    `${event.primaryObjectId ?? ''}|${merged}|${event.newObjectId ?? ''}|${quoted(event.associationType)}|` +
    `${event.fromObjectId ?? ''}|${event.toObjectId ?? ''}|${event.associationRemoved ?? ''}`
  // Fields set aside as invalid still tell events apart. Valid events keep their old key.
  if (invalidFields !== null) text += `|${quoted(serializedForKey(invalidFields))}`
  // A short identity is the key itself, which saves a hash per event on the receiver.
  // A long one, such as a property change with a long text value, is hashed, because a
  // btree entry must stay under about 2.7 kB. The prefix keeps the two forms apart.
  if (text.length <= maxPlainKeyLength) return text
  return `sha256:${createHash('sha256').update(text).digest('base64url')}`
}

const maxPlainKeyLength = 256

function quoted(value: string | null | undefined): string {
  return value === undefined || value === null ? '' : JSON.stringify(value)
}

function serializedForKey(fields: Record<string, unknown>): string {
  try {
    return JSON.stringify(fields)
  } catch {
    // A value is nested too deep for JSON.stringify's recursion, but its field names still count.
    return Object.keys(fields).join(',')
  }
}

export interface BatchIssue {
  field: string
  reason: string
}

/** Describes why a body is not a batch of events, naming the index and field of each problem. */
export function describeBatchIssues(issues: readonly z.core.$ZodIssue[], limit = 10): BatchIssue[] {
  return issues.slice(0, limit).map((issue) => {
    const [index, ...rest] = issue.path
    const field = typeof index === 'number' ? `[${index}]${rest.map((part) => `.${String(part)}`).join('')}` : 'body'
    return { field, reason: issue.message }
  })
}
