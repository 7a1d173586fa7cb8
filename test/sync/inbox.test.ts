import t from 'tap'

import type { Sql } from '../../src/db/connection.js'
import type { PropertyValues } from '../../src/simulator/seedData.js'
import { contactEvent, postSigned } from '../webhooks/fixtures/delivery.js'
import { lead, outboxSubjects } from '../webhooks/fixtures/leads.js'
import { configureSender, deliverAndDrain, postEvents, startPipeline } from '../webhooks/fixtures/pipeline.js'

const pipeline = await startPipeline(t)
const { sim, db, app, worker, integration } = pipeline
const sql: Sql = db.sql
const portalId = sim.portalId

async function subjectsFor(contactId: number): Promise<string[]> {
  const rows = await sql<{ subject: string }[]>`
    select subject from outbox
    where (payload -> 'data' ->> 'hubspotContactId')::bigint = ${contactId}
    order by id
  `
  return rows.map((row) => row.subject)
}

/** Creates a contact in the simulator and waits until its webhooks are processed. */
async function createSyncedContact(properties: PropertyValues): Promise<number> {
  const contact = sim.contacts.create(properties)
  await deliverAndDrain(pipeline)
  return Number(contact.id)
}

async function statuses(): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; count: number }[]>`
    select status, count(*)::int as count from webhook_events group by status
  `
  return Object.fromEntries(rows.map((row) => [row.status, row.count]))
}

t.test('created contact becomes one lead and one leads.imported', async (t) => {
  const id = await createSyncedContact({ email: 'new@example.com', firstname: 'Nia' })
  const row = await lead(sql, integration.id, id)
  t.equal(row?.email, 'new@example.com')
  t.same(await subjectsFor(id), ['leads.imported'])
  t.notOk((await statuses()).pending, 'nothing left pending')
})

t.test('replayed and duplicated deliveries give one lead and one event', async (t) => {
  const contact = sim.contacts.create({ email: 'dup@example.com' })
  const id = Number(contact.id)
  const events = [
    contactEvent(portalId, 'creation', id, { changeFlag: 'CREATED', occurredAt: 1_000 }),
    contactEvent(portalId, 'propertyChange', id, { propertyName: 'email', propertyValue: 'dup@example.com', occurredAt: 1_000 }),
  ]
  const body = JSON.stringify(events)
  for (let i = 0; i < 3; i++) t.equal((await postSigned(app, { body, signedUri: pipeline.webhookUrl })).statusCode, 200)
  await deliverAndDrain(pipeline)
  for (let i = 0; i < 2; i++) t.equal((await postSigned(app, { body, signedUri: pipeline.webhookUrl })).statusCode, 200, 'replay after processing')
  await worker.drain()
  t.same(await subjectsFor(id), ['leads.imported'])
})

t.test('property change before creation yields one lead', async (t) => {
  const contact = sim.contacts.create({ email: 'early@example.com', firstname: 'Eli' })
  const id = Number(contact.id)
  const at = Date.now()
  const change = contactEvent(portalId, 'propertyChange', id, { propertyName: 'firstname', propertyValue: 'Eli', occurredAt: at })
  const creation = contactEvent(portalId, 'creation', id, { changeFlag: 'CREATED', occurredAt: at })
  t.equal((await postEvents(pipeline, [change])).statusCode, 200)
  await worker.drain()
  t.equal((await postEvents(pipeline, [creation])).statusCode, 200)
  await worker.drain()
  await sim.webhooks.flush()
  await worker.drain()
  t.equal((await lead(sql, integration.id, id))?.firstName, 'Eli')
  t.same(await subjectsFor(id), ['leads.imported'])
})

t.test('late event never overwrites fresher data', async (t) => {
  const id = await createSyncedContact({ email: 'order@example.com', firstname: 'One' })
  sim.contacts.update(id, { firstname: 'Two' })
  await deliverAndDrain(pipeline)
  const stale = contactEvent(portalId, 'propertyChange', id, { propertyName: 'firstname', propertyValue: 'One', occurredAt: 5 })
  t.equal((await postEvents(pipeline, [stale])).statusCode, 200)
  await worker.drain()
  t.equal((await lead(sql, integration.id, id))?.firstName, 'Two')
  t.same(await subjectsFor(id), ['leads.imported', 'leads.updated'])
})

