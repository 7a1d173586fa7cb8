import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

import { AppError, ErrorCode } from '../errors.js'
import type { Sql } from './connection.js'

/** Directory of the numbered `NNNN-slug.sql` files, next to src/ in the source and build trees. */
export const migrationsDir = findMigrationsDir()

function findMigrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const fromSource = path.resolve(here, '../../sql')
  const fromBuild = path.resolve(here, '../../../sql')
  return here.includes(`${path.sep}dist${path.sep}`) ? fromBuild : fromSource
}

export interface Migration {
  version: number
  name: string
  file: string
}

// Any fixed number works: it only has to be the same for every replica.
const migrationLockKey = 7_318_202_611

export async function listMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort()
  return files.map((file) => {
    const match = /^(\d{4})-([a-z0-9-]+)\.sql$/.exec(file)
    if (!match) {
      throw new AppError(ErrorCode.MIGRATION_FAILED, `Invalid migration file name ${file}; expected NNNN-slug.sql`)
    }
    return { version: Number(match[1]), name: match[2], file: path.join(dir, file) }
  })
}

/**
 * Applies every migration not yet recorded, each in its own transaction. A session advisory
 * lock serialises replicas that start at once: the second waits, then finds nothing to do.
 */
export async function migrate(sql: Sql, dir = migrationsDir): Promise<number[]> {
  const migrations = await listMigrations(dir)
  const reserved = await sql.reserve()
  try {
    await reserved`select pg_advisory_lock(${migrationLockKey})`
    await reserved`
      create table if not exists schema_migrations (
        version int primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )
    `
    const rows = await reserved<{ version: number }[]>`select version from schema_migrations`
    const applied = new Set(rows.map((row) => row.version))
    const pending = migrations.filter((migration) => !applied.has(migration.version))
    for (const migration of pending) await applyMigration(reserved, migration)
    return pending.map((migration) => migration.version)
  } finally {
    await reserved`select pg_advisory_unlock(${migrationLockKey})`.catch(() => {})
    reserved.release()
  }
}

async function applyMigration(sql: postgresReserved, migration: Migration): Promise<void> {
  const text = await readFile(migration.file, 'utf8')
  try {
    await sql`begin`
    await sql.unsafe(text)
    await sql`insert into schema_migrations (version, name) values (${migration.version}, ${migration.name})`
    await sql`commit`
  } catch (error) {
    await sql`rollback`.catch(() => {})
    throw new AppError(ErrorCode.MIGRATION_FAILED, `Migration ${path.basename(migration.file)} failed`, {
      cause: error,
      context: { version: migration.version },
    })
  }
}

type postgresReserved = Awaited<ReturnType<Sql['reserve']>>

/** Tells whether every migration on disk has been applied, for the readiness check. */
export async function hasPendingMigrations(sql: Sql, dir = migrationsDir): Promise<boolean> {
  const migrations = await listMigrations(dir)
  const [exists] = await sql<{ present: boolean }[]>`
    select to_regclass('schema_migrations') is not null as present
  `
  if (!exists.present) return migrations.length > 0
  const rows = await sql<{ version: number }[]>`select version from schema_migrations`
  const applied = new Set(rows.map((row) => row.version))
  return migrations.some((migration) => !applied.has(migration.version))
}
