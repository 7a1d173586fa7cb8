import t from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { driftMetric, liveContactIds, liveHubSpotIds } from '../helpers/drift.js'
import { lead } from '../webhooks/fixtures/leads.js'
import { countByTypeAndContact, startLeadStream } from '../webhooks/fixtures/leadStream.js'
import { apiToken, startPipeline } from '../webhooks/fixtures/pipeline.js'

// A table that missed every webhook is repaired by the archived pass and the drift check,
// both started through POST /sync, with the events checked on NATS itself.
const pipeline = await startPipeline(t, { contacts: 30, sendWebhooks: false, withSync: true })
const { sim, db, app, integration } = pipeline
const sql: Sql = db.sql
const stream = await startLeadStream(t, sql)
const auth = { authorization: `Bearer ${apiToken}` }

interface Run {
  id: number
  kind: string
  status: string
  error: string | null
  counts: Record<string, number>
  details: Record<string, number>
}

async function runSync(kind: 'contacts' | 'archived' | 'drift'): Promise<Run> {
  const url = `/sync/${integration.id}?kind=${kind}&wait=true`
  const response = await app.inject({ method: 'POST', url, headers: auth })
  if (response.statusCode !== 200) {
    throw new Error(`POST /sync ${kind} returned ${response.statusCode}: ${response.body}`)
  }
  return response.json()
}

async function storedRun(runId: number): Promise<Run> {
  return (await app.inject({ method: 'GET', url: `/sync-runs/${runId}`, headers: auth })).json()
}

const synced = await runSync('contacts')
const seeded = sim.contacts.ids().map(Number)
const [archivedA, archivedB, newIdPrimary, newIdAbsorbed, keptPrimary, keptAbsorbed, erasedA, erasedB] = seeded

// None of these changes sends a webhook: the simulator has no webhook target.
sim.contacts.archive(archivedA)
sim.contacts.archive(archivedB)
const newSurvivor = Number(sim.contacts.merge(newIdPrimary, newIdAbsorbed).id)
sim.contacts.merge(keptPrimary, keptAbsorbed, { keepPrimaryId: true })
sim.contacts.gdprDelete(erasedA)
sim.contacts.gdprDelete(erasedB)
const created = [
  Number(sim.contacts.create({ email: 'missed-one@example.com' }).id),
  Number(sim.contacts.create({ email: 'missed-two@example.com' }).id),
]

t.test('initial contacts run imports every seeded contact', async (t) => {
  t.equal(synced.status, 'succeeded', synced.error ?? 'succeeded')
  t.equal(synced.counts.created, 30, 'thirty leads created')
  t.equal(sim.webhooks.deliveries().length, 0, 'no webhook was ever sent')
})

t.test('archived pass soft-deletes archived contacts and retires merged ones', async (t) => {
  const run = await runSync('archived')
  t.equal(run.kind, 'archived', 'an archived run')
  t.equal(run.status, 'succeeded', run.error ?? 'succeeded')
  t.equal(run.counts.deleted, 2, 'two archived contacts deleted')
  t.equal(run.details.archivedContacts, 2, 'two archived contacts listed')
  t.equal(run.details.survivorsImported, 2, 'both survivors imported')
  t.equal(run.details.absorbedLeadsFound, 3, 'three absorbed leads found')
  t.same((await storedRun(run.id)).counts, run.counts, 'counts kept in the run record')

  for (const id of [archivedA, archivedB]) {
    t.ok((await lead(sql, integration.id, id))?.deletedAt, `${id} deleted_at set`)
  }
  for (const id of [newIdPrimary, newIdAbsorbed]) {
    t.equal((await lead(sql, integration.id, id))?.mergedIntoContactId, newSurvivor, `${id} merged into the new record`)
  }
  const survivor = await lead(sql, integration.id, newSurvivor)
  t.ok(survivor, 'the new survivor has a lead')
  t.equal(survivor?.deletedAt, null, 'the new survivor is live')
  const absorbed = await lead(sql, integration.id, keptAbsorbed)
  t.equal(absorbed?.mergedIntoContactId, keptPrimary, 'absorbed lead points at the kept primary')
  t.equal((await lead(sql, integration.id, keptPrimary))?.mergedIntoContactId, null, 'the kept primary stays live')
  for (const id of [erasedA, erasedB]) {
    t.equal((await lead(sql, integration.id, id))?.deletedAt, null, `${id} is invisible to the archived pass`)
  }
  for (const id of created) {
    t.equal(await lead(sql, integration.id, id), null, `${id} not imported by the archived pass`)
  }
})

