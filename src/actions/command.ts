import { parseArgs } from 'node:util'

import type { Sql } from '../db/connection.js'
import { listLeadActions, type LeadAction } from '../db/leadActions.js'
import { isAppError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { ConfigSource } from './decide.js'
import { configSources, replayIntegrationActions, replayLeadActions } from './replay.js'
import type { ActionResult } from './runLeadActions.js'

export interface ActionsCommandOutput {
  write(text: string): unknown
}

export interface ActionsCommandDeps {
  sql: Sql
  logger?: Logger
  /** Defaults to process.stdout. */
  stdout?: ActionsCommandOutput
  /** Defaults to process.stderr. */
  stderr?: ActionsCommandOutput
}

export const actionsUsage = `Usage: hubspot-sync actions replay (--lead ID | --integration ID) [--config import|current]

Runs the new-lead actions that have not run yet and prints what was recorded. Exits 0 on
success, 1 when the lead or integration does not exist or the run failed, 2 for invalid
arguments.

  --lead ID          one lead
  --integration ID   every live lead of the integration that misses an action record
  --config SOURCE    import (default): the settings in force when the lead was imported;
                     current: the integration's settings now, which also runs actions
                     recorded as skipped. An action that was done never runs again.
`

type ReplayArgs =
  | { target: 'lead' | 'integration'; id: number; configSource: ConfigSource }
  | { error: string }

/** Runs `hubspot-sync actions ...`; returns the process exit code. */
export async function runActionsCommand(argv: string[], deps: ActionsCommandDeps): Promise<number> {
  const stdout = deps.stdout ?? process.stdout
  const stderr = deps.stderr ?? process.stderr
  const parsed = parseActionsArgs(argv)
  if ('error' in parsed) {
    stderr.write(`${parsed.error}\n\n${actionsUsage}`)
    return 2
  }

  try {
    if (parsed.target === 'lead') {
      const outcome = await replayLeadActions(deps.sql, parsed.id, { configSource: parsed.configSource })
      const records = await listLeadActions(deps.sql, outcome.leadId)
      for (const result of outcome.results) {
        const record = records.find((entry) => entry.action === result.action) ?? null
        stdout.write(`${formatResult(result, record)}\n`)
      }
      return 0
    }
    const summary = await replayIntegrationActions(deps.sql, parsed.id, {
      configSource: parsed.configSource,
      logger: deps.logger,
    })
    stdout.write(
      `Integration ${summary.integrationId}: ${summary.leads} leads, ` +
        `${summary.done} actions done, ${summary.skipped} skipped\n`,
    )
    return 0
  } catch (error) {
    if (!isAppError(error)) throw error
    stderr.write(`${error.message}\n`)
    return 1
  }
}

/**
 * Formats an action's status and reason in the words of the replay API's `results`. When
 * this replay recorded nothing, the record of an earlier run stays, and it is named if it
 * differs from this replay's decision.
 */
function formatResult(result: ActionResult, record: LeadAction | null): string {
  const decided = describeOutcome(result.status, result.reason)
  if (result.recorded) return `${result.action}: ${decided}`
  const earlier = record ? describeOutcome(record.status, record.reason) : null
  if (earlier === null || earlier === decided) {
    return `${result.action}: ${decided}, as recorded by an earlier run`
  }
  return `${result.action}: ${decided}; an earlier run recorded ${earlier}, which stays`
}

function describeOutcome(status: string, reason: string | null): string {
  return reason === null ? status : `${status} (${reason})`
}

export function parseActionsArgs(argv: string[]): ReplayArgs {
  const [subcommand, ...rest] = argv
  if (subcommand !== 'replay') return { error: `Unknown actions command: ${subcommand ?? '(none)'}` }

  let values: { lead?: string; integration?: string; config?: string }
  try {
    ;({ values } = parseArgs({
      args: rest,
      options: {
        lead: { type: 'string' },
        integration: { type: 'string' },
        config: { type: 'string', default: 'import' },
      },
      strict: true,
    }))
  } catch (error) {
    return { error: (error as Error).message }
  }

  if ((values.lead === undefined) === (values.integration === undefined)) {
    return { error: 'Pass exactly one of --lead ID and --integration ID' }
  }
  const raw = values.lead ?? values.integration ?? ''
  const id = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id <= 0) {
    return { error: `Invalid id ${JSON.stringify(raw)}: expected a positive integer` }
  }
  if (!(configSources as string[]).includes(values.config ?? '')) {
    return { error: `Invalid --config ${JSON.stringify(values.config)}: expected import or current` }
  }
  const target = values.lead !== undefined ? 'lead' : 'integration'
  return { target, id, configSource: values.config as ConfigSource }
}
