import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import t, { type Test } from 'tap'

import { testConfig } from '../../src/config.js'
import type { Sql } from '../../src/db/connection.js'
import { prefixedStreamName } from '../../src/events/subjects.js'
import { startService, type ServiceHandles } from '../../src/server.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import {
  apiToken,
  callAdmin,
  checkOutboxAgainstStreams,
  encryptionKey,
  readStream,
  registerPortal,
  startOwnNats,
  waitFor,
  type OwnNats,
} from './support.js'

const prefix = 'res'
const streams = ['LEADS', 'HUBSPOT_SYNC', 'NOTIFICATIONS', 'SEQUENCES'].map((name) => prefixedStreamName(prefix, name))
const leadsStream = prefixedStreamName(prefix, 'LEADS')

interface Setup {
  nats: OwnNats
  sim: Simulator
  sql: Sql
  service: ServiceHandles
  integrationId: number
}

/** Starts an own NATS, a simulator, a database and the service, and runs the first sync. */
async function setUp(t: Test, contacts: number): Promise<Setup> {
  const nats = await startOwnNats(t)
  const sim = await startSimulator({ contacts, seed: 21 })
  t.teardown(() => sim.close())
  const { url, sql } = await createTestDatabase(t)
  const config = testConfig({
    PORT: '0',
    DATABASE_URL: url,
    ENCRYPTION_KEY: encryptionKey,
    API_TOKEN: apiToken,
    NATS_URL: nats.url,
    NATS_SUBJECT_PREFIX: prefix,
    HUBSPOT_API_URL: sim.url,
    SCHEDULER_ENABLED: 'false',
    ACTIONS_ENABLED: 'false',
    POLL_SETTLE_SECONDS: '0',
    POLL_OVERLAP_SECONDS: '0',
  })
  const service = await startService(config)
  t.teardown(() => service.stop())
  t.ok(await service.nats.waitUntilConnected(10_000), 'NATS connected at start')
  const integrationId = await registerPortal(service.url, sim.portalId, sim.privateAppToken)
  await syncNow(t, service, integrationId)
  await waitForDrain(sql)
  return { nats, sim, sql, service, integrationId }
}

async function syncNow(t: Test, service: ServiceHandles, integrationId: number) {
  const run = await callAdmin(service.url, 'POST', `/sync/${integrationId}?wait=true`)
  t.equal(run.body.status, 'succeeded', 'the sync run succeeds')
}

async function unpublished(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from outbox where published_at is null`
  return row.n
}

function waitForDrain(sql: Sql, timeoutMs = 20_000) {
  return waitFor('the outbox to drain', timeoutMs, async () => (await unpublished(sql)) === 0)
}

/** Changes `count` contacts in the simulator, so the next sync writes one leads.updated each. */
function changeContacts(sim: Simulator, count: number, title: string): string[] {
  const ids = sim.contacts.ids().slice(0, count).map(String)
  sim.contacts.bulkUpdate(ids, { jobtitle: title })
  return ids
}

async function updatedEventIds(sql: Sql, title: string): Promise<string[]> {
  const rows = await sql<{ event_id: string }[]>`
    select event_id from outbox
    where subject = 'leads.updated'
      and payload -> 'data' ->> 'jobTitle' = ${title}
    order by event_id
  `
  return rows.map((row) => row.event_id)
}

t.test('NATS down and back publishes what waited', async (t) => {
  const setup = await setUp(t, 300)
  await setup.nats.stop()
  await waitFor('the disconnect', 10_000, () => !setup.service.nats.isConnected())
  const ready = await (await fetch(`${setup.service.url}/readyz`)).json()
  t.equal(ready.checks.nats, 'disconnected', 'readyz reports NATS disconnected')

  changeContacts(setup.sim, 50, 'While NATS Was Down')
  await syncNow(t, setup.service, setup.integrationId)
  t.ok((await unpublished(setup.sql)) >= 50, 'the events wait in the outbox')

  await setup.nats.start()
  await waitFor('the reconnect', 20_000, () => setup.service.nats.isConnected())
  await waitForDrain(setup.sql)
  const check = await checkOutboxAgainstStreams(setup.sql, setup.nats.url, streams)
  t.ok(check.rows >= 350, 'events from before and during the outage')
  t.same(check.missing, [], 'the stream kept the old events and received the new ones')
  t.same(check.duplicated, [], 'no event twice')
})

t.test('NATS restarted without its streams declares them again', async (t) => {
  const setup = await setUp(t, 100)
  await setup.nats.stop()
  await setup.nats.start({ emptyStore: true })
  await waitFor('the reconnect', 20_000, () => setup.service.nats.isConnected())

  changeContacts(setup.sim, 20, 'After Empty Restart')
  await syncNow(t, setup.service, setup.integrationId)
  await waitForDrain(setup.sql)
  const expected = await updatedEventIds(setup.sql, 'After Empty Restart')
  t.equal(expected.length, 20)
  const inStream = (await readStream(setup.nats.url, leadsStream)).map((message) => message.msgId).sort()
  t.same(inStream, expected, 'the new LEADS stream holds the events published after the restart')
})

t.test('stream deleted while connected is declared again', async (t) => {
  const setup = await setUp(t, 100)
  const nc = await connect({ servers: setup.nats.url })
  t.teardown(() => nc.close())
  await (await jetstreamManager(nc)).streams.delete(leadsStream)

  changeContacts(setup.sim, 20, 'After Stream Deleted')
  await syncNow(t, setup.service, setup.integrationId)
  await waitForDrain(setup.sql)
  const expected = await updatedEventIds(setup.sql, 'After Stream Deleted')
  t.equal(expected.length, 20)
  const inStream = (await readStream(setup.nats.url, leadsStream)).map((message) => message.msgId).sort()
  t.same(inStream, expected, 'the events reach the re-declared stream')
})
