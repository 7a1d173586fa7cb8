import t from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { runArchivedPass } from '../../src/sync/archivedPass.js'
import { runDriftCheck } from '../../src/sync/drift.js'
import { importContacts } from '../../src/sync/import.js'
import { createSyncService } from '../../src/sync/runner.js'
import { createLogger } from '../../src/logger.js'
import { driftMetric, liveContactIds, liveHubSpotIds } from '../helpers/drift.js'
import { lead } from '../webhooks/fixtures/leads.js'
import { startPipeline } from '../webhooks/fixtures/pipeline.js'

// No webhook target: every change below is one the service never hears about.
const pipeline = await startPipeline(t, { contacts: 12, sendWebhooks: false })
const { sim, db, clients, config, integration } = pipeline
const sql: Sql = db.sql
const sync = createSyncService({
  config,
  sql,
  logger: createLogger('silent'),
  clients,
  runners: { archived: runArchivedPass, drift: runDriftCheck },
})
t.teardown(() => sync.stop())

async function run(kind: 'archived' | 'drift') {
  const started = await sync.startRun(integration.id, 'manual', { kind })
  return started.done
}

// The table starts in step with HubSpot: every seeded contact imported once.
await importContacts(sql, {
  integration,
  origin: 'backfill',
  contacts: sim.contacts.all().map((contact) => ({ ...contact, properties: contact.properties as Record<string, string | null> })),
})
const seeded = sim.contacts.ids().map(Number)

t.test('archived pass soft-deletes archived contacts and retires merged ones', async (t) => {
  const [archivedId, primaryId, absorbedId] = seeded
  sim.contacts.archive(archivedId)
  const survivor = sim.contacts.merge(primaryId, absorbedId)
  const survivorId = Number(survivor.id)

  const finished = await run('archived')
  t.equal(finished.status, 'succeeded', finished.error ?? 'run succeeded')
  t.ok((await lead(sql, integration.id, archivedId))?.deletedAt, 'archived contact soft-deleted')
  t.equal((await lead(sql, integration.id, primaryId))?.mergedIntoContactId, survivorId)
  t.equal((await lead(sql, integration.id, absorbedId))?.mergedIntoContactId, survivorId)
  t.ok(await lead(sql, integration.id, survivorId), 'survivor imported')
  t.equal(finished.counts.deleted, 1)

  const subjects = await sql<{ subject: string }[]>`select subject from outbox where subject in ('leads.deleted', 'leads.merged')`
  t.same(subjects.map((row) => row.subject).sort(), ['leads.deleted', 'leads.merged'])

  const again = await run('archived')
  t.equal(again.counts.deleted, 0, 'a second pass finds nothing new')
})

t.test('drift check repairs missing, deleted and restored contacts', async (t) => {
  const created = [sim.contacts.create({ email: 'missed1@example.com' }), sim.contacts.create({ email: 'missed2@example.com' })]
  const archivedId = seeded[4]
  sim.contacts.archive(archivedId)
  const restoredId = seeded[5]
  await sql`update leads set deleted_at = now() - interval '1 day' where integration_id = ${integration.id} and hubspot_contact_id = ${restoredId}`
  const before = { local: await driftMetric('missing_locally'), hubspot: await driftMetric('missing_in_hubspot') }

  const finished = await run('drift')
  t.equal(finished.status, 'succeeded', finished.error ?? 'run succeeded')
  t.same(finished.details.missingLocally, 2)
  t.same(finished.details.deletedLocally, 1)
  t.same(finished.details.missingInHubspot, 1)
  t.equal(finished.counts.created, 2)
  t.equal(finished.counts.deleted, 1)

  t.same(await liveContactIds(sql, integration.id), liveHubSpotIds(sim), 'local live leads equal HubSpot contacts')
  t.ok((await lead(sql, integration.id, Number(created[0].id)))?.email, 'missing contact imported')
  t.equal((await lead(sql, integration.id, restoredId))?.deletedAt, null, 'wrongly deleted lead revived')
  t.equal((await driftMetric('missing_locally')) - before.local, 3)
  t.equal((await driftMetric('missing_in_hubspot')) - before.hubspot, 1)

  const clean = await run('drift')
  t.same(clean.details.missingLocally, 0, 'second check finds no drift')
  t.same(clean.details.missingInHubspot, 0)
})

t.test('drift check alone retires contacts merged into a new record', async (t) => {
  const [primaryId, absorbedId] = [seeded[6], seeded[7]]
  const survivorId = Number(sim.contacts.merge(primaryId, absorbedId).id)

  const finished = await run('drift')
  t.equal(finished.status, 'succeeded', finished.error ?? 'run succeeded')
  t.same(finished.details.missingLocally, 1, 'the new survivor has no lead')
  t.same(finished.details.missingInHubspot, 2, 'both merged ids are gone from the list')
  for (const id of [primaryId, absorbedId]) {
    t.equal((await lead(sql, integration.id, id))?.mergedIntoContactId, survivorId, `${id} points at the survivor`)
  }
  t.equal((await lead(sql, integration.id, survivorId))?.deletedAt, null, 'survivor lead is live')
  t.same(await liveContactIds(sql, integration.id), liveHubSpotIds(sim))

  const subjects = await sql<{ subject: string }[]>`
    select subject from outbox
    where (payload -> 'data' ->> 'hubspotContactId')::bigint = ${survivorId}
  `
  t.same(subjects.map((row) => row.subject), ['leads.merged'], 'one leads.merged and no leads.imported')
})
