import type { LeadForActions } from '../db/leadActions.js'
import { pickMappedFields } from '../db/leads.js'
import type { FieldIssue } from '../errors.js'
import type { ActionTrigger } from '../events/actionEvents.js'
import { findMappedUser } from './assign.js'
import {
  actionNames,
  actionSchemas,
  toFieldIssues,
  type ActionConfig,
  type ActionName,
} from './config.js'
import { matchesCondition, type ConditionSubject } from './conditions.js'

/**
 * Source of the settings a run uses. `import` is the snapshot taken when the lead was first
 * imported, and `current` is the integration's settings now (replays only).
 */
export type ConfigSource = 'import' | 'current'

/** Reason an action did nothing for a lead. */
export type SkipReason =
  | 'not_configured'
  | 'disabled'
  | 'condition_not_met'
  | 'invalid_config'
  | 'owner_not_mapped'
  | 'lead_deleted'
  | 'lead_merged'
  | 'lead_purged'

export type PlannedAction =
  | { action: ActionName; status: 'done'; config: ActionConfig & { enabled: true } }
  | {
      action: ActionName
      status: 'skipped'
      reason: SkipReason
      /** Kept in the decision record: the invalid fields, or the condition not met. */
      detail?: { issues: FieldIssue[] } | { when: unknown }
    }

export interface DecisionContext {
  trigger: ActionTrigger
  configSource: ConfigSource
}

/**
 * Decides, for each of the four actions, whether it runs for the lead. Each action of the
 * settings is checked on its own, so one invalid action in a stored snapshot skips only
 * that action. A lead that is deleted, merged or purged gets no action at all.
 */
export function decideActions(lead: LeadForActions, settings: unknown): PlannedAction[] {
  const retired = retiredReason(lead)
  if (retired !== null) {
    return actionNames.map((action) => ({ action, status: 'skipped', reason: retired }))
  }
  const config = isObject(settings) ? settings : {}
  const subject = conditionSubject(lead)
  return actionNames.map((action) => decideAction(action, config[action], subject, lead))
}

function decideAction(
  action: ActionName,
  value: unknown,
  subject: ConditionSubject,
  lead: LeadForActions,
): PlannedAction {
  if (value === undefined || value === null) return { action, status: 'skipped', reason: 'not_configured' }

  const parsed = actionSchemas[action].safeParse(value)
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error, value, `actions.${action}`)
    return { action, status: 'skipped', reason: 'invalid_config', detail: { issues } }
  }

  const config = parsed.data
  if (!config.enabled) return { action, status: 'skipped', reason: 'disabled' }
  if (!matchesCondition(subject, config.when)) {
    return { action, status: 'skipped', reason: 'condition_not_met', detail: { when: config.when } }
  }
  if (!hasOwnerAssignee(config, lead)) return { action, status: 'skipped', reason: 'owner_not_mapped' }
  return { action, status: 'done', config }
}

/** A `hubspot_owner` assignment needs a mapped owner or a fallback user. */
function hasOwnerAssignee(config: ActionConfig, lead: LeadForActions): boolean {
  if (!('strategy' in config) || config.strategy !== 'hubspot_owner' || !config.enabled) return true
  return findMappedUser(config.ownerMap, lead.hubspotOwnerId) !== null || config.fallbackUserId !== undefined
}

function retiredReason(lead: LeadForActions): SkipReason | null {
  if (lead.purgedAt !== null) return 'lead_purged'
  if (lead.mergedIntoContactId !== null) return 'lead_merged'
  if (lead.deletedAt !== null) return 'lead_deleted'
  return null
}

function conditionSubject(lead: LeadForActions): ConditionSubject {
  return {
    fields: pickMappedFields(lead),
    properties: lead.properties ?? {},
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The record kept in `lead_actions.decision`: what was decided, from which settings. */
export function decisionRecord(planned: PlannedAction, context: DecisionContext): Record<string, unknown> {
  const base = { trigger: context.trigger, configSource: context.configSource }
  if (planned.status === 'done') return { ...base, config: planned.config }
  return { ...base, reason: planned.reason, ...planned.detail }
}
