import { parseArgs } from 'node:util'

import type { Sql } from '../db/connection.js'
import { listActiveIntegrations } from '../db/integrations.js'
import type { RunKind, SyncRun } from '../db/syncRuns.js'
import type { SyncService } from './runner.js'
import type { RunProgress } from './runTypes.js'

export interface SyncCommandOutput {
  write(text: string): unknown
  isTTY?: boolean
}

export interface SyncCommandDeps {
  service: SyncService
  sql: Sql
  /** Defaults to process.stdout; progress is one redrawn line when it is a terminal. */
  stdout?: SyncCommandOutput
  stderr?: SyncCommandOutput
  /** Stops the runs on Ctrl-C; tests turn it off. Default true. */
  handleSigint?: boolean
}

export const syncUsage = `Usage: hubspot-sync sync (--integration ID | --all) [--kind contacts|archived|drift]

Runs a sync in the foreground and exits when it ends: 0 when every run succeeded, 1 when
one failed, was rate-limited or was interrupted, 2 for invalid arguments.

Afterwards it publishes the outbox (the lead and run events) to NATS_URL, waiting up to
5 seconds for a connection and publishing for up to 60 seconds. When NATS is unreachable
the events wait in the outbox until the service (hubspot-sync serve) publishes them; the
exit code does not change.

  --integration ID  integration to sync
  --all             every active integration, one after the other
  --kind KIND       contacts (default), archived or drift
`

/** Minimum time between two redraws of the terminal progress line. */
const redrawIntervalMs = 100
/** Minimum time between two plain progress lines when stdout is not a terminal. */
const plainLineIntervalMs = 5000

/** Runs `hubspot-sync sync`; returns the process exit code. */
export async function runSyncCommand(argv: string[], deps: SyncCommandDeps): Promise<number> {
  const stdout = deps.stdout ?? process.stdout
  const stderr = deps.stderr ?? process.stderr
  const parsed = parseSyncArgs(argv)
  if ('error' in parsed) {
    stderr.write(`${parsed.error}\n\n${syncUsage}`)
    return 2
  }

  const ids = parsed.all
    ? (await listActiveIntegrations(deps.sql)).map((integration) => integration.id)
    : [parsed.integrationId]
  if (ids.length === 0) {
    stdout.write('No active integrations to sync\n')
    return 0
  }

  const onSigint = () => void deps.service.stop()
  if (deps.handleSigint !== false) process.once('SIGINT', onSigint)
  try {
    let failures = 0
    for (const id of ids) {
      const run = await runOne(deps.service, id, parsed.kind, stdout, stderr)
      if (run?.status !== 'succeeded') failures++
    }
    return failures === 0 ? 0 : 1
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

type SyncArgs = { integrationId: number; all: boolean; kind: RunKind } | { error: string }

export function parseSyncArgs(argv: string[]): SyncArgs {
  let values: { integration?: string; all?: boolean; kind?: string }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        integration: { type: 'string' },
        all: { type: 'boolean', default: false },
        kind: { type: 'string', default: 'contacts' },
      },
      strict: true,
    }))
  } catch (error) {
    return { error: (error as Error).message }
  }

  const kind = values.kind ?? 'contacts'
  if (!['contacts', 'archived', 'drift'].includes(kind)) {
    return { error: `Invalid --kind ${JSON.stringify(kind)}: expected contacts, archived or drift` }
  }
  if (values.all && values.integration !== undefined) {
    return { error: 'Give --integration or --all, not both' }
  }
  if (values.all) return { integrationId: 0, all: true, kind: kind as RunKind }

  const id = Number(values.integration)
  if (values.integration === undefined) return { error: 'Missing --integration ID (or --all)' }
  if (!Number.isSafeInteger(id) || id <= 0) {
    const value = JSON.stringify(values.integration)
    return { error: `Invalid --integration ${value}: expected a positive integer` }
  }
  return { integrationId: id, all: false, kind: kind as RunKind }
}

async function runOne(
  service: SyncService,
  integrationId: number,
  kind: RunKind,
  stdout: SyncCommandOutput,
  stderr: SyncCommandOutput,
): Promise<SyncRun | null> {
  const progress = new ProgressPrinter(stdout)
  try {
    const { run, started, done } = await service.startRun(integrationId, 'cli', {
      kind,
      onProgress: (update) => progress.update(update),
    })
    if (!started) {
      stdout.write(`Run ${run.id} of integration ${integrationId} is already in progress; waiting for it\n`)
    }
    const finished = await done
    progress.end()
    stdout.write(`${describeRun(finished)}\n`)
    return finished
  } catch (error) {
    progress.end()
    stderr.write(`Sync of integration ${integrationId} failed: ${(error as Error).message}\n`)
    return null
  }
}

/** Prints run progress: one redrawn line on a terminal, a plain line every few seconds otherwise. */
class ProgressPrinter {
  private lastWriteMs = 0
  private hasLine = false

  constructor(private readonly output: SyncCommandOutput) {}

  update(progress: RunProgress): void {
    const nowMs = Date.now()
    const intervalMs = this.output.isTTY ? redrawIntervalMs : plainLineIntervalMs
    if (nowMs - this.lastWriteMs < intervalMs) return

    this.lastWriteMs = nowMs
    const line = describeProgress(progress)
    if (this.output.isTTY) {
      this.output.write(`\r\x1b[2K${line}`)
      this.hasLine = true
    } else {
      this.output.write(`${line}\n`)
    }
  }

  end(): void {
    if (this.hasLine) this.output.write('\r\x1b[2K')
    this.hasLine = false
  }
}

export function describeProgress(progress: RunProgress): string {
  const seconds = Math.max(progress.elapsedMs / 1000, 0.001)
  const perSecond = Math.round(progress.contactsRead / seconds)
  const { created, updated, unchanged, skipped, failed } = progress.counts
  return (
    `integration ${progress.integrationId} run ${progress.runId} ${progress.phase}: ` +
    `${progress.pages} pages, ${progress.contactsRead} contacts (${perSecond}/s), ` +
    `created ${created}, updated ${updated}, unchanged ${unchanged}, skipped ${skipped}, ` +
    `failed ${failed}, ${progress.hubspotCalls} HubSpot calls, ${progress.rateLimitWaits} rate-limit waits`
  )
}

export function describeRun(run: SyncRun): string {
  const durationMs = (run.finishedAt?.getTime() ?? Date.now()) - run.startedAt.getTime()
  const { created, updated, unchanged, skipped, deleted, failed } = run.counts
  const summary =
    `Run ${run.id} of integration ${run.integrationId} ${run.status} ` +
    `in ${(durationMs / 1000).toFixed(1)} s: ` +
    `created ${created}, updated ${updated}, unchanged ${unchanged}, skipped ${skipped}, ` +
    `deleted ${deleted}, failed ${failed}; ${run.pages} pages, ${run.hubspotCalls} HubSpot calls, ` +
    `${run.rateLimitWaits} rate-limit waits`
  return run.error ? `${summary}\n  ${run.errorCode}: ${run.error}` : summary
}
