import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

import t from 'tap'

import { runCli } from '../../src/cli.js'
import { parseEncryptionKey } from '../../src/crypto.js'
import { readCredentials } from '../../src/db/integrations.js'
import { captureIo } from '../helpers/captureIo.js'
import { createTestDatabase } from '../helpers/database.js'

// Drives `hubspot-sync integrations update` in-process against a real database and checks
// the stored row after each command.
const encryptionKey = 'd4'.repeat(32)
const { url, sql } = await createTestDatabase(t)
const env = { DATABASE_URL: url, ENCRYPTION_KEY: encryptionKey, LOG_LEVEL: 'silent' }

const firstToken = 'pat-update-first-token'
const secondToken = 'pat-update-second-token'
const tokens = [firstToken, secondToken]
let portalId = 8_100_000

/** Everything the commands printed, so the test can check that no token leaked. */
const printed: string[] = []

async function cli(args: string[]) {
  const captured = captureIo()
  const code = await runCli(['integrations', ...args], env, captured.io)
  printed.push(captured.stdout(), captured.stderr())
  return { code, stdout: captured.stdout(), stderr: captured.stderr() }
}

async function update(id: number, args: string[]) {
  return cli(['update', '--id', String(id), ...args])
}

/** Registers a portal through `integrations add` and returns its integration id. */
async function addIntegration(): Promise<number> {
  const portal = portalId++
  const added = await cli(['add', '--portal-id', String(portal), '--name', 'Before', '--token', firstToken])
  if (added.code !== 0) throw new Error(`integrations add failed: ${added.stderr}`)
  const [row] = await sql<{ id: number }[]>`select id from integrations where portal_id = ${portal}`
  return row.id
}

interface StoredRow {
  name: string
  status: string
  status_reason: string | null
  actions: unknown
  burst_per_10_seconds: number | null
}

async function storedRow(id: number) {
  const [row] = await sql<StoredRow[]>`
    select name, status, status_reason, actions, burst_per_10_seconds from integrations where id = ${id}
  `
  return row
}

const actions = {
  assign: { enabled: true, strategy: 'round_robin', userIds: [11, 12] },
  notify: { enabled: true, channel: 'slack', recipients: ['#leads'] },
}

t.test('update stores actions, name and burst', async (t) => {
  const id = await addIntegration()

  const changed = await update(id, ['--actions', JSON.stringify(actions), '--name', 'After', '--burst-per-10s', '40'])
  t.equal(changed.code, 0, changed.stderr)
  t.match(changed.stdout, /ID\s+PORTAL\s+AUTH\s+STATUS\s+NAME/)
  t.match(changed.stdout, new RegExp(`^${id}\\s+\\d+\\s+private_app\\s+active\\s+After$`, 'm'))

  const row = await storedRow(id)
  t.same(row.actions, actions, 'actions stored as given')
  t.equal(row.name, 'After')
  t.equal(row.burst_per_10_seconds, 40)

  const renamed = await update(id, ['--name', 'Again'])
  t.equal(renamed.code, 0, renamed.stderr)
  t.same((await storedRow(id)).actions, actions, 'an update without actions keeps them')
})

