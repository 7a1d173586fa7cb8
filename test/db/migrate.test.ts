import t from 'tap'

import { hasPendingMigrations, listMigrations, migrate } from '../../src/db/migrate.js'
import { createTestDatabase } from '../helpers/database.js'

t.test('migrations apply once and report nothing pending', async (t) => {
  const { sql } = await createTestDatabase(t)
  const files = await listMigrations()

  const rows = await sql<{ version: number }[]>`select version from schema_migrations order by version`
  t.same(
    rows.map((row) => row.version),
    files.map((file) => file.version),
  )
  t.equal(await hasPendingMigrations(sql), false)
  t.same(await migrate(sql), [], 'a second run applies nothing')
})

t.test('concurrent migrators apply each migration once', async (t) => {
  const { sql } = await createTestDatabase(t)
  await sql`drop table schema_migrations`
  await sql`drop schema public cascade`
  await sql`create schema public`

  const results = await Promise.all([migrate(sql), migrate(sql), migrate(sql)])
  const applied = results.flat()
  const files = await listMigrations()
  t.equal(applied.length, files.length, 'each version applied by exactly one migrator')
  t.equal(await hasPendingMigrations(sql), false)
})
