import t from 'tap'
import { call, startTestSimulator } from './helpers.js'

/** Returns a list path whose `properties` parameter pads the URI to exactly `length` characters. */
function listPathOfLength(length: number): string {
  const prefix = '/crm/v3/objects/contacts?limit=1&properties='
  return prefix + 'firstname,'.repeat(length).slice(0, length - prefix.length)
}

t.test('URI over the default limit gets 414', async (t) => {
  const sim = await startTestSimulator(t)
  const path = listPathOfLength(16_001)
  t.equal(path.length, 16_001)

  const response = await call(sim, 'GET', path)
  t.equal(response.status, 414)
  t.match(response.headers.get('content-type'), /^text\/html/)
  t.match(response.body, /414 Request-URI Too Large/)
  t.equal(sim.requestCounts().byEndpoint['GET /crm/v3/objects/contacts'].byStatus['414'], 1)
})

t.test('URI at the default limit is served', async (t) => {
  const sim = await startTestSimulator(t)
  const response = await call(sim, 'GET', listPathOfLength(16_000))

  t.equal(response.status, 200)
  t.equal(response.body.results.length, 1)
})

t.test('414 comes before authentication', async (t) => {
  const sim = await startTestSimulator(t)
  const response = await call(sim, 'GET', listPathOfLength(16_001), undefined, { authorization: 'Bearer nope' })

  t.equal(response.status, 414)
})

t.test('maxUriLength raises the limit past Node header budget', async (t) => {
  const sim = await startTestSimulator(t, { options: { maxUriLength: 40_000 } })

  const served = await call(sim, 'GET', listPathOfLength(40_000))
  t.equal(served.status, 200)
  const rejected = await call(sim, 'GET', listPathOfLength(40_001))
  t.equal(rejected.status, 414)
})

t.test('maxUriLength lowers the limit at run time', async (t) => {
  const sim = await startTestSimulator(t)
  sim.setOptions({ maxUriLength: 200 })

  const search = await call(sim, 'POST', `/crm/v3/objects/contacts/search?pad=${'x'.repeat(200)}`, { limit: 1 })
  t.equal(search.status, 414)
  const list = await call(sim, 'GET', '/crm/v3/objects/contacts?limit=1')
  t.equal(list.status, 200)
})

t.test('control API is exempt from the URI limit', async (t) => {
  const sim = await startTestSimulator(t)
  sim.setOptions({ maxUriLength: 20 })

  const response = await call(sim, 'GET', `/_simulator/state?pad=${'x'.repeat(100)}`)
  t.equal(response.status, 200)
  t.equal(response.body.portalId, sim.portalId)
})

t.test('maxUriLength outside 1 to 1,000,000 is rejected', async (t) => {
  const sim = await startTestSimulator(t)

  t.throws(() => sim.setOptions({ maxUriLength: 0 }), RangeError)
  t.throws(() => sim.setOptions({ maxUriLength: 1_000_001 }), RangeError)
  t.throws(() => sim.setOptions({ maxUriLength: 1.5 }), RangeError)
  t.equal(sim.options().maxUriLength, 16_000)
})