t.test('deletion soft-deletes and restore revives', async (t) => {
  const id = await createSyncedContact({ email: 'bin@example.com' })
  sim.contacts.archive(id)
  await deliverAndDrain(pipeline)
  t.ok((await lead(sql, integration.id, id))?.deletedAt, 'deleted_at set')
  sim.contacts.restore(id)
  await deliverAndDrain(pipeline)
  t.equal((await lead(sql, integration.id, id))?.deletedAt, null, 'revived')
  t.same(await subjectsFor(id), ['leads.imported', 'leads.deleted', 'leads.restored'])
})

t.test('restore delivered before its deletion leaves the lead live', async (t) => {
  const id = await createSyncedContact({ email: 'swapped@example.com' })
  const deletedAtMs = Date.now()
  await withoutWebhooks(() => {
    sim.contacts.archive(id, { atMs: deletedAtMs })
    sim.contacts.restore(id, { atMs: deletedAtMs + 1 })
  })

  const restore = contactEvent(portalId, 'restore', id, { changeFlag: 'RESTORED', occurredAt: deletedAtMs + 1 })
  const deletion = contactEvent(portalId, 'deletion', id, { changeFlag: 'DELETED', occurredAt: deletedAtMs })
  for (const event of [restore, deletion]) {
    t.equal((await postEvents(pipeline, [event])).statusCode, 200)
    await worker.drain()
  }
  t.equal((await lead(sql, integration.id, id))?.deletedAt, null, 'the late deletion is stale')
  t.same(await subjectsFor(id), ['leads.imported'], 'nothing announced')
})

t.test('deletion delivered before an older change keeps the lead deleted', async (t) => {
  const id = await createSyncedContact({ email: 'late-change@example.com', firstname: 'Old' })
  const changedAtMs = Date.now()
  await withoutWebhooks(() => {
    sim.contacts.update(id, { firstname: 'New' }, { atMs: changedAtMs })
    sim.contacts.archive(id, { atMs: changedAtMs + 1 })
  })

  const fields = { propertyName: 'firstname', propertyValue: 'New', occurredAt: changedAtMs }
  const change = contactEvent(portalId, 'propertyChange', id, fields)
  const deletion = contactEvent(portalId, 'deletion', id, { changeFlag: 'DELETED', occurredAt: changedAtMs + 1 })
  for (const event of [deletion, change]) {
    t.equal((await postEvents(pipeline, [event])).statusCode, 200)
    await worker.drain()
  }
  const row = await lead(sql, integration.id, id)
  t.same(row?.deletedAt, new Date(changedAtMs + 1), 'still deleted at the HubSpot time')
  t.same(await subjectsFor(id), ['leads.imported', 'leads.deleted'])
})

t.test('merge into a new record retires both leads without a new import', async (t) => {
  const primary = sim.contacts.create({ email: 'keep@example.com', firstname: 'Keep' })
  const absorbed = sim.contacts.create({ email: 'gone@example.com', firstname: 'Gone' })
  await deliverAndDrain(pipeline)
  const survivor = sim.contacts.merge(primary.id, absorbed.id)
  const survivorId = Number(survivor.id)
  t.not(survivorId, Number(primary.id), 'HubSpot gave the merge a new id')
  await deliverAndDrain(pipeline)

  for (const old of [primary, absorbed]) {
    t.equal((await lead(sql, integration.id, Number(old.id)))?.mergedIntoContactId, survivorId, `${old.id} points at the survivor`)
  }
  t.equal((await lead(sql, integration.id, survivorId))?.email, 'keep@example.com')
  t.same(await subjectsFor(survivorId), ['leads.merged'], 'no leads.imported for a person we had')
})

t.test('merge keeping the primary id marks the absorbed lead', async (t) => {
  const primary = sim.contacts.create({ email: 'p2@example.com' })
  const absorbed = sim.contacts.create({ email: 'a2@example.com' })
  await deliverAndDrain(pipeline)
  sim.contacts.merge(primary.id, absorbed.id, { keepPrimaryId: true })
  await deliverAndDrain(pipeline)
  t.equal((await lead(sql, integration.id, Number(absorbed.id)))?.mergedIntoContactId, Number(primary.id))
  t.equal((await lead(sql, integration.id, Number(primary.id)))?.mergedIntoContactId, null)
  const subjects = await subjectsFor(Number(primary.id))
  t.equal(subjects.filter((subject) => subject === 'leads.merged').length, 1, 'one leads.merged')
  t.equal(subjects.filter((subject) => subject === 'leads.imported').length, 1, 'no second leads.imported')
})