t.test('update reads actions from a file', async (t) => {
  const id = await addIntegration()
  const dir = await mkdtemp(path.join(tmpdir(), 'hs-update-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'actions.json')
  const fromFile = { sequence: { enabled: true, sequenceId: 'welcome' } }
  await writeFile(file, JSON.stringify(fromFile))

  const changed = await update(id, ['--actions-file', file, '--json'])
  t.equal(changed.code, 0, changed.stderr)
  t.same((await storedRow(id)).actions, fromFile)
  t.match(JSON.parse(changed.stdout), { id, actions: fromFile })

  const missing = await update(id, ['--actions-file', path.join(dir, 'missing.json')])
  t.equal(missing.code, 2, 'an unreadable file exits with 2')
  t.match(missing.stderr, 'Failed to read --actions-file')

  const both = await update(id, ['--actions-file', file, '--actions', '{}'])
  t.equal(both.code, 2, '--actions with --actions-file exits with 2')
  t.match(both.stderr, 'either --actions or --actions-file')
})

t.test('update rejects bad arguments with the field named', async (t) => {
  const id = await addIntegration()
  await update(id, ['--actions', JSON.stringify(actions)])

  const emptyUsers = { assign: { enabled: true, strategy: 'round_robin', userIds: [] } }
  const badActions = await update(id, ['--actions', JSON.stringify(emptyUsers)])
  t.equal(badActions.code, 2)
  t.match(badActions.stderr, 'actions.assign.userIds: expected a non-empty array of distinct positive integers')
  t.same((await storedRow(id)).actions, actions, 'rejected actions leave the stored ones')

  const notJson = await update(id, ['--actions', '{assign'])
  t.equal(notJson.code, 2)
  t.match(notJson.stderr, 'Invalid --actions: not valid JSON')

  const badStatus = await update(id, ['--status', 'needs_reauth'])
  t.equal(badStatus.code, 2)
  t.match(badStatus.stderr, 'status: expected active or paused')

  const badBurst = await update(id, ['--burst-per-10s', '0'])
  t.equal(badBurst.code, 2)
  t.match(badBurst.stderr, 'burstPer10Seconds')

  const badId = await cli(['update', '--id', 'seven', '--name', 'x'])
  t.equal(badId.code, 2)
  t.match(badId.stderr, 'Invalid --id "seven"')

  const noId = await cli(['update', '--name', 'x'])
  t.equal(noId.code, 2)
  t.match(noId.stderr, 'Missing --id ID')

  const nothing = await update(id, ['--json'])
  t.equal(nothing.code, 2)
  t.match(nothing.stderr, 'Nothing to change')

  const unknownOption = await update(id, ['--owner', '3'])
  t.equal(unknownOption.code, 2)
  t.match(unknownOption.stderr, '--owner')

  const row = await storedRow(id)
  t.equal(row.status, 'active', 'rejected commands change nothing')
  t.equal(row.burst_per_10_seconds, null)
})

t.test('update of an unknown id exits 1', async (t) => {
  const unknown = await cli(['update', '--id', '999999', '--name', 'ghost'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /Integration 999999 not found/i)
})

t.test('update pauses and activates', async (t) => {
  const id = await addIntegration()

  const paused = await update(id, ['--status', 'paused'])
  t.equal(paused.code, 0, paused.stderr)
  t.match(paused.stdout, /private_app\s+paused\s+Before/)
  t.equal((await storedRow(id)).status, 'paused')

  const activated = await update(id, ['--status', 'active', '--json'])
  t.equal(activated.code, 0, activated.stderr)
  t.equal(JSON.parse(activated.stdout).status, 'active')
  t.equal((await storedRow(id)).status, 'active')
})

t.test('new token re-activates a needs_reauth integration', async (t) => {
  const id = await addIntegration()
  await sql`update integrations set status = 'needs_reauth', status_reason = 'grant revoked' where id = ${id}`

  const rejected = await update(id, ['--status', 'active'])
  t.equal(rejected.code, 1, 'activating without credentials is rejected')
  t.match(rejected.stderr, 'needs re-authorisation')
  t.equal((await storedRow(id)).status, 'needs_reauth')

  const reauthorized = await update(id, ['--token', secondToken, '--json'])
  t.equal(reauthorized.code, 0, reauthorized.stderr)
  const output = JSON.parse(reauthorized.stdout)
  t.equal(output.status, 'active')
  t.equal(output.statusReason, null)
  t.notOk('credentials' in output, 'no credentials in the output')

  const row = await storedRow(id)
  t.equal(row.status, 'active')
  t.equal(row.status_reason, null)
  const credentials = await readCredentials(sql, parseEncryptionKey(encryptionKey), id)
  t.same(credentials, { accessToken: secondToken }, 'the new token is stored sealed')
})

t.test('new token keeps a paused integration paused', async (t) => {
  const id = await addIntegration()
  await update(id, ['--status', 'paused'])

  const replaced = await update(id, ['--token', secondToken])
  t.equal(replaced.code, 0, replaced.stderr)
  t.equal((await storedRow(id)).status, 'paused')
})

t.test('nothing printed contains a token', async (t) => {
  t.ok(printed.join('').length > 0, 'the commands printed output')
  const all = printed.join('\n')
  for (const token of tokens) t.notOk(all.includes(token), `${token} never printed`)
})
