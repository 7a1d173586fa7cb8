import type { Sql } from '../db/connection.js'
import { getIntegration } from '../db/integrations.js'
import { listLeadsForReplay } from '../db/leadActions.js'
import { ErrorCode, isAppError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { ConfigSource } from './decide.js'
import { runLeadActions, type LeadActionsOutcome } from './runLeadActions.js'

/**
 * Replay settings. The `configSource` values:
 * - `import` (default) runs, with the settings snapshot taken at import, every action not
 *   recorded yet, for example after a dead letter;
 * - `current` runs with the integration's settings now, and also runs actions recorded
 *   as skipped. A done action never runs twice, whatever the source.
 */
export interface ReplayOptions {
  configSource?: ConfigSource
}

export const configSources: readonly ConfigSource[] = ['import', 'current']

/** Replays the new-lead actions of one lead. Throws NOT_FOUND for an unknown lead. */
export function replayLeadActions(
  sql: Sql,
  leadId: number,
  options: ReplayOptions = {},
): Promise<LeadActionsOutcome> {
  return runLeadActions(sql, leadId, { trigger: 'replay', configSource: options.configSource })
}

export interface IntegrationReplaySummary {
  integrationId: number
  configSource: ConfigSource
  /** Leads the replay ran for. */
  leads: number
  /** Actions recorded by this replay, by status. */
  done: number
  skipped: number
}

export interface IntegrationReplayOptions extends ReplayOptions {
  logger?: Logger
  /** Leads read per query; default 500. */
  batchSize?: number
}

/**
 * Replays the actions of an integration's live leads (not deleted, merged or purged) that
 * miss a record of some action, or with `configSource: 'current'` also those with a skipped
 * action. Leads are handled one transaction each, in id order. Throws NOT_FOUND for an
 * unknown integration.
 */
export async function replayIntegrationActions(
  sql: Sql,
  integrationId: number,
  options: IntegrationReplayOptions = {},
): Promise<IntegrationReplaySummary> {
  await getIntegration(sql, integrationId)
  const configSource = options.configSource ?? 'import'
  const summary: IntegrationReplaySummary = { integrationId, configSource, leads: 0, done: 0, skipped: 0 }
  const limit = options.batchSize ?? 500
  let afterLeadId = 0

  for (;;) {
    const includeSkipped = configSource === 'current'
    const leadIds = await listLeadsForReplay(sql, integrationId, { afterLeadId, limit, includeSkipped })
    for (const leadId of leadIds) {
      const outcome = await replayOneLead(sql, leadId, configSource)
      if (outcome) addToSummary(summary, outcome)
    }
    if (leadIds.length < limit) break
    afterLeadId = leadIds[leadIds.length - 1]
  }

  options.logger?.info({ ...summary }, 'lead actions replayed')
  return summary
}

/** Returns null when the lead was removed after it was listed. */
async function replayOneLead(
  sql: Sql,
  leadId: number,
  configSource: ConfigSource,
): Promise<LeadActionsOutcome | null> {
  try {
    return await replayLeadActions(sql, leadId, { configSource })
  } catch (error) {
    if (isAppError(error, ErrorCode.NOT_FOUND)) return null
    throw error
  }
}

function addToSummary(summary: IntegrationReplaySummary, outcome: LeadActionsOutcome): void {
  summary.leads += 1
  for (const result of outcome.results) {
    if (!result.recorded) continue
    if (result.status === 'done') summary.done += 1
    else summary.skipped += 1
  }
}
