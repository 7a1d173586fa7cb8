import type { Config } from '../config.js'
import { AppError, ErrorCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { connect, type Sql } from './connection.js'
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js'

export interface OpenedDatabase {
  sql: Sql
  /** Set when no DATABASE_URL was given and the embedded cluster in DATA_DIR is used. */
  embedded: EmbeddedDatabase | null
  /** Closes the pool, then leaves the embedded cluster, stopping it when no other process uses it. */
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  maxConnections?: number
  applicationName?: string
}

/**
 * Connects to DATABASE_URL, or without it starts the embedded PostgreSQL in DATA_DIR, and
 * checks that the database accepts a query before returning.
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  options: OpenDatabaseOptions = {},
): Promise<OpenedDatabase> {
  const embedded = config.DATABASE_URL
    ? null
    : await startEmbeddedPostgres({ dataDir: config.DATA_DIR, port: config.EMBEDDED_POSTGRES_PORT, logger })
  const url = config.DATABASE_URL ?? embedded?.url ?? ''
  const sql = connect(url, options)

  const close = async () => {
    await sql.end({ timeout: 5 })
    await embedded?.stop()
  }
  try {
    await sql`select 1`
  } catch (error) {
    await close().catch(() => {})
    throw unreachable(url, error)
  }
  return { sql, embedded, close }
}

function unreachable(url: string, cause: unknown): AppError {
  const { hostname, port, pathname } = new URL(url)
  const where = `${hostname}:${port || 5432}${pathname}`
  return new AppError(
    ErrorCode.DATABASE_UNAVAILABLE,
    `PostgreSQL at ${where} did not accept a connection; check DATABASE_URL and that the server is running`,
    { statusCode: 503, cause, context: { host: hostname, port: port || '5432' } },
  )
}
