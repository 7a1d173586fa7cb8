import t from 'tap'
import { call, startTestSimulator } from './helpers.js'

t.test('lists seeded contacts in id order with ids beyond 2^31 and a next link', async (t) => {
  const sim = await startTestSimulator(t)
  const first = await call(sim, 'GET', '/crm/v3/objects/contacts?limit=5')

  t.equal(first.status, 200)
  t.equal(first.body.results.length, 5)
  const ids = first.body.results.map((contact: { id: string }) => Number(contact.id))
  t.same(ids, [...ids].sort((a, b) => a - b))
  t.ok(ids[0] > 2 ** 31)
  t.same(Object.keys(first.body.results[0].properties), ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'])
  t.match(first.body.results[0].createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.ok(first.headers.get('x-hubspot-correlation-id'))

  const second = await call(sim, 'GET', `/crm/v3/objects/contacts?limit=5&after=${first.body.paging.next.after}`)
  t.ok(Number(second.body.results[0].id) > ids[4], 'after continues behind the first page')
  t.equal(first.body.paging.next.link, `${sim.url}/crm/v3/objects/contacts?limit=5&after=${first.body.paging.next.after}`)
})

t.test('the same seed gives the same contacts', async (t) => {
  const one = await startTestSimulator(t, { seed: 7, contacts: 50 })
  const two = await startTestSimulator(t, { seed: 7, contacts: 50 })
  t.same(one.contacts.all(), two.contacts.all())
})

t.test('requests without a valid token get the INVALID_AUTHENTICATION body', async (t) => {
  const sim = await startTestSimulator(t)
  const response = await call(sim, 'GET', '/crm/v3/objects/contacts', undefined, { authorization: 'Bearer nope' })

  t.equal(response.status, 401)
  t.equal(response.body.category, 'INVALID_AUTHENTICATION')
  t.equal(response.body.correlationId, response.headers.get('x-hubspot-correlation-id'))
  t.equal(response.headers.get('x-hubspot-auth-failure'), '401 Unauthorized')
})
