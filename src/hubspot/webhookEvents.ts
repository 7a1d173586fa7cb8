import { createHash } from 'node:crypto'

import { z } from 'zod'

/** Ids arrive as JSON numbers; numeric strings are accepted too, in case a proxy rewrote them. */
const objectId = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d{1,16}$/, 'expected a numeric id').transform(Number),
])

const maxDateMs = 8.64e15

/**
 * One element of the array HubSpot posts, in the legacy `contact.*` form or the generic
 * `object.*` form. Unknown keys are kept, because HubSpot adds fields without notice and
 * the inbox stores the event as received.
 */
export const webhookEventSchema = z
  .looseObject({
    eventId: z.number().int().optional(),
    subscriptionId: z.number().int().optional(),
    portalId: objectId,
    appId: z.number().int().optional(),
    // 8.64e15 ms is the largest time a JavaScript Date holds (ECMA-262 "Time Values").
    occurredAt: z.number().int().nonnegative().max(maxDateMs, 'expected milliseconds since the epoch'),
    // HubSpot's guide labels the type `eventType`; every real delivery uses `subscriptionType`.
    subscriptionType: z.string().min(1).optional(),
    eventType: z.string().min(1).optional(),
    attemptNumber: z.number().int().optional(),
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
    numberOfPropertiesMoved: z.number().int().optional(),
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
    // Types come from HubSpot's short list; the bound only guards against a flood of odd ones.
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
 * Fields are joined with `|`; strings are JSON-quoted, so no value can fake a separator.
 */
export function webhookDedupKey(event: WebhookEvent): string {
  const kind = contactEventKind(event)
  const text = [
    event.portalId,
    kind === null ? quoted(subscriptionTypeOf(event)) : kind,
    event.objectId ?? '',
    event.occurredAt,
    quoted(event.propertyName),
    quoted(event.propertyValue),
    quoted(event.changeFlag),
    event.primaryObjectId ?? '',
    event.mergedObjectIds === undefined ? '' : [...event.mergedObjectIds].sort((a, b) => a - b).join(','),
    event.newObjectId ?? '',
    quoted(event.associationType),
    event.fromObjectId ?? '',
    event.toObjectId ?? '',
    event.associationRemoved ?? '',
  ].join('|')
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

export interface BatchIssue {
  field: string
  reason: string
}

/** Describes why a body is not a batch of events, naming the index and field of each problem. */
export function describeBatchIssues(error: z.ZodError, limit = 10): BatchIssue[] {
  return error.issues.slice(0, limit).map((issue) => {
    const [index, ...rest] = issue.path
    const field = typeof index === 'number' ? `[${index}]${rest.map((part) => `.${String(part)}`).join('')}` : 'body'
    return { field, reason: issue.message }
  })
}
