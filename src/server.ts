import type { FastifyInstance } from 'fastify'

import { startActionsConsumer, type ActionsConsumer } from './actions/consumer.js'
import { buildApp } from './app.js'
import type { Config } from './config.js'
import type { Sql } from './db/connection.js'
import { migrate } from './db/migrate.js'
import { readOutboxStats } from './db/outbox.js'
import { openDatabase, type OpenedDatabase } from './db/openDatabase.js'
import { resolveEncryptionKey } from './encryptionKey.js'
import { NatsManager, redactUrl } from './events/nats.js'
import { startOutboxRelay, type OutboxRelay } from './events/relay.js'
import { createHubSpotClients, type HubSpotClients } from './hubspot/client.js'
import { createLogger, type Logger } from './logger.js'
import { runArchivedPass } from './sync/archivedPass.js'
import { runDriftCheck } from './sync/drift.js'
import { startInboxWorker, type InboxWorker } from './sync/inbox.js'
import { createSyncService, type SyncService } from './sync/runner.js'
import { syncSchedule } from './sync/schedule.js'

/** How long start-up waits for NATS before it goes on without it (events wait in the outbox). */
const natsStartupWaitMs = 2_000

export interface ServiceOverrides {
  logger?: Logger
  /** HubSpot clients to use instead of building them from the configuration. */
  clients?: HubSpotClients
}

/** A running service, as `startService` returns it. */
export interface ServiceHandles {
  app: FastifyInstance
  /** `http://HOST:PORT` with the port actually bound (PORT=0 picks a free one). */
  url: string
  port: number
  config: Config
  logger: Logger
  sql: Sql
  nats: NatsManager
  sync: SyncService
  clients: HubSpotClients
  relay: OutboxRelay | null
  inbox: InboxWorker | null
  actions: ActionsConsumer | null
  /** Shuts down gracefully; resolves `{ timedOut }` once everything is closed. Idempotent. */
  stop(): Promise<{ timedOut: boolean }>
}

interface Parts {
  config: Config
  logger: Logger
  database: OpenedDatabase
  nats: NatsManager
  clients: HubSpotClients
  sync: SyncService
  relay: OutboxRelay | null
  inbox: InboxWorker | null
  actions: ActionsConsumer | null
}

/**
 * Starts everything one replica runs: database (embedded when DATABASE_URL is unset) and
 * migrations, NATS, the outbox relay, the webhook inbox worker, the actions consumer, the
 * sync service with its schedule, and the HTTP server on HOST:PORT. Several services may run
 * in one process (tests do), each with its own port. Installs no signal handlers.
 */
export async function startService(config: Config, overrides: ServiceOverrides = {}): Promise<ServiceHandles> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL)
  const encryptionKey = await resolveEncryptionKey(config, logger)
  const database = await openDatabase(config, logger, { applicationName: 'hubspot-sync' })

  let parts: Parts | null = null
  try {
    const applied = await migrate(database.sql)
    if (applied.length > 0) logger.info({ versions: applied }, 'database migrations applied')

    const nats = await startNats(config, logger)
    const { clients, sync } = createSyncParts({ config, sql: database.sql, encryptionKey, logger, clients: overrides.clients })
    parts = { config, logger, database, nats, clients, sync, ...startWorkers(config, logger, database.sql, nats, clients) }
    return await listen(parts, encryptionKey)
  } catch (error) {
    if (parts) await closeParts(parts, null).catch(() => {})
    else await database.close().catch(() => {})
    throw error
  }
}

export interface SyncPartsDeps {
  config: Config
  sql: Sql
  encryptionKey: Buffer
  logger: Logger
  clients?: HubSpotClients
}

/** Builds the HubSpot clients and the sync service with every run kind; the CLI uses it too. */
export function createSyncParts(deps: SyncPartsDeps): { clients: HubSpotClients; sync: SyncService } {
  const { config, sql, encryptionKey, logger } = deps
  const clients = deps.clients ?? createHubSpotClients({ config, sql, encryptionKey, logger })
  const runners = { archived: runArchivedPass, drift: runDriftCheck }
  return { clients, sync: createSyncService({ config, sql, logger, clients, runners }) }
}

async function startNats(config: Config, logger: Logger): Promise<NatsManager> {
  const nats = new NatsManager({ url: config.NATS_URL, subjectPrefix: config.NATS_SUBJECT_PREFIX, logger })
  nats.start()
  if (!(await nats.waitUntilConnected(natsStartupWaitMs))) {
    const fields = { natsUrl: redactUrl(config.NATS_URL), waitedMs: natsStartupWaitMs }
    logger.warn(fields, 'NATS is unreachable; starting without it, events wait in the outbox until it connects')
  }
  return nats
}

function startWorkers(config: Config, logger: Logger, sql: Sql, nats: NatsManager, clients: HubSpotClients) {
  const disabled = [
    config.OUTBOX_RELAY_ENABLED ? null : 'OUTBOX_RELAY_ENABLED',
    config.INBOX_WORKER_ENABLED ? null : 'INBOX_WORKER_ENABLED',
    config.ACTIONS_ENABLED ? null : 'ACTIONS_ENABLED',
  ].filter((name) => name !== null)
  if (disabled.length > 0) logger.info({ disabled }, 'background workers switched off by configuration')

  return {
    relay: config.OUTBOX_RELAY_ENABLED ? startOutboxRelay({ sql, nats, logger }) : null,
    inbox: config.INBOX_WORKER_ENABLED ? startInboxWorker({ sql, clients, logger, config }) : null,
    actions: config.ACTIONS_ENABLED ? startActionsConsumer({ sql, nats, logger, config }) : null,
  }
}

