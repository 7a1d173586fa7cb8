import { setTimeout as delay } from 'node:timers/promises'

import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import { getIntegration, listActiveIntegrations, type Integration } from '../db/integrations.js'
import { insertOutboxEvents } from '../db/outbox.js'
import {
  findRun,
  findRunningRun,
  insertFailedRun,
  insertRunningRun,
  markStaleRunsInterrupted,
  type RunKind,
  type RunTrigger,
  type SyncRun,
} from '../db/syncRuns.js'
import { AppError, ErrorCode, errors } from '../errors.js'
import { buildRunFinishedEvent } from '../events/syncEvents.js'
import type { HubSpotClients } from '../hubspot/client.js'
import type { Logger } from '../logger.js'
import { syncRuns } from '../metrics.js'
import { runContacts } from './poll.js'
import { inactiveReason, RunExecution } from './runExecution.js'
import { RunLocks } from './runLock.js'
import type { KindRunner, RunProgress } from './runTypes.js'

export type { KindRunner, RunContext, RunCounts, RunKind, RunProgress, RunTrigger } from './runTypes.js'

export interface SyncServiceDeps {
  config: Config
  sql: Sql
  logger: Logger
  clients: HubSpotClients
  /** Runners of the kinds other than 'contacts' (which is built in). */
  runners?: Partial<Record<RunKind, KindRunner>>
  /** Clock for window bounds; tests inject one. */
  now?: () => Date
}

export interface StartRunOptions {
  kind?: RunKind
  onProgress?: (progress: RunProgress) => void
}

/** A run as `startRun` returns it; `started` is false when one was already running. */
export interface StartedRun {
  run: SyncRun
  started: boolean
  /** Resolves with the finished run; rejects only if the run row could not be written. */
  done: Promise<SyncRun>
}

export interface SyncService {
  startRun(integrationId: number, trigger: RunTrigger, options?: StartRunOptions): Promise<StartedRun>
  findRun(runId: number): Promise<SyncRun | null>
  /** Starts a run of every active integration, skipping those already running, and awaits them. */
  runDue(trigger: 'schedule', kind?: RunKind): Promise<void>
  /** Like runDue, but resolves once the runs are started, without waiting for them. */
  startDue(trigger: RunTrigger, kind?: RunKind): Promise<StartedRun[]>
  /** Lets each run finish the page in hand, marks it interrupted and releases the locks. */
  stop(): Promise<void>
}

/** How long a caller that lost the lock race looks for the winner's run row. */
const runLookupAttempts = 50
const runLookupDelayMs = 100
/** How often a run of another replica is checked while a caller waits for it. */
const remoteRunPollMs = 500

export function createSyncService(deps: SyncServiceDeps): SyncService {
  return new SyncRunner(deps)
}

interface ActiveRun {
  execution: RunExecution
  done: Promise<SyncRun>
}

class SyncRunner implements SyncService {
  private readonly locks: RunLocks
  private readonly runners: Record<RunKind, KindRunner | undefined>
  private readonly active = new Map<string, ActiveRun>()
  private readonly starting = new Map<string, Promise<StartedRun>>()
  private readonly now: () => Date
  private stopping = false

  constructor(private readonly deps: SyncServiceDeps) {
    this.locks = new RunLocks(deps.sql, deps.logger)
    this.now = deps.now ?? (() => new Date())
    this.runners = {
      contacts: runContacts,
      archived: deps.runners?.archived,
      drift: deps.runners?.drift,
    }
  }

  async startRun(
    integrationId: number,
    trigger: RunTrigger,
    options: StartRunOptions = {},
  ): Promise<StartedRun> {
    if (this.stopping) throw errors.shuttingDown()
    const kind = options.kind ?? 'contacts'
    const key = runKey(integrationId, kind)

    const active = this.active.get(key)
    if (active) return { run: active.execution.snapshot(), started: false, done: active.done }
    const starting = this.starting.get(key)
    if (starting) return { ...(await starting), started: false }

    const start = this.start(integrationId, kind, trigger, options)
    this.starting.set(key, start)
    try {
      return await start
    } finally {
      this.starting.delete(key)
    }
  }

  findRun(runId: number): Promise<SyncRun | null> {
    return findRun(this.deps.sql, runId)
  }

  /**
   * Runs one scheduler tick to its end. Like the scheduler, it logs a tick that cannot start
   * (the database is down, say) instead of throwing; the next tick tries again.
   */
  async runDue(trigger: 'schedule', kind: RunKind = 'contacts'): Promise<void> {
    let runs: StartedRun[]
    try {
      runs = await this.startDue(trigger, kind)
    } catch (error) {
      this.deps.logger.error({ err: error, kind }, 'scheduled sync tick failed')
      return
    }
    await Promise.allSettled(runs.filter((run) => run.started).map((run) => run.done))
  }

  async startDue(trigger: RunTrigger, kind: RunKind = 'contacts'): Promise<StartedRun[]> {
    if (this.stopping || !this.runners[kind]) return []
    const integrations = await listActiveIntegrations(this.deps.sql)
    const runs: StartedRun[] = []
    for (const integration of integrations) {
      if (this.stopping) break
      try {
        runs.push(await this.startRun(integration.id, trigger, { kind }))
      } catch (error) {
        const { id: integrationId, portalId } = integration
        this.deps.logger.error({ err: error, integrationId, portalId, kind }, 'starting sync run failed')
      }
    }
    return runs
  }

  async stop(): Promise<void> {
    this.stopping = true
    const pending = [...this.active.values()].map((active) => active.done)
    await Promise.allSettled([...pending, ...this.starting.values()])
    await this.locks.close()
  }

