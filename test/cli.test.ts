import { randomBytes } from 'node:crypto'

import t from 'tap'

import { mainUsage, runCli } from '../src/cli.js'
import { connect } from '../src/db/connection.js'
import { listMigrations } from '../src/db/migrate.js'
import { captureIo } from './helpers/captureIo.js'
import { adminUrl, createTestDatabase, withDatabase } from './helpers/database.js'

const encryptionKey = 'c3'.repeat(32)

t.test('help', async (t) => {
  const main = captureIo()
  t.equal(await runCli(['--help'], {}, main.io), 0)
  t.equal(main.stdout(), mainUsage)
  for (const command of ['serve', 'migrate', 'sync', 'integrations', 'actions']) t.match(main.stdout(), command)

  for (const command of ['serve', 'migrate', 'sync', 'integrations', 'actions']) {
    const captured = captureIo()
    t.equal(await runCli([command, '--help'], {}, captured.io), 0, `${command} --help exits 0`)
    t.match(captured.stdout(), `Usage: hubspot-sync ${command}`, `${command} --help prints its usage`)
  }
  const integrations = captureIo()
  await runCli(['integrations', '--help'], {}, integrations.io)
  t.match(integrations.stdout(), /--burst-per-10s N\s+HubSpot requests allowed per 10 seconds/, 'options name their unit')
})

t.test('unknown command exits 2 with the usage', async (t) => {
  const captured = captureIo()
  t.equal(await runCli(['frobnicate'], {}, captured.io), 2)
  t.match(captured.stderr(), 'Unknown command: frobnicate')
  t.match(captured.stderr(), 'Usage: hubspot-sync')
})

t.test('invalid configuration is reported before any work', async (t) => {
  await t.rejects(runCli(['migrate'], { PORT: 'x', LOG_LEVEL: 'loud' }, captureIo().io), { code: 'CONFIG_INVALID' })
})

t.test('migrate applies every migration to an empty database', async (t) => {
  const name = `hs_cli_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = connect(adminUrl, { maxConnections: 1 })
  await admin.unsafe(`create database ${name}`)
  t.teardown(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  })
  const env = { DATABASE_URL: withDatabase(adminUrl, name), ENCRYPTION_KEY: encryptionKey, LOG_LEVEL: 'silent' }

  const captured = captureIo()
  t.equal(await runCli(['migrate'], env, captured.io), 0)
  t.match(captured.stdout(), 'up to date')

  const sql = connect(env.DATABASE_URL, { maxConnections: 1 })
  t.teardown(() => sql.end())
  const rows = await sql<{ version: number }[]>`select version from schema_migrations order by version`
  const expected = (await listMigrations()).map((migration) => migration.version)
  t.same(rows.map((row) => row.version), expected)

  t.equal(await runCli(['migrate'], env, captureIo().io), 0, 'a second run finds nothing to do')
  t.equal(await runCli(['migrate', 'extra'], env, captureIo().io), 2, 'extra arguments are rejected')
})

t.test('integrations add and list', async (t) => {
  const { url, sql } = await createTestDatabase(t)
  const env = { DATABASE_URL: url, ENCRYPTION_KEY: encryptionKey, LOG_LEVEL: 'silent' }

  const added = captureIo()
  const token = 'cli-private-app-token'
  t.equal(await runCli(['integrations', 'add', '--portal-id', '777', '--name', 'CLI', '--token', token], env, added.io), 0)
  t.match(added.stdout(), /Integration \d+ registered for portal 777 \(private_app\)/)
  t.notMatch(added.stdout(), token)

  const duplicate = captureIo()
  t.equal(await runCli(['integrations', 'add', '--portal-id', '777', '--token', 'x'], env, duplicate.io), 1)
  t.match(duplicate.stderr(), /already has an integration/)

  const invalid = captureIo()
  t.equal(await runCli(['integrations', 'add', '--portal-id', 'abc', '--token', 'x'], env, invalid.io), 2)
  t.match(invalid.stderr(), /--portal-id/)

  const noCredentials = captureIo()
  t.equal(await runCli(['integrations', 'add', '--portal-id', '778'], env, noCredentials.io), 2)
  t.match(noCredentials.stderr(), /accessToken/)

  const listed = captureIo()
  t.equal(await runCli(['integrations', 'list'], env, listed.io), 0)
  t.match(listed.stdout(), /ID\s+PORTAL\s+AUTH\s+STATUS\s+NAME/)
  t.match(listed.stdout(), /777\s+private_app\s+active\s+CLI/)

  const json = captureIo()
  t.equal(await runCli(['integrations', 'list', '--json'], env, json.io), 0)
  t.match(JSON.parse(json.stdout()), [{ portalId: 777, name: 'CLI' }])
  t.notMatch(json.stdout(), token)

  const [row] = await sql<{ credentials: Buffer }[]>`select credentials from integrations where portal_id = 777`
  t.notOk(row.credentials.toString('latin1').includes(token), 'token sealed in the database')
})

t.test('integrations add refuses to store credentials without ENCRYPTION_KEY', async (t) => {
  const { url } = await createTestDatabase(t)
  const captured = captureIo()
  const env = { DATABASE_URL: url, LOG_LEVEL: 'silent' }
  t.equal(await runCli(['integrations', 'add', '--portal-id', '9', '--token', 'x'], env, captured.io), 1)
  t.match(captured.stderr(), /ENCRYPTION_KEY is required with DATABASE_URL/)
})
