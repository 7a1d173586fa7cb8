import t from 'tap'

import type { Simulator } from '../../src/simulator/server.js'
import { call, startTestSimulator } from './helpers.js'

const contacts = '/crm/v3/objects/contacts'

/** Calls the control API, which needs no token. */
async function control(sim: Simulator, method: string, path: string, body?: unknown) {
  return call(sim, method, `/_simulator${path}`, body, { authorization: '' })
}

interface Issue {
  field: string
  message: string
}

t.test('faults with an unknown kind are rejected', async (t) => {
  const sim = await startTestSimulator(t)

  const response = await control(sim, 'POST', '/faults', { faults: [{ kind: 'error' }] })
  t.equal(response.status, 400)
  t.equal(response.body.category, 'VALIDATION_ERROR')
  t.same(response.body.errors, [
    { field: 'faults[0].kind', message: 'faults[0].kind is "error"; expected status, drop or slow' },
  ])
  t.equal(response.body.message, 'faults[0].kind is "error"; expected status, drop or slow')
  t.equal((await call(sim, 'GET', contacts)).status, 200, 'nothing was queued')
})

t.test('a fault sent without the faults list is rejected', async (t) => {
  const sim = await startTestSimulator(t)

  const response = await control(sim, 'POST', '/faults', { kind: 'status', status: 503 })
  t.equal(response.status, 400)
  t.equal(response.body.errors[0].field, 'faults')
  t.match(response.body.message, 'send {"faults": [{"kind": "status", "status": 503}]}')
  t.equal((await control(sim, 'POST', '/faults', { faults: 'drop' })).status, 400, 'a list is required')
  t.equal((await control(sim, 'POST', '/faults', [{ kind: 'drop' }])).status, 400, 'a bare array is not the body')
  t.equal((await call(sim, 'GET', contacts)).status, 200)
})

t.test('fault fields are checked against the kind', async (t) => {
  const sim = await startTestSimulator(t)
  const faults = [
    { kind: 'status', status: '503' },
    { kind: 'drop', delayMs: 5 },
    { kind: 'slow', delayMs: -1 },
    { kind: 'status', endpoint: 'GET /crm/v3/objects/contact' },
    { kind: 'drop', count: 0 },
    'drop',
  ]

  const response = await control(sim, 'POST', '/faults', { faults })
  t.equal(response.status, 400)
  const issues = response.body.errors as Issue[]
  t.same(
    issues.map((issue) => issue.field),
    ['faults[0].status', 'faults[1].delayMs', 'faults[2].delayMs', 'faults[3].endpoint', 'faults[4].count', 'faults[5]'],
  )
  t.match(issues[0].message, 'an HTTP status from 100 to 599')
  t.match(issues[1].message, 'faults[1].delayMs is not a field of a drop fault; allowed: kind, endpoint, count')
  t.match(issues[2].message, '0 or more')
  t.match(issues[3].message, 'GET /crm/v3/objects/contacts, ')
  t.match(issues[3].message, 'POST /crm/v3/objects/contacts/search')
  t.match(issues[4].message, '1 or more')
  t.equal((await call(sim, 'GET', contacts)).status, 200, 'none of the faults was queued')
})

t.test('a valid fault is queued and applied', async (t) => {
  const sim = await startTestSimulator(t)
  const fault = { kind: 'status', status: 503, endpoint: 'GET /crm/v3/objects/contacts', count: 2 }

  t.equal((await control(sim, 'POST', '/faults', { faults: [fault] })).status, 204)
  t.equal((await call(sim, 'POST', `${contacts}/search`, {})).status, 200, 'another endpoint is untouched')
  t.equal((await call(sim, 'GET', contacts)).status, 503)
  t.equal((await call(sim, 'GET', contacts)).status, 503)
  t.equal((await call(sim, 'GET', contacts)).status, 200, 'the fault ends after count requests')
})

t.test('queueFaults rejects an unknown kind in process', async (t) => {
  const sim = await startTestSimulator(t)
  t.throws(() => sim.queueFaults([{ kind: 'error' as 'status' }]), { statusCode: 400, message: /expected status, drop or slow/ })
  t.equal((await call(sim, 'GET', contacts)).status, 200)
})

t.test('contact writes take a properties object', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 0 })

  const flat = await control(sim, 'POST', '/contacts', { email: 'flat@example.com' })
  t.equal(flat.status, 400)
  t.same(flat.body.errors.map((issue: Issue) => issue.field), ['properties'])
  t.match(flat.body.message, 'properties must be an object of property names to values, such as {"properties": {"email": "a@example.com"}}')
  t.equal(sim.contacts.count(), 0, 'no empty contact was created')

  const created = await control(sim, 'POST', '/contacts', { properties: { email: 'ada@example.com', firstname: 'Ada' } })
  t.equal(created.status, 201)
  t.match(created.body, { id: String, properties: { email: 'ada@example.com', firstname: 'Ada' }, archived: false })

  const patched = await control(sim, 'PATCH', `/contacts/${created.body.id}`, { properties: { firstname: null } })
  t.equal(patched.status, 200)
  t.equal(patched.body.properties.firstname, undefined, 'null clears the property')
  t.equal((await control(sim, 'PATCH', `/contacts/${created.body.id}`, { firstname: 'Bo' })).status, 400)
  const nested = await control(sim, 'PATCH', `/contacts/${created.body.id}`, { properties: { firstname: { v: 1 } } })
  t.equal(nested.status, 400, 'values must not be objects')
  const numeric = await control(sim, 'PATCH', `/contacts/${created.body.id}`, { properties: { company: 42 } })
  t.equal(numeric.body.properties.company, '42', 'a number is stored as a string, as HubSpot does')

  const merge = await control(sim, 'POST', '/contacts/merge', { primaryObjectId: created.body.id })
  t.equal(merge.status, 400)
  t.equal(merge.body.errors[0].field, 'objectIdToMerge')
  const bulk = await control(sim, 'POST', '/contacts/bulk-update', { ids: 'all', properties: {} })
  t.equal(bulk.body.errors[0].field, 'ids')
  const expire = await control(sim, 'POST', '/oauth/expire', {})
  t.equal(expire.body.errors[0].field, 'accessToken')
  const configure = await control(sim, 'POST', '/webhooks/configure', { url: 'http://127.0.0.1:9/hook' })
  t.equal(configure.body.errors[0].field, 'targetUrl')
})