for (const order of ['privacyDeletion first', 'deletion first']) {
  t.test(`privacy deletion with its deletion, ${order}`, async (t) => {
    const id = await createSyncedContact({ email: `gdpr-${order.split(' ')[0]}@example.com`, firstname: 'Private' })
    const at = Date.now()
    const privacy = contactEvent(portalId, 'privacyDeletion', id, { occurredAt: at })
    const deletion = contactEvent(portalId, 'deletion', id, { changeFlag: 'DELETED', occurredAt: at })
    const batches = order === 'deletion first' ? [deletion, privacy] : [privacy, deletion]
    for (const event of batches) {
      t.equal((await postEvents(pipeline, [event])).statusCode, 200)
      await worker.drain()
    }
    const row = await lead(sql, integration.id, id)
    t.ok(row?.purgedAt, 'tombstone kept')
    t.equal(row?.email, null)
    t.equal(row?.firstName, null)
    t.same(row?.properties, {})
    const subjects = await subjectsFor(id)
    t.ok(subjects.includes('leads.purged'), 'leads.purged published')
    t.equal(subjects.filter((s) => s === 'leads.purged').length, 1)
  })
}

t.test('simulator GDPR delete purges the lead', async (t) => {
  const id = await createSyncedContact({ email: 'sim-gdpr@example.com' })
  sim.contacts.gdprDelete(id)
  await deliverAndDrain(pipeline)
  const row = await lead(sql, integration.id, id)
  t.ok(row?.purgedAt)
  t.equal(row?.email, null)
})

t.test('change for a contact HubSpot no longer has soft-deletes its lead', async (t) => {
  const id = await createSyncedContact({ email: 'vanished@example.com' })
  await withoutWebhooks(() => sim.contacts.archive(id))
  const change = contactEvent(portalId, 'propertyChange', id, { propertyName: 'email', propertyValue: 'x@example.com' })
  t.equal((await postEvents(pipeline, [change])).statusCode, 200)
  await worker.drain()
  t.ok((await lead(sql, integration.id, id))?.deletedAt, 'lead soft-deleted')
  t.same(await subjectsFor(id), ['leads.imported', 'leads.deleted'])
})

t.test('association change is recorded as done', async (t) => {
  sim.webhooks.sendAssociationChange({
    fromObjectId: 1,
    toObjectId: 2,
    associationType: 'CONTACT_TO_COMPANY',
    associationRemoved: false,
    isPrimaryAssociation: true,
  })
  await deliverAndDrain(pipeline)
  const rows = await sql`select status from webhook_events where subscription_type = 'contact.associationChange'`
  t.equal(rows.length, 2)
  t.ok(rows.every((row) => row.status === 'done'))
})

t.test('generic object events for contacts are processed the same way', async (t) => {
  pipelineSender({ format: 'generic' })
  const contact = sim.contacts.create({ email: 'generic@example.com' })
  await deliverAndDrain(pipeline)
  pipelineSender()
  const id = Number(contact.id)
  t.equal((await lead(sql, integration.id, id))?.email, 'generic@example.com')
  t.same(await subjectsFor(id), ['leads.imported'])
})

function pipelineSender(extra: Record<string, unknown> = {}) {
  configureSender(sim, pipeline.webhookUrl, extra)
}

/** Makes simulator changes whose webhooks never reach the service. */
async function withoutWebhooks(change: () => void): Promise<void> {
  sim.webhooks.configure({ targetUrl: 'http://127.0.0.1:1/nowhere', clientSecret: 'x', maxRetries: 0 })
  change()
  await sim.webhooks.flush()
  pipelineSender()
}

t.test('nothing was left pending or failed', async (t) => {
  const counts = await statuses()
  t.notOk(counts.pending, 'no pending events')
  t.notOk(counts.failed, 'no failed events')
  t.ok(await outboxSubjects(sql), 'outbox readable')
})