async function listen(parts: Parts, encryptionKey: Buffer): Promise<ServiceHandles> {
  const { config, logger, database, nats, sync, clients } = parts
  let shuttingDown = false
  const app = buildApp({
    config,
    sql: database.sql,
    logger,
    nats,
    isShuttingDown: () => shuttingDown,
    services: { sync, encryptionKey, clients },
  })
  await app.register(syncSchedule, { config, service: sync, logger })
  if (!config.API_TOKEN) {
    logger.warn('admin routes are disabled because API_TOKEN is unset; they return 401 ADMIN_DISABLED')
  }

  await app.listen({ host: config.HOST, port: config.PORT })
  const port = addressPort(app)
  const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`
  logger.info({ url, embeddedDatabase: database.embedded !== null, natsConnected: nats.isConnected() }, 'service started')

  let stopping: Promise<{ timedOut: boolean }> | null = null
  const stop = () => {
    shuttingDown = true
    stopping ??= stopWithin(parts, app, config.SHUTDOWN_TIMEOUT_MS)
    return stopping
  }
  return { app, url, port, config, logger, sql: database.sql, nats, sync, clients, ...pick(parts), stop }
}

function pick(parts: Parts) {
  return { relay: parts.relay, inbox: parts.inbox, actions: parts.actions }
}

function addressPort(app: FastifyInstance): number {
  const address = app.server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

/**
 * Runs the graceful shutdown, and past SHUTDOWN_TIMEOUT_MS closes connections at once so
 * the process can exit before its orchestrator kills it.
 */
async function stopWithin(parts: Parts, app: FastifyInstance, timeoutMs: number): Promise<{ timedOut: boolean }> {
  const { logger } = parts
  logger.info({ timeoutMs }, 'shutting down')
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  // The outbox flush gets at most half of the time, so the later steps still fit in it.
  const flushUntilMs = Date.now() + timeoutMs / 2
  const outcome = await Promise.race([closeParts(parts, app, flushUntilMs).then(() => 'done' as const), timeout])
  clearTimeout(timer)
  if (outcome === 'done') {
    logger.info('shutdown complete')
    return { timedOut: false }
  }
  logger.error({ timeoutMs }, 'graceful shutdown timed out; closing connections now')
  await Promise.allSettled([parts.nats.close(), parts.database.sql.end({ timeout: 0 })])
  await parts.database.embedded?.stop().catch(() => {})
  return { timedOut: true }
}

/**
 * Closes the parts in order: HTTP and scheduled ticks first, then runs (each finishes its
 * page in hand), the inbox worker, the outbox (published first), the actions consumer,
 * HubSpot clients, NATS and PostgreSQL. HubSpot calls are cut first of all: a rate-limit
 * pause (a Retry-After can be minutes) or a silent HubSpot would otherwise hold the runs
 * and the inbox batch past SHUTDOWN_TIMEOUT_MS. Runs end interrupted and resume from their
 * cursor, and the inbox retries the events of a cut batch.
 */
async function closeParts(parts: Parts, app: FastifyInstance | null, flushUntilMs = Infinity): Promise<void> {
  const { logger } = parts
  const httpClosed = app ? app.close() : Promise.resolve()
  parts.clients.stop()
  await step(logger, 'sync runs', () => parts.sync.stop())
  await step(logger, 'inbox worker', () => parts.inbox?.stop())
  await step(logger, 'http server', () => httpClosed)
  await step(logger, 'outbox relay', () => flushAndStop(parts, flushUntilMs))
  await step(logger, 'actions consumer', () => parts.actions?.stop())
  await step(logger, 'hubspot clients', () => parts.clients.close())
  await step(logger, 'nats', () => parts.nats.close())
  await step(logger, 'database', () => parts.database.close())
}

/**
 * Publishes the outbox before NATS closes, until `untilMs`. A backlog after a long NATS
 * outage can take longer to publish than a shutdown may, so what is left waits in the
 * outbox for the next replica or the restart.
 */
async function flushAndStop(parts: Parts, untilMs: number): Promise<void> {
  if (!parts.relay) return
  if (!parts.nats.isConnected()) return parts.relay.stop()

  const published = await parts.relay.flushAndStop(untilMs)
  const waiting = Date.now() >= untilMs ? await countWaiting(parts.database.sql) : 0
  if (waiting === 0) parts.logger.debug({ published }, 'outbox flushed before shutdown')
  else parts.logger.warn({ published, waiting }, 'outbox flush stopped to keep the shutdown in time; the rest waits')
}

/** Returns the number of unpublished outbox rows, or null when it cannot be read. */
async function countWaiting(sql: Sql): Promise<number | null> {
  try {
    return (await readOutboxStats(sql)).depth
  } catch {
    return null
  }
}

/** Runs one shutdown step; a failure is logged and the next steps still run. */
async function step(logger: Logger, name: string, action: () => Promise<unknown> | unknown): Promise<void> {
  try {
    await action()
    logger.debug({ step: name }, 'shutdown step done')
  } catch (error) {
    logger.error({ err: error, step: name }, 'shutdown step failed')
  }
}
