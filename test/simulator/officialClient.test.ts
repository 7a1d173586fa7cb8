import { Client } from '@hubspot/api-client'
import t from 'tap'
import { startTestSimulator } from './helpers.js'

t.test('the official client lists, searches and batch-reads through the simulator', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 250 })
  const client = new Client({ accessToken: sim.privateAppToken, basePath: sim.url, numberOfApiCallRetries: 0 })

  const all = await client.crm.contacts.getAll(100, undefined, ['email', 'company'])
  t.equal(all.length, 250, 'getAll follows paging.next.after to the end')
  t.same(all.map((contact) => contact.id), sim.contacts.ids())

  const page = await client.crm.contacts.searchApi.doSearch({
    filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE' as never, value: '0' }] }],
    sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }] as never,
    properties: ['email'],
    limit: 50,
    after: '0',
  })
  t.equal(page.total, 250)
  t.equal(page.results.length, 50)
  t.equal(page.paging?.next?.after, '50')
  t.type(page.results[0].updatedAt, Date, 'the client parses ISO datetimes')

  const ids = sim.contacts.ids().slice(10, 13)
  const batch = await client.crm.contacts.batchApi.read({
    inputs: [...ids.map((id) => ({ id })), { id: '42' }],
    properties: ['email'],
    propertiesWithHistory: [],
  })
  t.same(batch.results.map((contact) => contact.id).sort(), [...ids].sort())
  t.same('errors' in batch ? batch.errors?.[0].context : undefined, { ids: ['42'] })
})

t.test('the official client surfaces a 404 for a missing contact', async (t) => {
  const sim = await startTestSimulator(t)
  const client = new Client({ accessToken: sim.privateAppToken, basePath: sim.url, numberOfApiCallRetries: 0 })
  await t.rejects(client.crm.contacts.basicApi.getById('123'), { code: 404 })
})
