import postgres from 'postgres'

import { AppError, ErrorCode, errors } from '../errors.js'

type CustomTypes = { bigint: number }
export type Sql = postgres.Sql<CustomTypes>
export type TransactionSql = postgres.TransactionSql<CustomTypes>
/** A connection or a transaction: every query module accepts either. */
export type Queryable = Sql | TransactionSql

export interface ConnectOptions {
  maxConnections?: number
  applicationName?: string
}

/**
 * Opens a postgres.js pool. HubSpot ids pass 2^31 but stay far below 2^53, so int8 columns
 * are parsed as JavaScript numbers rather than strings.
 */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.maxConnections ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'hubspot-sync' },
    types: {
      bigint: {
        to: 20,
        from: [20],
        serialize: (value: number | bigint | string) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  })
}

const connectionErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
])

/**
 * Returns the `code` of a postgres.js error: the SQLSTATE of a failed statement, or a
 * code such as `ECONNREFUSED` or `CONNECTION_CLOSED` for a connection failure.
 */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Tells a lost or refused database connection apart from a failed statement. */
export function isConnectionError(error: unknown): boolean {
  const code = sqlStateOf(error)
  return code !== undefined && connectionErrorCodes.has(code)
}

/**
 * Maps a postgres.js error to an AppError at the database edge, naming the query
 * so a log line says which statement failed.
 */
export function mapDatabaseError(error: unknown, queryName: string): AppError {
  if (error instanceof AppError) return error
  if (isConnectionError(error)) return errors.databaseUnavailable(error)

  const sqlState = (error as { code?: string }).code
  if (sqlState === '23505') {
    return new AppError(ErrorCode.CONFLICT, `${queryName}: duplicate key`, {
      statusCode: 409,
      cause: error,
      context: { query: queryName, constraint: (error as { constraint_name?: string }).constraint_name },
    })
  }
  return new AppError(ErrorCode.DATABASE_ERROR, `${queryName} failed`, {
    cause: error,
    context: { query: queryName, sqlState },
  })
}
