import { isConnectionError, mapDatabaseError, type Sql, type TransactionSql } from '../db/connection.js'
import { findIntegration } from '../db/integrations.js'
import { insertLeadActions, lockLeadForActions, type LeadForActions } from '../db/leadActions.js'
import { insertOutboxEvents } from '../db/outbox.js'
import { errors, isAppError } from '../errors.js'
import { actionEventId, type ActionTrigger } from '../events/actionEvents.js'
import type { CloudEvent } from '../events/envelope.js'
import { actionOutcomes } from '../metrics.js'
import { applyAssignment } from './assign.js'
import type { ActionName, EnabledAssignConfig } from './config.js'
import { decideActions, decisionRecord, type ConfigSource, type PlannedAction } from './decide.js'
import { actionSubjects, buildRequestEvent } from './requests.js'

export interface RunLeadActionsOptions {
  trigger: ActionTrigger
  /** Default `import`: the settings snapshot taken when the lead was first imported. */
  configSource?: ConfigSource
}

/** The decision of one run for one action of a lead. */
export interface ActionResult {
  action: ActionName
  status: 'done' | 'skipped'
  reason: string | null
  /** False when an earlier run had already recorded the action; nothing was done again. */
  recorded: boolean
}

export interface LeadActionsOutcome {
  leadId: number
  integrationId: number
  results: ActionResult[]
}

/**
 * Runs the new-lead actions of one lead in one transaction. Each action is first recorded
 * in `lead_actions` (unique per lead and action); only an action whose record this run
 * wrote applies its effect and queues its outbox event, so a repeated run does nothing
 * twice. With `configSource: 'current'`, an action recorded as skipped can run now, but a
 * done action never runs again. Throws NOT_FOUND when the lead does not exist.
 */
export async function runLeadActions(
  sql: Sql,
  leadId: number,
  options: RunLeadActionsOptions,
): Promise<LeadActionsOutcome> {
  let outcome: LeadActionsOutcome
  try {
    outcome = await sql.begin((tx) => runInTransaction(tx, leadId, options))
  } catch (error) {
    if (isAppError(error) || !isDatabaseFailure(error)) throw error
    throw mapDatabaseError(error, 'runLeadActions')
  }
  for (const result of outcome.results) {
    if (result.recorded) actionOutcomes.inc({ action: result.action, outcome: result.status })
  }
  return outcome
}

async function runInTransaction(
  tx: TransactionSql,
  leadId: number,
  options: RunLeadActionsOptions,
): Promise<LeadActionsOutcome> {
  const configSource = options.configSource ?? 'import'
  const lead = await lockLeadForActions(tx, leadId)
  if (!lead) throw errors.notFound('Lead', leadId)

  const settings = configSource === 'import' ? lead.importActions : await currentSettings(tx, lead)
  const planned = decideActions(lead, settings)
  const context = { trigger: options.trigger, configSource }
  const records = planned.map((entry) => ({
    action: entry.action,
    status: entry.status,
    decision: decisionRecord(entry, context),
    eventId: entry.status === 'done' ? actionEventId(actionSubjects[entry.action], lead.id) : null,
  }))
  const written = new Set(await insertLeadActions(tx, lead.id, records, configSource === 'current'))

  const time = new Date()
  const events: CloudEvent<unknown>[] = []
  for (const entry of planned) {
    if (entry.status !== 'done' || !written.has(entry.action)) continue
    events.push(await applyEffect(tx, lead, entry, options.trigger, time))
  }
  await insertOutboxEvents(tx, events)

  const results = planned.map((entry) => toResult(entry, written.has(entry.action)))
  return { leadId: lead.id, integrationId: lead.integrationId, results }
}

/**
 * Tells whether an error came from PostgreSQL or a lost connection. Any other error is a
 * fault in this code and is rethrown unchanged, so the dead letter keeps its message.
 */
function isDatabaseFailure(error: unknown): boolean {
  return isConnectionError(error) || (error instanceof Error && error.name === 'PostgresError')
}

async function currentSettings(tx: TransactionSql, lead: LeadForActions): Promise<unknown> {
  const integration = await findIntegration(tx, lead.integrationId)
  return integration?.actions ?? {}
}

function applyEffect(
  tx: TransactionSql,
  lead: LeadForActions,
  entry: Extract<PlannedAction, { status: 'done' }>,
  trigger: ActionTrigger,
  time: Date,
): Promise<CloudEvent<unknown>> {
  const config = entry.config
  if (entry.action === 'assign') {
    return applyAssignment(tx, lead, config as EnabledAssignConfig, trigger, time)
  }
  const request = { action: entry.action, config } as Parameters<typeof buildRequestEvent>[1]
  return Promise.resolve(buildRequestEvent(lead, request, trigger, time))
}

function toResult(entry: PlannedAction, recorded: boolean): ActionResult {
  return {
    action: entry.action,
    status: entry.status,
    reason: entry.status === 'skipped' ? entry.reason : null,
    recorded,
  }
}
