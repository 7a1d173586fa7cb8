import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import t from 'tap'
import { call, startTestSimulator } from './helpers.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as typeof import('ajv').default
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default

const specPath = new URL('../fixtures/hubspot/crm-contacts-v3.openapi.json', import.meta.url)
const spec = JSON.parse(readFileSync(specPath, 'utf8'))
// HubSpot returns null for a requested property without a value, but its spec types every
// value as a string. So the checks allow null there and nothing else.
spec.components.schemas.SimplePublicObject.properties.properties.additionalProperties = { type: ['string', 'null'] }
spec.components.schemas.SimplePublicObjectWithAssociations.properties.properties.additionalProperties = {
  type: ['string', 'null'],
}

const ajv = new Ajv({ strict: false, allErrors: true })
addFormats(ajv)
ajv.addFormat('int32', true)
ajv.addFormat('int64', true)
ajv.addSchema(spec, 'contacts')

function validator(name: string) {
  return ajv.compile({ $ref: `contacts#/components/schemas/${name}` })
}

function check(t: { ok: (value: unknown, message: string) => unknown }, schema: string, body: unknown): void {
  const validate = validator(schema)
  t.ok(validate(body), `${schema}: ${ajv.errorsText(validate.errors)}`)
}

t.test('list, get and search responses match the OpenAPI schemas', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 300 })

  const list = await call(sim, 'GET', '/crm/v3/objects/contacts?limit=100&properties=email,phone,company,jobtitle')
  check(t, 'CollectionResponseSimplePublicObjectWithAssociationsForwardPaging', list.body)

  const one = await call(sim, 'GET', `/crm/v3/objects/contacts/${list.body.results[3].id}`)
  check(t, 'SimplePublicObjectWithAssociations', one.body)

  const search = await call(sim, 'POST', '/crm/v3/objects/contacts/search', {
    filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: '0' }] }],
    limit: 200,
  })
  check(t, 'CollectionResponseWithTotalSimplePublicObject', search.body)
  t.equal(search.body.total, 300)
})

t.test('batch read responses match the schemas for 200 and 207', async (t) => {
  const sim = await startTestSimulator(t)
  const ids = sim.contacts.ids().slice(0, 3)

  const complete = await call(sim, 'POST', '/crm/v3/objects/contacts/batch/read', { inputs: ids.map((id) => ({ id })) })
  t.equal(complete.status, 200)
  check(t, 'BatchResponseSimplePublicObject', complete.body)

  const partial = await call(sim, 'POST', '/crm/v3/objects/contacts/batch/read', { inputs: [{ id: ids[0] }, { id: '999' }] })
  t.equal(partial.status, 207)
  check(t, 'BatchResponseSimplePublicObjectWithErrors', partial.body)
})

t.test('error bodies match the Error schema', async (t) => {
  const sim = await startTestSimulator(t)
  const responses = [
    await call(sim, 'GET', '/crm/v3/objects/contacts', undefined, { authorization: 'Bearer wrong' }),
    await call(sim, 'GET', '/crm/v3/objects/contacts/not-a-number'),
    await call(sim, 'POST', '/crm/v3/objects/contacts/search', { limit: 500 }),
    await call(sim, 'POST', '/crm/v3/objects/contacts', { properties: { no_such_property: 'x' } }),
  ]
  t.same(responses.map((response) => response.status), [401, 404, 400, 400])
  for (const response of responses) check(t, 'Error', response.body)
})
