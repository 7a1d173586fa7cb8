import type { ContactChange } from './contactChange.js'

/** One webhook event as HubSpot posts it; key order follows real deliveries. */
export type WebhookEvent = Record<string, unknown> & {
  eventId: number
  subscriptionId: number
  portalId: number
  appId: number
  occurredAt: number
  subscriptionType: string
  attemptNumber: number
}

export type ContactSubscriptionType =
  | 'contact.creation'
  | 'contact.deletion'
  | 'contact.merge'
  | 'contact.restore'
  | 'contact.privacyDeletion'
  | 'contact.associationChange'
  | 'contact.propertyChange'

export const allContactSubscriptionTypes: readonly ContactSubscriptionType[] = [
  'contact.creation',
  'contact.deletion',
  'contact.merge',
  'contact.restore',
  'contact.privacyDeletion',
  'contact.associationChange',
  'contact.propertyChange',
]

/** Properties with a propertyChange subscription unless configured otherwise. */
export const defaultSubscribedProperties: readonly string[] = [
  'email', 'firstname', 'lastname', 'phone', 'mobilephone', 'company', 'jobtitle', 'lifecyclestage',
  'hs_lead_status', 'hubspot_owner_id', 'website', 'city', 'state', 'country',
]

/** HubSpot refuses subscriptions to these, so no propertyChange is ever sent for them. */
const unsubscribable = new Set(['lastmodifieddate', 'hs_lastmodifieddate', 'num_unique_conversion_events'])

export interface EventContext {
  portalId: number
  appId: number
  format: 'legacy' | 'generic'
  subscriptionTypes: ReadonlySet<string>
  subscribedProperties: ReadonlySet<string>
  nextEventId(): number
}

/** An association change, which HubSpot reports as two events, one for each side. */
export interface AssociationChange {
  fromObjectId: number
  toObjectId: number
  associationType: string
  associationRemoved: boolean
  isPrimaryAssociation: boolean
  occurredAtMs: number
}

/**
 * Turns one change into the events HubSpot would send, as groups: events of one group travel in
 * one batch, separate groups may travel in separate batches (privacy deletion and deletion do).
 */
export function eventsForChange(change: ContactChange, context: EventContext): WebhookEvent[][] {
  const base = (type: string, objectId: number) => baseEvent(context, type, objectId, change.occurredAtMs)
  const source = sourceFields(change.changeSource)
  switch (change.kind) {
    case 'creation': {
      const creation = { ...base('contact.creation', change.id), changeFlag: 'CREATED', ...source }
      const changes = propertyEvents(change.id, change.properties, change.occurredAtMs, source, context)
      return [filterTypes([creation, ...changes], context)]
    }
    case 'propertyChange':
      return [filterTypes(propertyEvents(change.id, change.properties, change.occurredAtMs, source, context), context)]
    case 'deletion':
      return [filterTypes([{ ...base('contact.deletion', change.id), changeFlag: 'DELETED', ...source }], context)]
    case 'restore':
      return [filterTypes([{ ...base('contact.restore', change.id), ...source }], context)]
    case 'privacyDeletion':
      return [filterTypes([{ ...base('contact.privacyDeletion', change.id), ...source }], context)]
    case 'merge':
      return [
        filterTypes(
          [
            {
              ...base('contact.merge', change.primaryId),
              primaryObjectId: change.primaryId,
              mergedObjectIds: change.mergedIds,
              newObjectId: change.newId,
              numberOfPropertiesMoved: change.numberOfPropertiesMoved,
              ...source,
            },
          ],
          context,
        ),
      ]
  }
}

/** Builds both events of an association change: the stated side and the inverse side. */
export function eventsForAssociation(change: AssociationChange, context: EventContext): WebhookEvent[] {
  const inverseType = change.associationType.split('_TO_').reverse().join('_TO_')
  const sides: [number, number, string][] = [
    [change.fromObjectId, change.toObjectId, change.associationType],
    [change.toObjectId, change.fromObjectId, inverseType],
  ]
  const events = sides.map(([fromObjectId, toObjectId, associationType]) => ({
    ...baseEvent(context, 'contact.associationChange', undefined, change.occurredAtMs),
    associationType,
    fromObjectId,
    toObjectId,
    associationRemoved: change.associationRemoved,
    isPrimaryAssociation: change.isPrimaryAssociation,
    changeSource: 'CRM_UI',
  }))
  return filterTypes(events, context)
}

function baseEvent(context: EventContext, type: string, objectId: number | undefined, occurredAtMs: number): WebhookEvent {
  const generic = context.format === 'generic' && type !== 'contact.privacyDeletion'
  const event: WebhookEvent = {
    eventId: context.nextEventId(),
    subscriptionId: subscriptionIdFor(type),
    portalId: context.portalId,
    appId: context.appId,
    occurredAt: occurredAtMs,
    subscriptionType: generic ? type.replace(/^contact\./, 'object.') : type,
    attemptNumber: 0,
  }
  if (objectId !== undefined) event.objectId = objectId
  if (generic) event.objectTypeId = '0-1'
  return event
}

function propertyEvents(
  id: number,
  properties: Record<string, string | null>,
  occurredAtMs: number,
  source: Record<string, string>,
  context: EventContext,
): WebhookEvent[] {
  const events: WebhookEvent[] = []
  for (const [name, value] of Object.entries(properties)) {
    if (unsubscribable.has(name) || !context.subscribedProperties.has(name)) continue
    const event: WebhookEvent = {
      ...baseEvent(context, 'contact.propertyChange', id, occurredAtMs),
      subscriptionId: subscriptionIdFor(`contact.propertyChange:${name}`),
      propertyName: name,
      // NOTE: whether a cleared property sends "" or omits the value is undocumented; "" is sent.
      propertyValue: value ?? '',
      ...source,
    }
    if (context.format === 'generic') event.isSensitive = false
    events.push(event)
  }
  return events
}

function filterTypes(events: WebhookEvent[], context: EventContext): WebhookEvent[] {
  return events.filter((event) => context.subscriptionTypes.has(String(event.subscriptionType).replace(/^object\./, 'contact.')))
}

function sourceFields(changeSource: string): Record<string, string> {
  return changeSource.startsWith('CRM_UI') ? { changeSource, sourceId: 'userId:81234567' } : { changeSource }
}

/** A stable subscription id per subscription type (and property), like HubSpot's numeric ids. */
function subscriptionIdFor(key: string): number {
  let hash = 2166136261
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 16777619)
  return 1_000_000 + ((hash >>> 0) % 8_000_000)
}
