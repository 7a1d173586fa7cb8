import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import { migrate } from '../db/migrate.js'
import { openDatabase } from '../db/openDatabase.js'
import { createLogger, type Logger } from '../logger.js'

/** Output streams of a command; tests pass buffers. */
export interface CommandIo {
  stdout: { write(text: string): unknown; isTTY?: boolean }
  stderr: { write(text: string): unknown }
}

export interface DatabaseCommandContext {
  config: Config
  sql: Sql
  logger: Logger
}

/**
 * Runs a command that needs the database: opens it (the embedded one without DATABASE_URL),
 * applies pending migrations, runs `action`, and always closes the database afterwards.
 * Logs go to stderr so that stdout carries only the command's output.
 */
export async function withDatabase<T>(
  config: Config,
  action: (context: DatabaseCommandContext) => Promise<T>,
): Promise<T> {
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, process.stderr)
  const database = await openDatabase(config, logger, { maxConnections: 4, applicationName: 'hubspot-sync-cli' })
  try {
    const applied = await migrate(database.sql)
    if (applied.length > 0) logger.info({ versions: applied }, 'database migrations applied')
    return await action({ config, sql: database.sql, logger })
  } finally {
    await database.close()
  }
}
