import { z } from 'zod'

import type { LeadEventFields } from '../db/leads.js'
import { buildEvent, portalSource, type CloudEvent } from './envelope.js'
import { deterministicEventId } from './eventIds.js'
import {
  isoTime,
  leadIdsShape,
  mappedLeadData,
  mappedLeadSchema,
  positiveId,
} from './schemaParts.js'
import { Subject } from './subjects.js'

/** Origin of the contact behind a lead event. */
export const leadOrigins = ['backfill', 'poll', 'manual', 'webhook'] as const
export const leadOriginSchema = z.enum(leadOrigins)
export type LeadOrigin = z.infer<typeof leadOriginSchema>

/** `data` of leads.imported, leads.updated and leads.restored: the lead's mapped fields. */
export const leadEventDataSchema = z.object({
  ...leadIdsShape,
  ...mappedLeadSchema.shape,
  hubspotUpdatedAt: isoTime.nullable(),
  origin: leadOriginSchema,
})
export type LeadEventData = z.infer<typeof leadEventDataSchema>

export const leadDeletedDataSchema = leadEventDataSchema.extend({ deletedAt: isoTime })
export type LeadDeletedData = z.infer<typeof leadDeletedDataSchema>

/** `data` of leads.merged: the surviving lead plus the contacts and leads it absorbed. */
export const leadMergedDataSchema = leadEventDataSchema.extend({
  mergedContactIds: z.array(positiveId),
  mergedLeadIds: z.array(positiveId),
})
export type LeadMergedData = z.infer<typeof leadMergedDataSchema>

/** `data` of leads.purged: ids only, because the event announces an erasure of personal data. */
export const leadPurgedDataSchema = z.strictObject({
  ...leadIdsShape,
  purgedAt: isoTime,
  origin: leadOriginSchema,
})
export type LeadPurgedData = z.infer<typeof leadPurgedDataSchema>

/** The `data` schema of every lead subject this module builds, by unprefixed subject. */
export const leadEventDataSchemas = {
  [Subject.leadsImported]: leadEventDataSchema,
  [Subject.leadsUpdated]: leadEventDataSchema,
  [Subject.leadsRestored]: leadEventDataSchema,
  [Subject.leadsDeleted]: leadDeletedDataSchema,
  [Subject.leadsMerged]: leadMergedDataSchema,
  [Subject.leadsPurged]: leadPurgedDataSchema,
} as const

/** The lead fields an event carries. A whole `Lead` fits. */
export type LeadEventLead = LeadEventFields

export interface LeadEventContext {
  portalId: number
  origin: LeadOrigin
  /** CloudEvents `time`, now by default. */
  time?: Date
}

export function leadEventData(lead: LeadEventLead, context: LeadEventContext): LeadEventData {
  return {
    leadId: lead.id,
    integrationId: lead.integrationId,
    portalId: context.portalId,
    hubspotContactId: lead.hubspotContactId,
    ...mappedLeadData(lead),
    hubspotUpdatedAt: lead.hubspotUpdatedAt?.toISOString() ?? null,
    origin: context.origin,
  }
}

function leadEnvelope<Data>(
  type: Subject,
  leadId: number,
  context: LeadEventContext,
  eventId: string,
  data: Data,
): CloudEvent<Data> {
  return buildEvent({
    type,
    id: eventId,
    source: portalSource(context.portalId),
    subject: `lead/${leadId}`,
    time: context.time,
    data,
  })
}

/** A lead is imported once, so its id alone names the effect. */
export function buildLeadImportedEvent(lead: LeadEventLead, context: LeadEventContext) {
  const eventId = deterministicEventId(Subject.leadsImported, lead.id)
  return leadEnvelope(Subject.leadsImported, lead.id, context, eventId, leadEventData(lead, context))
}

/**
 * The content hash is part of the id because HubSpot can stamp two different versions of a
 * contact with one modification time, and both changes must reach consumers.
 */
export function buildLeadUpdatedEvent(lead: LeadEventLead, context: LeadEventContext) {
  const eventId = versionEventId(Subject.leadsUpdated, lead)
  return leadEnvelope(Subject.leadsUpdated, lead.id, context, eventId, leadEventData(lead, context))
}

export function buildLeadRestoredEvent(lead: LeadEventLead, context: LeadEventContext) {
  const eventId = versionEventId(Subject.leadsRestored, lead)
  return leadEnvelope(Subject.leadsRestored, lead.id, context, eventId, leadEventData(lead, context))
}

function versionEventId(type: Subject, lead: LeadEventLead): string {
  const updatedAt = lead.hubspotUpdatedAt?.toISOString() ?? ''
  return deterministicEventId(type, lead.id, updatedAt, lead.contentHash)
}

export function buildLeadDeletedEvent(
  lead: LeadEventLead,
  context: LeadEventContext & { deletedAt: Date },
) {
  const deletedAt = context.deletedAt.toISOString()
  const eventId = deterministicEventId(Subject.leadsDeleted, lead.id, deletedAt)
  const data = { ...leadEventData(lead, context), deletedAt }
  return leadEnvelope(Subject.leadsDeleted, lead.id, context, eventId, data)
}

/** One survivor absorbing one set of contacts is one effect, whichever path reports it. */
export function buildLeadMergedEvent(
  lead: LeadEventLead,
  context: LeadEventContext & { mergedContactIds: number[]; mergedLeadIds: number[] },
) {
  const mergedContactIds = [...context.mergedContactIds].sort((a, b) => a - b)
  const mergedLeadIds = [...context.mergedLeadIds].sort((a, b) => a - b)
  const eventId = deterministicEventId(Subject.leadsMerged, lead.id, mergedContactIds.join(','))
  const data = { ...leadEventData(lead, context), mergedContactIds, mergedLeadIds }
  return leadEnvelope(Subject.leadsMerged, lead.id, context, eventId, data)
}

export interface PurgedLead {
  leadId: number
  integrationId: number
  hubspotContactId: number
  purgedAt: Date
}

/** Carries ids only: consumers erase what they hold for the lead. */
export function buildLeadPurgedEvent(lead: PurgedLead, context: LeadEventContext) {
  const eventId = deterministicEventId(Subject.leadsPurged, lead.leadId)
  const data: LeadPurgedData = {
    leadId: lead.leadId,
    integrationId: lead.integrationId,
    portalId: context.portalId,
    hubspotContactId: lead.hubspotContactId,
    purgedAt: lead.purgedAt.toISOString(),
    origin: context.origin,
  }
  return leadEnvelope(Subject.leadsPurged, lead.leadId, context, eventId, data)
}
