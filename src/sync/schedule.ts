import fastifySchedule from '@fastify/schedule'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AsyncTask, SimpleIntervalJob } from 'toad-scheduler'

import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import type { RunKind } from '../db/syncRuns.js'
import type { Logger } from '../logger.js'
import { retentionPolicy, runRetentionPass } from './retention.js'
import type { SyncService } from './runner.js'

export interface SyncScheduleOptions {
  config: Config
  service: SyncService
  logger: Logger
  /** Interval of contacts runs; defaults to SYNC_INTERVAL_MINUTES. Tests shorten it. */
  syncIntervalMs?: number
  /** Interval of archived and drift runs; defaults to RECONCILE_INTERVAL_HOURS. */
  reconcileIntervalMs?: number
  /** Database of the retention job, by default the app's `deps.sql`. Without one the job is not scheduled. */
  sql?: Sql
  /** Interval of retention passes, by default `retentionIntervalMs` (10 minutes). */
  retentionIntervalMs?: number
}

/** Job ids, as `app.scheduler.getById` finds them. */
export const scheduleJobIds = {
  contacts: 'sync-contacts',
  archived: 'reconcile-archived',
  drift: 'reconcile-drift',
} as const satisfies Record<RunKind, string>

/**
 * Schedules runs of every active integration: contacts every SYNC_INTERVAL_MINUTES, archived
 * and drift every RECONCILE_INTERVAL_HOURS. A tick only starts runs and returns, so one long
 * run never holds back the others. The run lock keeps a still-running integration from
 * starting twice, and `preventOverrun` keeps two ticks of one job from overlapping. The jobs
 * stop when the app closes, but runs in progress stop only with `SyncService.stop()`.
 */
async function syncSchedulePlugin(app: FastifyInstance, options: SyncScheduleOptions): Promise<void> {
  const { config, logger } = options
  if (!config.SCHEDULER_ENABLED) {
    logger.info('scheduler disabled by SCHEDULER_ENABLED=false')
    return
  }
  if (!app.hasDecorator('scheduler')) await app.register(fastifySchedule)

  const syncIntervalMs = options.syncIntervalMs ?? config.SYNC_INTERVAL_MINUTES * 60_000
  const reconcileIntervalMs = options.reconcileIntervalMs ?? config.RECONCILE_INTERVAL_HOURS * 3_600_000
  let isClosing = false
  app.addHook('onClose', async () => {
    isClosing = true
  })

  const schedule = (kind: RunKind, intervalMs: number) => {
    const task = new AsyncTask(
      scheduleJobIds[kind],
      async () => {
        if (!isClosing) await options.service.startDue('schedule', kind)
      },
      (error) => logger.error({ err: error, kind }, 'scheduled sync tick failed'),
    )
    const job = new SimpleIntervalJob({ milliseconds: intervalMs }, task, {
      id: scheduleJobIds[kind],
      preventOverrun: true,
    })
    app.scheduler.addSimpleIntervalJob(job)
  }

  schedule('contacts', syncIntervalMs)
  schedule('archived', reconcileIntervalMs)
  schedule('drift', reconcileIntervalMs)
  scheduleRetention(app, options, () => isClosing)
  logger.info({ syncIntervalMs, reconcileIntervalMs }, 'sync schedule started')
}

export const syncSchedule = fp(syncSchedulePlugin, {
  fastify: '5.x',
  name: 'hubspot-sync-schedule',
})

/** Job id of the retention passes, as `app.scheduler.getById` finds it. */
export const retentionJobId = 'data-retention'

/** Default interval of retention passes. */
export const retentionIntervalMs = 10 * 60_000

/**
 * Schedules retention passes (`runRetentionPass`): published outbox events older than
 * OUTBOX_RETENTION_HOURS and processed webhook events older than INBOX_RETENTION_DAYS are
 * deleted. Each replica with the scheduler runs them, and their batches skip each other's rows.
 */
function scheduleRetention(app: FastifyInstance, options: SyncScheduleOptions, isClosing: () => boolean): void {
  const sql = options.sql ?? (app.hasDecorator('deps') ? app.deps.sql : undefined)
  if (sql === undefined) {
    options.logger.warn('retention job not scheduled: no database was given to the schedule')
    return
  }
  const policy = retentionPolicy(options.config)
  const task = new AsyncTask(
    retentionJobId,
    async () => {
      if (isClosing()) return
      const result = await runRetentionPass(sql, policy)
      if (result.outboxDeleted + result.inboxDeleted > 0) options.logger.info(result, 'retention pass deleted old events')
    },
    (error) => options.logger.error({ err: error }, 'retention pass failed'),
  )
  const intervalMs = options.retentionIntervalMs ?? retentionIntervalMs
  const job = new SimpleIntervalJob({ milliseconds: intervalMs }, task, { id: retentionJobId, preventOverrun: true })
  app.scheduler.addSimpleIntervalJob(job)
}
