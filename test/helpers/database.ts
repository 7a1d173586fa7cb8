import { randomBytes } from 'node:crypto'

import { connect, type Sql } from '../../src/db/connection.js'
import { migrate } from '../../src/db/migrate.js'

/** The shared server tests create their databases on; CI and developers run it locally. */
export const adminUrl =
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres'

export interface TestDatabase {
  url: string
  name: string
  sql: Sql
}

interface Teardown {
  teardown(fn: () => unknown): void
}

/** Creates a fresh, migrated database for one test file and drops it when the test ends. */
export async function createTestDatabase(t: Teardown): Promise<TestDatabase> {
  const name = `hs_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = connect(adminUrl, { maxConnections: 1 })
  await admin.unsafe(`create database ${name}`)
  await admin.end()

  const url = withDatabase(adminUrl, name)
  const sql = connect(url, { maxConnections: 8 })
  await migrate(sql)

  t.teardown(async () => {
    await sql.end({ timeout: 5 })
    const cleanup = connect(adminUrl, { maxConnections: 1 })
    await cleanup.unsafe(`drop database if exists ${name} with (force)`)
    await cleanup.end()
  })
  return { url, name, sql }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}
