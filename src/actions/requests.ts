import type { LeadForActions } from '../db/leadActions.js'
import { mappedLeadData } from '../events/schemaParts.js'
import {
  buildActionEvent,
  type ActionEventBase,
  type ActionSubject,
  type ActionTrigger,
} from '../events/actionEvents.js'
import type { CloudEvent } from '../events/envelope.js'
import { Subject } from '../events/subjects.js'
import type { AnalyzeConfig, ActionName, NotifyConfig, SequenceConfig } from './config.js'

/** The subject each action publishes its one event on. */
export const actionSubjects: Record<ActionName, ActionSubject> = {
  assign: Subject.leadsAssigned,
  analyze: Subject.leadsAnalysisRequested,
  notify: Subject.notificationsRequested,
  sequence: Subject.sequencesEnrollmentRequested,
}

/** The part of `data` every action event shares: the lead's ids and mapped fields. */
export function actionEventBase(lead: LeadForActions, trigger: ActionTrigger): ActionEventBase {
  return {
    leadId: lead.id,
    integrationId: lead.integrationId,
    portalId: lead.portalId,
    hubspotContactId: lead.hubspotContactId,
    trigger,
    lead: mappedLeadData(lead),
  }
}

type RequestConfig =
  | { action: 'analyze'; config: Extract<AnalyzeConfig, { enabled: true }> }
  | { action: 'notify'; config: Extract<NotifyConfig, { enabled: true }> }
  | { action: 'sequence'; config: Extract<SequenceConfig, { enabled: true }> }

/**
 * Builds the request an action sends to the service that owns it: an AI analysis, a
 * notification or a sequence enrollment. The action's options go into `data` beside the lead.
 */
export function buildRequestEvent(
  lead: LeadForActions,
  request: RequestConfig,
  trigger: ActionTrigger,
  time: Date,
): CloudEvent<ActionEventBase> {
  const base = actionEventBase(lead, trigger)
  const subject = actionSubjects[request.action]

  switch (request.action) {
    case 'analyze':
      return buildActionEvent(subject, { ...base, instructions: request.config.instructions ?? null }, time)
    case 'notify': {
      const { channel, recipients } = request.config
      return buildActionEvent(subject, { ...base, channel, recipients }, time)
    }
    case 'sequence':
      return buildActionEvent(subject, { ...base, sequenceId: request.config.sequenceId }, time)
  }
}
