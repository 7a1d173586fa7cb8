import type { TransactionSql } from '../db/connection.js'
import {
  advanceAssignmentPosition,
  assignLead,
  mergeLeadActionDecision,
  type Assignment,
  type LeadForActions,
} from '../db/leadActions.js'
import { buildActionEvent, type ActionTrigger, type LeadAssignedData } from '../events/actionEvents.js'
import type { CloudEvent } from '../events/envelope.js'
import type { EnabledAssignConfig } from './config.js'
import { actionEventBase, actionSubjects } from './requests.js'

interface ChosenAssignee extends Assignment {
  ownerMatched: boolean | null
  /** The round-robin position taken, for the decision record. */
  position: number | null
}

/**
 * Picks the assignee. Round robin takes the integration's next position from PostgreSQL,
 * so it stays fair across replicas and restarts; the list index is the position modulo
 * the list length, so a changed list continues the count instead of starting over.
 */
async function chooseAssignee(
  tx: TransactionSql,
  lead: LeadForActions,
  config: EnabledAssignConfig,
): Promise<ChosenAssignee> {
  switch (config.strategy) {
    case 'round_robin': {
      const position = await advanceAssignmentPosition(tx, lead.integrationId)
      const userId = config.userIds[(position - 1) % config.userIds.length]
      return { userId, teamId: null, ownerMatched: null, position }
    }
    case 'team':
      return { userId: null, teamId: config.teamId, ownerMatched: null, position: null }
    case 'hubspot_owner': {
      const mapped = findMappedUser(config.ownerMap, lead.hubspotOwnerId)
      // decideActions skips the action when neither a mapping nor a fallback exists.
      const userId = mapped ?? (config.fallbackUserId as number)
      return { userId, teamId: null, ownerMatched: mapped !== null, position: null }
    }
  }
}

/**
 * Returns the user mapped from a HubSpot owner id, or null. HubSpot sends the owner id as
 * free text, so only the map's own keys count, never a name like `constructor`.
 */
export function findMappedUser(ownerMap: Record<string, number>, ownerId: string | null): number | null {
  if (ownerId === null || !Object.hasOwn(ownerMap, ownerId)) return null
  return ownerMap[ownerId]
}

/**
 * Assigns the lead inside the caller's transaction: writes the assignee on the lead, adds
 * it to the recorded decision, and returns the leads.assigned event for the outbox.
 */
export async function applyAssignment(
  tx: TransactionSql,
  lead: LeadForActions,
  config: EnabledAssignConfig,
  trigger: ActionTrigger,
  time: Date,
): Promise<CloudEvent<LeadAssignedData>> {
  const chosen = await chooseAssignee(tx, lead, config)
  const assignedAt = await assignLead(tx, lead.id, chosen)
  await mergeLeadActionDecision(tx, lead.id, 'assign', {
    assignment: {
      userId: chosen.userId,
      teamId: chosen.teamId,
      ownerMatched: chosen.ownerMatched,
      position: chosen.position,
    },
  })

  const data: LeadAssignedData = {
    ...actionEventBase(lead, trigger),
    strategy: config.strategy,
    userId: chosen.userId,
    teamId: chosen.teamId,
    ownerMatched: chosen.ownerMatched,
    assignedAt: assignedAt.toISOString(),
  }
  return buildActionEvent(actionSubjects.assign, data, time)
}
