import { z } from 'zod'

import { buildEvent, portalSource, type CloudEvent } from './envelope.js'
import { deterministicEventId } from './eventIds.js'
import { isoTime, leadIdsShape, mappedLeadSchema, positiveId } from './schemaParts.js'
import { Subject } from './subjects.js'

/** Triggers of an action run: the consumer of leads.imported, or a replay by an operator. */
export const actionTriggers = ['import', 'replay'] as const
export type ActionTrigger = (typeof actionTriggers)[number]

const actionEventBaseSchema = z.object({
  ...leadIdsShape,
  trigger: z.enum(actionTriggers),
  /** The lead's mapped fields when the action ran, for services that own no copy of the lead. */
  lead: mappedLeadSchema,
})
export type ActionEventBase = z.infer<typeof actionEventBaseSchema>

/** `data` of leads.assigned: exactly one of `userId` and `teamId` is set. */
export const leadAssignedDataSchema = actionEventBaseSchema.extend({
  strategy: z.enum(['round_robin', 'team', 'hubspot_owner']),
  userId: positiveId.nullable(),
  teamId: z.string().nullable(),
  /** For `hubspot_owner`: false when the fallback user was assigned. */
  ownerMatched: z.boolean().nullable(),
  assignedAt: isoTime,
})
export type LeadAssignedData = z.infer<typeof leadAssignedDataSchema>

/** `data` of leads.analysis.requested. */
export const leadAnalysisRequestedDataSchema = actionEventBaseSchema.extend({
  instructions: z.string().nullable(),
})
export type LeadAnalysisRequestedData = z.infer<typeof leadAnalysisRequestedDataSchema>

/** `data` of notifications.requested. */
export const notificationRequestedDataSchema = actionEventBaseSchema.extend({
  channel: z.string(),
  recipients: z.array(z.string()).min(1),
})
export type NotificationRequestedData = z.infer<typeof notificationRequestedDataSchema>

/** `data` of sequences.enrollment.requested. */
export const sequenceEnrollmentRequestedDataSchema = actionEventBaseSchema.extend({
  sequenceId: z.string(),
})
export type SequenceEnrollmentRequestedData = z.infer<typeof sequenceEnrollmentRequestedDataSchema>

/** The `data` schema of every subject the actions consumer publishes, by unprefixed subject. */
export const actionEventDataSchemas = {
  [Subject.leadsAssigned]: leadAssignedDataSchema,
  [Subject.leadsAnalysisRequested]: leadAnalysisRequestedDataSchema,
  [Subject.notificationsRequested]: notificationRequestedDataSchema,
  [Subject.sequencesEnrollmentRequested]: sequenceEnrollmentRequestedDataSchema,
} as const

export type ActionSubject = keyof typeof actionEventDataSchemas

/**
 * Returns the id of the one event an action publishes for a lead. Each action runs at most
 * once per lead, so the subject and the lead id name the effect, and a repeated publish is
 * dropped by JetStream's duplicate window and by the outbox's unique event id.
 */
export function actionEventId(subject: ActionSubject, leadId: number): string {
  return deterministicEventId(subject, leadId)
}

export function buildActionEvent<Data extends ActionEventBase>(
  subject: ActionSubject,
  data: Data,
  time: Date,
): CloudEvent<Data> {
  return buildEvent({
    type: subject,
    id: actionEventId(subject, data.leadId),
    source: portalSource(data.portalId),
    subject: `lead/${data.leadId}`,
    time,
    data,
  })
}