  private async start(
    integrationId: number,
    kind: RunKind,
    trigger: RunTrigger,
    options: StartRunOptions,
  ): Promise<StartedRun> {
    const runner = this.runners[kind]
    if (!runner) throw noRunner(kind)
    const integration = await getIntegration(this.deps.sql, integrationId)
    if (integration.status !== 'active') return this.failInactive(integration, kind, trigger)

    for (let attempt = 0; attempt < runLookupAttempts; attempt++) {
      if (await this.locks.tryAcquire(integration.id, kind)) {
        return this.launch(integration, kind, trigger, runner, options)
      }
      const running = await findRunningRun(this.deps.sql, integration.id, kind)
      if (running) return { run: running, started: false, done: this.waitForRemoteRun(running) }
      // The lock holder is between taking the lock and writing its row, or just finished.
      await delay(runLookupDelayMs)
    }
    const message =
      `A ${kind} run of integration ${integrationId} is starting on another replica; ` +
      'retry shortly'
    throw new AppError(ErrorCode.SYNC_ALREADY_RUNNING, message, {
      statusCode: 409,
      context: { integrationId, kind },
    })
  }

  private async launch(
    integration: Integration,
    kind: RunKind,
    trigger: RunTrigger,
    runner: KindRunner,
    options: StartRunOptions,
  ): Promise<StartedRun> {
    let execution: RunExecution
    try {
      const run = await this.insertRun(integration, kind, trigger)
      execution = this.buildExecution(integration, run, runner, options)
    } catch (error) {
      await this.locks.release(integration.id, kind)
      throw error
    }

    const key = runKey(integration.id, kind)
    const done = this.execute(execution, integration, kind)
    // Callers may drop `done`; the failure is already logged in execute.
    done.catch(() => {})
    this.active.set(key, { execution, done })
    return { run: execution.snapshot(), started: true, done }
  }

  /** Clears runs a dead process left `running` (the lock proves none is alive), then inserts. */
  private async insertRun(
    integration: Integration,
    kind: RunKind,
    trigger: RunTrigger,
  ): Promise<SyncRun> {
    return this.deps.sql.begin(async (tx) => {
      const stale = await markStaleRunsInterrupted(tx, integration.id, kind)
      const events = stale.map((run) => buildRunFinishedEvent(run, integration))
      await insertOutboxEvents(tx, events)
      for (const run of stale) {
        syncRuns.inc({ kind, trigger: run.trigger, outcome: 'interrupted' })
        const fields = { runId: run.id, integrationId: integration.id, kind }
        this.deps.logger.warn(fields, 'stale sync run marked interrupted')
      }
      return insertRunningRun(tx, integration.id, kind, trigger)
    })
  }

  private buildExecution(
    integration: Integration,
    run: SyncRun,
    runner: KindRunner,
    options: StartRunOptions,
  ): RunExecution {
    const logger = this.deps.logger.child({
      integrationId: integration.id,
      portalId: integration.portalId,
      runId: run.id,
    })
    return new RunExecution({
      config: this.deps.config,
      sql: this.deps.sql,
      logger,
      integration,
      api: this.deps.clients.forIntegration(integration),
      run,
      runner,
      now: this.now,
      isStopping: () => this.stopping,
      onProgress: options.onProgress,
    })
  }

  private async execute(
    execution: RunExecution,
    integration: Integration,
    kind: RunKind,
  ): Promise<SyncRun> {
    const key = runKey(integration.id, kind)
    try {
      return await execution.execute()
    } catch (error) {
      const fields = { err: error, integrationId: integration.id, runId: execution.runId, kind }
      this.deps.logger.error(fields, 'finishing sync run failed')
      throw error
    } finally {
      await this.locks.release(integration.id, kind)
      this.active.delete(key)
    }
  }

  /** Records and announces a failed run for a paused or needs_reauth integration. */
  private async failInactive(
    integration: Integration,
    kind: RunKind,
    trigger: RunTrigger,
  ): Promise<StartedRun> {
    const reason = inactiveReason(integration)
    const input = { integrationId: integration.id, kind, trigger, ...reason }
    const run = await this.deps.sql.begin(async (tx) => {
      const failed = await insertFailedRun(tx, input)
      await insertOutboxEvents(tx, [buildRunFinishedEvent(failed, integration)])
      return failed
    })
    syncRuns.inc({ kind, trigger, outcome: 'failed' })
    const fields = {
      runId: run.id,
      integrationId: integration.id,
      portalId: integration.portalId,
      kind,
      errorCode: reason.errorCode,
    }
    this.deps.logger.info(fields, 'sync run rejected for inactive integration')
    return { run, started: true, done: Promise.resolve(run) }
  }

  /**
   * Polls the row of a run that another replica is executing until it finishes.
   * NOTE: if that replica dies, the row stays `running` until the next run of the
   * integration takes the free lock and marks it interrupted, and only then does this resolve.
   */
  private async waitForRemoteRun(run: SyncRun): Promise<SyncRun> {
    let current: SyncRun | null = run
    while (current && current.status === 'running' && !this.stopping) {
      await delay(remoteRunPollMs)
      current = await findRun(this.deps.sql, run.id)
    }
    return current ?? run
  }
}

function noRunner(kind: RunKind): AppError {
  return new AppError(ErrorCode.VALIDATION_FAILED, `No runner is configured for ${kind} runs`, {
    statusCode: 400,
    context: { kind },
  })
}

function runKey(integrationId: number, kind: RunKind): string {
  return `${integrationId}:${kind}`
}