t.test('drift check purges erased contacts and imports missing ones', async (t) => {
  // A privacy deletion of a contact that was archived first: HubSpot no longer lists it at all.
  sim.contacts.gdprDelete(archivedA)
  const before = {
    local: await driftMetric('missing_locally'),
    hubspot: await driftMetric('missing_in_hubspot'),
    erased: await driftMetric('erased_in_hubspot'),
  }
  const run = await runSync('drift')
  t.equal(run.kind, 'drift', 'a drift run')
  t.equal(run.status, 'succeeded', run.error ?? 'succeeded')
  t.equal(run.details.missingLocally, 2, 'two contacts without a lead')
  t.equal(run.details.missingInHubspot, 2, 'two live leads without a contact')
  t.equal(run.details.deletedLocally, 0, 'no lead wrongly deleted')
  t.equal(run.details.erasedInHubspot, 3, 'three leads of erased contacts purged')
  t.equal(run.details.hubspotContacts, liveHubSpotIds(sim).length)
  t.equal(run.counts.created, 2, 'two leads created')
  t.equal(run.counts.deleted, 0, 'nothing soft-deleted')
  t.same((await storedRun(run.id)).details, run.details, 'details kept in the run record')
  t.equal((await driftMetric('missing_locally')) - before.local, 2, 'drift metric: missing locally')
  t.equal((await driftMetric('missing_in_hubspot')) - before.hubspot, 2, 'drift metric: missing in HubSpot')
  t.equal((await driftMetric('erased_in_hubspot')) - before.erased, 3, 'drift metric: erased in HubSpot')

  for (const id of [erasedA, erasedB, archivedA]) {
    const row = await lead(sql, integration.id, id)
    t.ok(row?.purgedAt, `${id} purged`)
    t.equal(row?.email, null, `${id} email erased`)
  }
  const stillArchived = await lead(sql, integration.id, archivedB)
  t.ok(stillArchived?.deletedAt, 'the archived contact stays soft-deleted')
  t.equal(stillArchived?.purgedAt, null, 'the archived contact is not purged')
  t.ok(stillArchived?.email, 'the archived contact keeps its data')
  t.equal((await lead(sql, integration.id, created[0]))?.email, 'missed-one@example.com')
  t.equal((await lead(sql, integration.id, created[1]))?.email, 'missed-two@example.com')
  t.same(await liveContactIds(sql, integration.id), liveHubSpotIds(sim), 'live leads equal HubSpot live contacts')
})

t.test('each repair is published on NATS once', async (t) => {
  const published = await stream.published()
  const counts = countByTypeAndContact(published)
  const expected = new Map<string, number>()
  for (const id of [...seeded, ...created]) expected.set(`leads.imported ${id}`, 1)
  for (const id of [archivedA, archivedB]) expected.set(`leads.deleted ${id}`, 1)
  for (const id of [erasedA, erasedB, archivedA]) expected.set(`leads.purged ${id}`, 1)
  for (const id of [newSurvivor, keptPrimary]) expected.set(`leads.merged ${id}`, 1)
  // The kept primary's hs_merged_object_ids changed, and the merge may fill empty fields.
  expected.set(`leads.updated ${keptPrimary}`, 1)
  t.same(Object.fromEntries(counts), Object.fromEntries(expected), 'every event once, nothing else')

  const merged = published.filter((event) => event.type === 'leads.merged')
  const absorbedBy = Object.fromEntries(merged.map((event) => [event.hubspotContactId, event.data.mergedContactIds]))
  const expectedAbsorbed = { [newSurvivor]: [newIdPrimary, newIdAbsorbed], [keptPrimary]: [keptAbsorbed] }
  t.same(absorbedBy, expectedAbsorbed, 'each leads.merged names the absorbed contacts')
})

t.test('running both again repairs and publishes nothing', async (t) => {
  const before = (await stream.published()).length
  const archived = await runSync('archived')
  t.equal(archived.counts.deleted, 0, 'archived pass deletes nothing')
  t.equal(archived.details.survivorsImported ?? 0, 0, 'archived pass imports no survivor')
  const drift = await runSync('drift')
  t.equal(drift.details.missingLocally, 0, 'no contact missing locally')
  t.equal(drift.details.missingInHubspot, 0, 'no lead missing in HubSpot')
  t.equal(drift.details.erasedInHubspot, 0, 'no lead purged again')
  t.equal(drift.counts.created, 0, 'drift check creates nothing')
  t.equal(drift.counts.deleted, 0, 'drift check deletes nothing')
  t.equal((await stream.published()).length, before, 'no new event on NATS')
})
