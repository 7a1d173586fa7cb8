import type { WebhookEventRow } from '../db/webhookEvents.js'
import {
  contactEventKind,
  webhookEventSchema,
  type ContactEventKind,
  type WebhookEvent,
} from '../hubspot/webhookEvents.js'

/** The work a batch of webhook events requests for one contact, after coalescing. */
export interface ContactPlan {
  contactId: number
  /** Set by a privacy deletion: erase the lead, whatever else arrived. */
  purgeAt: Date | null
  /** The last deletion, when no later restore undid it. */
  deleteAt: Date | null
  /** The last restore, when no later deletion undid it. */
  restoreAt: Date | null
  /** Re-read the contact from HubSpot (created, changed or restored, and not deleted since). */
  read: boolean
}

/** One merge: the survivor (possibly a new record) and the contacts it absorbed. */
export interface MergePlan {
  survivorId: number
  absorbedIds: number[]
  at: Date
}

/** The coalesced events of one portal, applied through its integration. */
export interface PortalPlan {
  portalId: number
  /** Every inbox row the plan covers; they are done when the plan is applied. */
  eventIds: number[]
  contacts: ContactPlan[]
  merges: MergePlan[]
}

export interface BatchPlan {
  byPortal: PortalPlan[]
  /** Rows that need no work, with the reason. */
  ignored: { id: number; reason: string }[]
}

// Within one millisecond a creation comes first and a privacy deletion last, so a property
// change stamped with its creation's time reads the contact once and a purge always wins.
const kindRank: Record<ContactEventKind, number> = {
  creation: 0,
  propertyChange: 1,
  associationChange: 1,
  restore: 2,
  merge: 3,
  deletion: 4,
  privacyDeletion: 5,
}

interface Classified {
  row: WebhookEventRow
  event: WebhookEvent
  kind: ContactEventKind
}

/**
 * Groups claimed rows by portal and contact and coalesces each contact's events in order.
 * Stored events are parsed again, so the worker never trusts the inbox's JSON blindly.
 */
export function planBatch(rows: WebhookEventRow[]): BatchPlan {
  const plan: BatchPlan = { byPortal: [], ignored: [] }
  const groups = new Map<number, Classified[]>()
  for (const row of rows) {
    const parsed = webhookEventSchema.safeParse(row.event)
    const kind = parsed.success ? contactEventKind(parsed.data) : null
    if (!parsed.success) plan.ignored.push({ id: row.id, reason: 'stored event is invalid' })
    else if (kind === null) plan.ignored.push({ id: row.id, reason: 'not a contact event' })
    else {
      const group = groups.get(row.portal_id) ?? []
      group.push({ row, event: parsed.data, kind })
      groups.set(row.portal_id, group)
    }
  }
  for (const [portalId, group] of groups) plan.byPortal.push(planPortal(portalId, group))
  return plan
}

function planPortal(portalId: number, events: Classified[]): PortalPlan {
  const sorted = [...events].sort(
    (a, b) => a.event.occurredAt - b.event.occurredAt || kindRank[a.kind] - kindRank[b.kind] || a.row.id - b.row.id,
  )
  const contacts = new Map<number, ContactPlan>()
  const merges: MergePlan[] = []
  for (const { event, kind } of sorted) {
    if (kind === 'merge') {
      const merge = toMergePlan(event)
      if (merge) merges.push(merge)
      continue
    }
    if (event.objectId === undefined || kind === 'associationChange') continue
    applyEvent(contactPlan(contacts, event.objectId), kind, new Date(event.occurredAt))
  }
  return {
    portalId,
    eventIds: events.map((item) => item.row.id),
    contacts: [...contacts.values()],
    merges,
  }
}

function contactPlan(contacts: Map<number, ContactPlan>, contactId: number): ContactPlan {
  let plan = contacts.get(contactId)
  if (!plan) {
    plan = { contactId, purgeAt: null, deleteAt: null, restoreAt: null, read: false }
    contacts.set(contactId, plan)
  }
  return plan
}

function applyEvent(plan: ContactPlan, kind: ContactEventKind, at: Date): void {
  switch (kind) {
    case 'creation':
    case 'propertyChange':
      plan.read = true
      return
    case 'restore':
      plan.restoreAt = at
      plan.deleteAt = null
      plan.read = true
      return
    case 'deletion':
      plan.deleteAt = at
      plan.restoreAt = null
      plan.read = false
      return
    case 'privacyDeletion':
      plan.purgeAt = at
      return
    default:
      return
  }
}

/**
 * Reads a merge event. The survivor is `newObjectId` when HubSpot created a new record for
 * the merge, else the primary; every other id named in the event was absorbed.
 */
export function toMergePlan(event: WebhookEvent): MergePlan | null {
  const survivorId = event.newObjectId ?? event.primaryObjectId ?? event.objectId
  if (survivorId === undefined) return null
  const named = [event.primaryObjectId, event.objectId, ...(event.mergedObjectIds ?? [])]
  const absorbed = new Set(named.filter((id): id is number => id !== undefined && id !== survivorId))
  return { survivorId, absorbedIds: [...absorbed], at: new Date(event.occurredAt) }
}
