import t from 'tap'

import { lead } from '../webhooks/fixtures/leads.js'
import { apiToken, deliverAndDrain, postEvents, startPipeline, type Pipeline } from '../webhooks/fixtures/pipeline.js'

const erasedEmails = /ada\.(home|work|lab)@example\.com/

async function adminGet(p: Pipeline, url: string) {
  return p.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${apiToken}` } })
}

async function storedEventsMatching(p: Pipeline, pattern: string): Promise<number> {
  const [row] = await p.db.sql<{ n: number }[]>`
    select count(*)::int as n from webhook_events where event::text like ${pattern}
  `
  return row.n
}

t.test('privacy deletion after two merges erases every copy', async (t) => {
  const p = await startPipeline(t)
  const home = p.sim.contacts.create({ email: 'ada.home@example.com', firstname: 'Ada', phone: '+44 1000' })
  const work = p.sim.contacts.create({ email: 'ada.work@example.com', company: 'Engines Ltd' })
  const lab = p.sim.contacts.create({ email: 'ada.lab@example.com', lastname: 'Lovelace' })
  await deliverAndDrain(p)
  p.sim.contacts.update(home.id, { email: 'ada.home@example.com', jobtitle: 'Analyst' })
  await deliverAndDrain(p)

  const first = p.sim.contacts.merge(home.id, work.id)
  await deliverAndDrain(p)
  t.equal((await lead(p.db.sql, p.integration.id, Number(work.id)))?.mergedIntoContactId, Number(first.id), 'first merge applied')
  const survivor = p.sim.contacts.merge(first.id, lab.id)
  await deliverAndDrain(p)
  t.equal((await lead(p.db.sql, p.integration.id, Number(first.id)))?.mergedIntoContactId, Number(survivor.id), 'chained merge applied')
  await p.db.sql`update outbox set published_at = now()`

  p.sim.contacts.gdprDelete(survivor.id)
  await deliverAndDrain(p)

  const leads = await p.db.sql<{ id: number; hubspot_contact_id: number; purged_at: Date | null }[]>`
    select id, hubspot_contact_id, purged_at from leads where integration_id = ${p.integration.id}
  `
  t.ok(leads.length >= 4, 'a lead for each contact id seen')
  for (const row of leads) {
    t.ok(row.purged_at, `lead of contact ${row.hubspot_contact_id} purged`)
    const response = await adminGet(p, `/leads/${row.id}`)
    t.equal(response.statusCode, 200)
    t.notMatch(response.body, erasedEmails, `GET /leads/${row.id} shows no erased email`)
  }

  const [outbox] = await p.db.sql<{ n: number }[]>`
    select count(*)::int as n from outbox where payload::text ~ 'ada\\.(home|work|lab)@'
  `
  t.equal(outbox.n, 0, 'no outbox event holds an erased email')
  t.equal(await storedEventsMatching(p, '%ada.%@example.com%'), 0, 'no stored webhook event holds an erased email')
  const events = await adminGet(p, '/webhook-events?status=done,pending,failed&limit=500')
  t.notMatch(events.body, erasedEmails, 'GET /webhook-events shows no erased email')

  const purgedIds = await p.db.sql<{ id: string }[]>`
    select payload -> 'data' ->> 'hubspotContactId' as id from outbox where subject = 'leads.purged'
  `
  t.equal(purgedIds.length, leads.length, 'one leads.purged per lead')
})

t.test('webhook event delivered again after a privacy deletion is erased', async (t) => {
  const p = await startPipeline(t)
  const person = p.sim.contacts.create({ email: 'late.copy@example.com', firstname: 'Lee' })
  await deliverAndDrain(p)
  p.sim.contacts.update(person.id, { firstname: 'Leigh' })
  await deliverAndDrain(p)
  const [stored] = await p.db.sql<{ event: Record<string, unknown> }[]>`
    select event from webhook_events
    where event ->> 'propertyName' = 'firstname' and event ->> 'propertyValue' = 'Leigh'
  `
  t.ok(stored, 'property change stored with its value')

  p.sim.contacts.gdprDelete(person.id)
  await deliverAndDrain(p)
  t.equal(await storedEventsMatching(p, '%Leigh%'), 0, 'value erased by the privacy deletion')

  t.equal((await postEvents(p, [stored.event])).statusCode, 200, 'HubSpot delivers the event again')
  t.equal(await storedEventsMatching(p, '%Leigh%'), 1, 'the inbox stores the copy')
  await p.worker.drain()

  t.equal(await storedEventsMatching(p, '%Leigh%'), 0, 'the worker erases the copy')
  const row = await lead(p.db.sql, p.integration.id, Number(person.id))
  t.ok(row?.purgedAt, 'lead stays purged')
  t.equal(row?.firstName, null, 'lead has no first name')
})
