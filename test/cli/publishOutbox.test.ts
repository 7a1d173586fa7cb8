import { jetstreamManager } from '@nats-io/jetstream'
import t, { type Test } from 'tap'

import { runCli } from '../../src/cli.js'
import type { Sql } from '../../src/db/connection.js'
import { prefixedStreamName } from '../../src/events/subjects.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { captureIo } from '../helpers/captureIo.js'
import { createTestDatabase } from '../helpers/database.js'
import { connectNats, natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { freePort } from '../helpers/ports.js'

const encryptionKey = 'd4'.repeat(32)

interface Fixture {
  sql: Sql
  sim: Simulator
  prefix: string
  env: Record<string, string>
  integrationId: number
}

/** Creates a database and a simulator with `contacts` contacts, and registers it with the CLI. */
async function setup(t: Test, contacts: number, actions?: unknown): Promise<Fixture> {
  const { url, sql } = await createTestDatabase(t)
  const sim = await startSimulator({ port: 0, contacts, seed: 3 })
  t.teardown(() => sim.close())
  const prefix = uniqueSubjectPrefix(t)
  const env = {
    DATABASE_URL: url,
    ENCRYPTION_KEY: encryptionKey,
    HUBSPOT_API_URL: sim.url,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: prefix,
    LOG_LEVEL: 'silent',
  }
  const add = ['integrations', 'add', '--portal-id', String(sim.portalId), '--token', sim.privateAppToken]
  if (actions) add.push('--actions', JSON.stringify(actions))
  const added = captureIo()
  t.equal(await runCli(add, env, added.io), 0, 'integrations add succeeds')
  const integrationId = Number(/Integration (\d+) registered/.exec(added.stdout())?.[1])
  return { sql, sim, prefix, env, integrationId }
}

interface StoredMessage {
  subject: string
  type: string
  email: string | null
}

/** Reads every message of a stream by sequence number. */
async function readStream(t: Test, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(await connectNats(t))
  const info = await jsm.streams.info(stream)
  const messages: StoredMessage[] = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq })
    if (!message) throw new Error(`message ${seq} of ${stream} is missing`)
    const event = message.json<{ type: string; data: { email?: string | null } }>()
    messages.push({ subject: message.subject, type: event.type, email: event.data.email ?? null })
  }
  return messages
}

async function unpublishedCount(sql: Sql): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from outbox where published_at is null`
  return row.count
}

t.test('sync publishes its events to JetStream without a service', async (t) => {
  const { sql, sim, prefix, env, integrationId } = await setup(t, 25)

  const synced = captureIo()
  t.equal(await runCli(['sync', '--integration', String(integrationId)], env, synced.io), 0, synced.stderr())
  t.match(synced.stdout(), /Run \d+ of integration \d+ succeeded/)
  t.match(synced.stdout(), `Published 26 events to NATS (${natsUrl}, subject prefix ${prefix})`)
  t.equal(await unpublishedCount(sql), 0, 'the outbox is empty')

  const leads = await readStream(t, prefixedStreamName(prefix, 'LEADS'))
  t.equal(leads.length, 25, 'one message per new lead')
  t.ok(leads.every((message) => message.subject === `${prefix}.leads.imported`), 'all on the prefixed leads.imported')
  t.ok(leads.every((message) => message.type === 'leads.imported'))
  const emails = sim.contacts.all().map((contact) => contact.properties.email ?? null)
  t.same(new Set(leads.map((message) => message.email)), new Set(emails), 'one message for each contact')

  const runs = await readStream(t, prefixedStreamName(prefix, 'HUBSPOT_SYNC'))
  t.same(runs.map((message) => message.subject), [`${prefix}.hubspot.sync.completed`])

  const again = captureIo()
  t.equal(await runCli(['sync', '--integration', String(integrationId)], env, again.io), 0)
  t.match(again.stdout(), 'Published 1 event to NATS', 'a run with no changes publishes only its own event')
  t.equal((await readStream(t, prefixedStreamName(prefix, 'LEADS'))).length, 25, 'no lead event twice')
})

t.test('actions replay publishes the action events', async (t) => {
  const actions = { notify: { enabled: true, channel: 'email', recipients: ['sales@example.com'] } }
  const { sql, prefix, env, integrationId } = await setup(t, 3, actions)
  t.equal(await runCli(['sync', '--integration', String(integrationId)], env, captureIo().io), 0)

  const replayed = captureIo()
  const code = await runCli(['actions', 'replay', '--integration', String(integrationId)], env, replayed.io)
  t.equal(code, 0, replayed.stderr())
  t.match(replayed.stdout(), '3 leads, 3 actions done, 9 skipped')
  t.match(replayed.stdout(), 'Published 3 events to NATS')
  t.equal(await unpublishedCount(sql), 0)

  const notifications = await readStream(t, prefixedStreamName(prefix, 'NOTIFICATIONS'))
  t.equal(notifications.length, 3)
  t.ok(notifications.every((message) => message.subject === `${prefix}.notifications.requested`))
})

t.test('unreachable NATS leaves the events in the outbox', async (t) => {
  const { sql, env, integrationId } = await setup(t, 4)
  const offline = { ...env, NATS_URL: `nats://127.0.0.1:${await freePort()}` }

  const synced = captureIo()
  t.equal(await runCli(['sync', '--integration', String(integrationId)], offline, synced.io), 0, 'the sync still succeeds')
  t.match(synced.stderr(), /NATS at nats:\/\/127\.0\.0\.1:\d+ was unreachable for 5 s; the outbox keeps 5 events until the service/)
  t.notMatch(synced.stdout(), 'Published')
  t.equal(await unpublishedCount(sql), 5, 'the events wait in the outbox')

  const replayed = captureIo()
  t.equal(await runCli(['actions', 'replay', '--integration', String(integrationId)], env, replayed.io), 0)
  t.match(replayed.stdout(), 'Published 5 events to NATS', 'the next command with NATS publishes them')
  t.equal(await unpublishedCount(sql), 0)
})

t.test('invalid arguments or a disabled relay publish nothing', async (t) => {
  const { sql, env, integrationId } = await setup(t, 1)
  const disabled = { ...env, OUTBOX_RELAY_ENABLED: 'false' }

  const synced = captureIo()
  t.equal(await runCli(['sync', '--integration', String(integrationId)], disabled, synced.io), 0)
  t.match(synced.stderr(), 'OUTBOX_RELAY_ENABLED is false, so this command publishes nothing; the outbox keeps 2 events')
  t.equal(await unpublishedCount(sql), 2)

  const invalid = captureIo()
  t.equal(await runCli(['sync', '--kind', 'other', '--all'], env, invalid.io), 2)
  t.notMatch(invalid.stdout(), 'Published')
  t.equal(await unpublishedCount(sql), 2, 'a command rejected for its arguments leaves the outbox alone')
})
