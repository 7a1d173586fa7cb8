import t from 'tap'
import { call, startTestSimulator } from './helpers.js'

const contacts = '/crm/v3/objects/contacts'

t.test('a merge creates a new record; both old ids resolve to it in GET and batch read', async (t) => {
  const sim = await startTestSimulator(t)
  const [primaryId, mergedId] = sim.contacts.ids().slice(0, 2)

  const merged = await call(sim, 'POST', `${contacts}/merge`, { primaryObjectId: primaryId, objectIdToMerge: mergedId })
  t.equal(merged.status, 200)
  const survivorId = merged.body.id
  t.not(survivorId, primaryId)
  t.not(survivorId, mergedId)
  t.equal(merged.body.properties.hs_merged_object_ids, `${primaryId};${mergedId}`)

  for (const oldId of [primaryId, mergedId]) {
    const got = await call(sim, 'GET', `${contacts}/${oldId}?properties=hs_merged_object_ids`)
    t.equal(got.status, 200)
    t.equal(got.body.id, survivorId, `GET ${oldId} returns the survivor under its own id`)
  }
  const batch = await call(sim, 'POST', `${contacts}/batch/read`, { inputs: [{ id: primaryId }, { id: mergedId }] })
  t.equal(batch.status, 200)
  t.same(batch.body.results.map((contact: { id: string }) => contact.id), [survivorId])
  t.notOk(sim.contacts.ids().includes(primaryId), 'the old records are gone from the list')
})

t.test('archive hides a contact until restore; archived=true lists only archived ones', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 10 })
  const id = sim.contacts.ids()[4]
  t.equal((await call(sim, 'DELETE', `${contacts}/${id}`)).status, 204)

  t.equal((await call(sim, 'GET', `${contacts}/${id}`)).status, 404)
  const archived = await call(sim, 'GET', `${contacts}?archived=true`)
  t.same(archived.body.results.map((contact: { id: string }) => contact.id), [id])
  t.equal(archived.body.results[0].archived, true)
  t.match(archived.body.results[0].archivedAt, /Z$/)
  const missing = await call(sim, 'POST', `${contacts}/batch/read`, { inputs: [{ id }] })
  t.equal(missing.status, 207)

  sim.contacts.restore(id)
  t.equal((await call(sim, 'GET', `${contacts}/${id}`)).status, 200)
})

t.test('GDPR delete removes the contact for good and blocks its email', async (t) => {
  const sim = await startTestSimulator(t)
  const created = await call(sim, 'POST', contacts, { properties: { email: 'gone@example.com', firstname: 'Gone' } })
  t.equal(created.status, 201)

  const deleted = await call(sim, 'POST', `${contacts}/gdpr-delete`, { objectId: 'gone@example.com', idProperty: 'email' })
  t.equal(deleted.status, 204)
  t.equal((await call(sim, 'GET', `${contacts}/${created.body.id}`)).status, 404)
  t.throws(() => sim.contacts.restore(created.body.id))
  const again = await call(sim, 'POST', contacts, { properties: { email: 'gone@example.com' } })
  t.equal(again.status, 400)
})

t.test('404 bodies differ for numeric and non-numeric ids; email lookups work', async (t) => {
  const sim = await startTestSimulator(t)
  const numeric = await call(sim, 'GET', `${contacts}/12345`)
  t.same(Object.keys(numeric.body), ['status', 'message', 'correlationId'])
  t.equal(numeric.body.message, 'resource not found')

  const text = await call(sim, 'GET', `${contacts}/abc`)
  t.equal(text.body.message, 'Object not found.  objectId are usually numeric.')
  t.equal(text.body.category, 'OBJECT_NOT_FOUND')

  const created = sim.contacts.create({ email: 'Find.Me@Example.com' })
  const byEmail = await call(sim, 'GET', `${contacts}/${encodeURIComponent('find.me@example.com')}?idProperty=email`)
  t.equal(byEmail.body.id, created.id)
})

t.test('PATCH updates values and lastmodifieddate; unknown properties and duplicate emails are rejected', async (t) => {
  let nowMs = Date.UTC(2026, 5, 1)
  const sim = await startTestSimulator(t, { now: () => nowMs })
  const id = sim.contacts.ids()[0]
  nowMs += 1234
  const patched = await call(sim, 'PATCH', `${contacts}/${id}`, { properties: { jobtitle: 'CTO', phone: null } })
  t.equal(patched.status, 200)
  t.equal(patched.body.properties.jobtitle, 'CTO')
  t.equal(patched.body.updatedAt, new Date(nowMs).toISOString())
  t.equal(patched.body.properties.lastmodifieddate, patched.body.updatedAt)

  const unknown = await call(sim, 'PATCH', `${contacts}/${id}`, { properties: { shoe_size: '42' } })
  t.equal(unknown.status, 400)
  sim.contacts.create({ email: 'taken@example.com' })
  const conflict = await call(sim, 'POST', contacts, { properties: { email: 'taken@example.com' } })
  t.equal(conflict.status, 409)
  t.match(conflict.body.message, /^Contact already exists\. Existing ID: \d+$/)
})

t.test('queued faults answer with HubSpot-like 502, 423 and dropped connections', async (t) => {
  const sim = await startTestSimulator(t)
  sim.queueFaults([
    { kind: 'status', status: 502 },
    { kind: 'status', status: 423, endpoint: 'POST /crm/v3/objects/contacts/search' },
    { kind: 'drop' },
  ])
  const gateway = await call(sim, 'GET', contacts)
  t.equal(gateway.status, 502)
  t.match(gateway.body, /502 Bad Gateway/)
  const locked = await call(sim, 'POST', `${contacts}/search`, {})
  t.equal(locked.status, 423)
  t.ok(locked.body.correlationId)
  await t.rejects(call(sim, 'GET', contacts), 'the connection is dropped without an answer')
  t.equal((await call(sim, 'GET', contacts)).status, 200)
  t.equal(sim.requestCounts().dropped, 1)
})

t.test('a slow-response fault delays the answer', async (t) => {
  const sim = await startTestSimulator(t)
  sim.queueFaults([{ kind: 'slow', delayMs: 300 }])
  const startedMs = Date.now()
  t.equal((await call(sim, 'GET', contacts)).status, 200)
  t.ok(Date.now() - startedMs >= 290)
})

t.test('the control API writes contacts and reads request counts', async (t) => {
  const sim = await startTestSimulator(t)
  const response = await fetch(`${sim.url}/_simulator/contacts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ properties: { email: 'control@example.com' } }),
  })
  t.equal(response.status, 201)
  const created = (await response.json()) as { id: string }
  t.equal((await call(sim, 'GET', `${contacts}/${created.id}`)).status, 200)
  const counts = (await (await fetch(`${sim.url}/_simulator/request-counts`)).json()) as {
    byEndpoint: Record<string, { byStatus: Record<string, number> }>
  }
  t.equal(counts.byEndpoint['GET /crm/v3/objects/contacts/{id}'].byStatus['200'], 1)
})
