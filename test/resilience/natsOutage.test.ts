import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import t, { type Test } from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { prefixedStreamName } from '../../src/events/subjects.js'
import type { ServiceHandles } from '../../src/server.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { checkOutboxAgainstStreams, readStream, serviceStreams } from '../helpers/jetstream.js'
import { startOwnNats, type OwnNats } from '../helpers/ownNats.js'
import { serviceEnv, startServiceForPortal, syncAndWait } from '../helpers/service.js'
import { waitFor } from '../helpers/waitFor.js'
import { countUnpublished, waitForOutboxDrain } from './support.js'

const prefix = 'res'
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
  const env = serviceEnv({ databaseUrl: url, hubspotUrl: sim.url, subjectPrefix: prefix, natsUrl: nats.url })
  const { service, integrationId } = await startServiceForPortal(t, env, sim)
  t.ok(await service.nats.waitUntilConnected(10_000), 'NATS connected at start')
  await syncNow(t, { service, integrationId })
  await waitForOutboxDrain(sql, 20_000)
  return { nats, sim, sql, service, integrationId }
}

async function syncNow(t: Test, setup: Pick<Setup, 'service' | 'integrationId'>) {
  const run = await syncAndWait(setup.service.url, setup.integrationId)
  t.equal(run.status, 'succeeded', 'the sync run succeeds')
}

/**
 * Changes 20 contacts, syncs, and asserts that the LEADS stream contains exactly their
 * leads.updated events: the stream the service declared again after it went missing.
 */
async function assertNewEventsReachStream(t: Test, setup: Setup, title: string) {
  changeContacts(setup.sim, 20, title)
  await syncNow(t, setup)
  await waitForOutboxDrain(setup.sql, 20_000)
  const rows = await setup.sql<{ event_id: string }[]>`
    select event_id from outbox
    where subject = 'leads.updated'
      and payload -> 'data' ->> 'jobTitle' = ${title}
    order by event_id
  `
  const expected = rows.map((row) => row.event_id)
  t.equal(expected.length, 20, 'one leads.updated per changed contact')
  const inStream = (await readStream(setup.nats.url, leadsStream)).map((message) => message.msgId).sort()
  t.same(inStream, expected, 'the LEADS stream holds the events published since')
}

/** Changes `count` contacts in the simulator, so the next sync writes one leads.updated each. */
function changeContacts(sim: Simulator, count: number, title: string): void {
  sim.contacts.bulkUpdate(sim.contacts.ids().slice(0, count).map(String), { jobtitle: title })
}

t.test('NATS down and back publishes what waited, stream intact', async (t) => {
  const setup = await setUp(t, 300)
  await setup.nats.stop()
  await waitFor('the disconnect', 10_000, () => !setup.service.nats.isConnected())
  const ready = (await (await fetch(`${setup.service.url}/readyz`)).json()) as { checks: { nats: string } }
  t.equal(ready.checks.nats, 'disconnected', 'readyz reports NATS disconnected')

  changeContacts(setup.sim, 50, 'While NATS Was Down')
  await syncNow(t, setup)
  t.ok((await countUnpublished(setup.sql)) >= 50, 'the events wait in the outbox')

  await setup.nats.start()
  await waitFor('the reconnect', 20_000, () => setup.service.nats.isConnected())
  await waitForOutboxDrain(setup.sql, 20_000)
  const check = await checkOutboxAgainstStreams(setup.sql, setup.nats.url, serviceStreams(prefix))
  t.ok(check.rows >= 350, 'events from before and during the outage')
  t.same(check.missing, [], 'the stream kept the old events and received the new ones')
  t.same(check.duplicated, [], 'no event twice')
})

t.test('NATS restarted without its streams declares them again', async (t) => {
  const setup = await setUp(t, 100)
  await setup.nats.stop()
  await setup.nats.start({ emptyStore: true })
  await waitFor('the reconnect', 20_000, () => setup.service.nats.isConnected())
  await assertNewEventsReachStream(t, setup, 'After Empty Restart')
})

t.test('stream deleted while connected is declared again', async (t) => {
  const setup = await setUp(t, 100)
  const nc = await connect({ servers: setup.nats.url })
  t.teardown(() => nc.close())
  await (await jetstreamManager(nc)).streams.delete(leadsStream)
  await assertNewEventsReachStream(t, setup, 'After Stream Deleted')
})
