import t from 'tap'
import { call, startTestSimulator } from './helpers.js'

const searchPath = '/crm/v3/objects/contacts/search'
const noLimits = { rateLimits: { enabled: false } }

function modifiedSince(sinceMs: number, extra: Record<string, unknown> = {}) {
  return {
    filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(sinceMs) }] }],
    sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
    ...extra,
  }
}

t.test('paging stops with 400 once after + limit passes 10,000', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 10_500, options: noLimits })

  const last = await call(sim, 'POST', searchPath, modifiedSince(0, { limit: 100, after: '9900' }))
  t.equal(last.status, 200)
  t.equal(last.body.total, 10_500)
  t.equal(last.body.results.length, 100)
  t.equal(last.body.paging.next.after, '10000', 'HubSpot still offers a next page it will refuse')

  const past = await call(sim, 'POST', searchPath, modifiedSince(0, { limit: 10, after: '10000' }))
  t.equal(past.status, 400)
  t.equal(past.body.category, 'VALIDATION_ERROR')
  const straddling = await call(sim, 'POST', searchPath, modifiedSince(0, { limit: 100, after: '9950' }))
  t.equal(straddling.status, 400)
  t.equal((await call(sim, 'POST', searchPath, { limit: 201 })).status, 400)
})

t.test('search sees writes only after the index lag; list and batch read see them at once', async (t) => {
  let nowMs = Date.UTC(2026, 5, 1)
  const sim = await startTestSimulator(t, { now: () => nowMs, options: { search: { indexLagMs: 5000 } } })
  const created = sim.contacts.create({ email: 'lagging@example.com', firstname: 'Lag' })
  const byEmail = { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'LAGGING@example.com' }] }] }

  t.equal((await call(sim, 'POST', searchPath, byEmail)).body.total, 0, 'not indexed yet')
  t.equal((await call(sim, 'GET', `/crm/v3/objects/contacts/${created.id}`)).status, 200)
  const batch = await call(sim, 'POST', '/crm/v3/objects/contacts/batch/read', { inputs: [{ id: created.id }] })
  t.equal(batch.status, 200)

  nowMs += 4999
  t.equal((await call(sim, 'POST', searchPath, byEmail)).body.total, 0)
  nowMs += 1
  const found = await call(sim, 'POST', searchPath, byEmail)
  t.equal(found.body.total, 1)
  t.equal(found.body.results[0].id, created.id)

  sim.contacts.update(created.id, { firstname: 'Renamed' })
  nowMs += 1000
  const stale = await call(sim, 'POST', searchPath, { ...byEmail, properties: ['firstname'] })
  t.equal(stale.body.results[0].properties.firstname, 'Lag', 'search still serves the old values')
})

t.test('filtering contacts on hs_lastmodifieddate misses recent changes; lastmodifieddate finds them', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 50 })
  const target = sim.contacts.ids()[3]
  const beforeMs = Date.now() - 1
  sim.contacts.update(target, { jobtitle: 'Changed' })

  const right = await call(sim, 'POST', searchPath, modifiedSince(beforeMs))
  t.same(right.body.results.map((contact: { id: string }) => contact.id), [target])
  const wrong = await call(sim, 'POST', searchPath, {
    filterGroups: [{ filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE', value: String(beforeMs) }] }],
  })
  t.equal(wrong.status, 200)
  t.equal(wrong.body.total, 0)
})

t.test('a bulk update stamps every contact with one millisecond', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 300 })
  const ids = sim.contacts.ids().slice(0, 250)
  const stamp = sim.contacts.bulkUpdate(ids, { lifecyclestage: 'customer' })
  const stampMs = Date.parse(stamp)

  const page = await call(sim, 'POST', searchPath, {
    filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'EQ', value: String(stampMs) }] }],
    limit: 200,
  })
  t.equal(page.body.total, 250)
  t.ok(page.body.results.every((contact: { updatedAt: string }) => contact.updatedAt === stamp))
})

t.test('filters: limits, operators, datetime values and ignored string sorts', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 200, options: noLimits })
  const filter = { propertyName: 'firstname', operator: 'HAS_PROPERTY' }

  const tooMany = await call(sim, 'POST', searchPath, { filterGroups: Array.from({ length: 6 }, () => ({ filters: [filter] })) })
  t.equal(tooMany.status, 400)
  t.equal(tooMany.body.category, 'VALIDATION_ERROR')
  const groups = Array.from({ length: 3 }, () => ({ filters: Array.from({ length: 6 }, () => filter) }))
  t.equal((await call(sim, 'POST', searchPath, { filterGroups: groups })).status, 200, '18 filters')
  groups.push({ filters: [filter] })
  t.equal((await call(sim, 'POST', searchPath, { filterGroups: groups })).status, 400, '19 filters')
  const sevenInOneGroup = [{ filters: Array.from({ length: 7 }, () => filter) }]
  t.equal((await call(sim, 'POST', searchPath, { filterGroups: sevenInOneGroup })).status, 400, '7 in a group')

  const isoDate = await call(sim, 'POST', searchPath, {
    filterGroups: [{ filters: [{ propertyName: 'createdate', operator: 'GT', value: '2020-11-15' }] }],
  })
  t.equal(isoDate.status, 400)
  t.equal(isoDate.body.message, 'There was a problem with the request.')

  const ids = sim.contacts.ids()
  const inIds = await call(sim, 'POST', searchPath, {
    filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'IN', values: [ids[5], ids[9]] }] }],
  })
  t.same(inIds.body.results.map((contact: { id: string }) => contact.id), [ids[5], ids[9]])

  const bothGroups = await call(sim, 'POST', searchPath, {
    filterGroups: [
      { filters: [{ propertyName: 'hs_object_id', operator: 'EQ', value: ids[1] }] },
      { filters: [{ propertyName: 'hs_object_id', operator: 'EQ', value: ids[2] }] },
    ],
  })
  t.equal(bothGroups.body.total, 2, 'groups are ORed')

  const stringSort = await call(sim, 'POST', searchPath, {
    sorts: [JSON.stringify({ propertyName: 'hs_object_id', direction: 'DESCENDING' })],
    limit: 3,
  })
  t.same(stringSort.body.results.map((contact: { id: string }) => contact.id), ids.slice(0, 3), 'creation order')
  t.notOk(stringSort.body.paging.next.link, 'search paging has no link')
})

t.test('archived contacts never appear in search', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 20 })
  const id = sim.contacts.ids()[0]
  sim.contacts.archive(id)
  const page = await call(sim, 'POST', searchPath, { limit: 100 })
  t.equal(page.body.total, 19)
  t.notOk(page.body.results.some((contact: { id: string }) => contact.id === id))
})

t.test('random tie order shuffles equal timestamps between requests', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 300, options: { search: { tieOrder: 'random' }, ...noLimits } })
  const stampMs = Date.parse(sim.contacts.bulkUpdate(sim.contacts.ids().slice(0, 200), { lifecyclestage: 'lead' }))
  const body = modifiedSince(stampMs, { limit: 50 })
  const orders = new Set<string>()
  for (let i = 0; i < 4; i++) {
    const page = await call(sim, 'POST', searchPath, body)
    orders.add(page.body.results.map((contact: { id: string }) => contact.id).join(','))
  }
  t.ok(orders.size > 1, 'pages over ties differ between requests')
})

t.test('an out-of-range rate of 1 adds a record outside the filter to every page', async (t) => {
  const sim = await startTestSimulator(t, { contacts: 500, options: { search: { outOfRangeRate: 1 } } })
  const id = sim.contacts.ids()[7]
  const page = await call(sim, 'POST', searchPath, {
    filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'EQ', value: id }] }],
  })
  t.equal(page.body.total, 1)
  t.equal(page.body.results.length, 2)
})

t.test('a GDPR delete during the index lag never comes back to search', async (t) => {
  let nowMs = Date.UTC(2026, 5, 1)
  const sim = await startTestSimulator(t, { contacts: 5, now: () => nowMs, options: { search: { indexLagMs: 1000 } } })
  const id = sim.contacts.ids()[0]
  sim.contacts.update(id, { jobtitle: 'About to go' })
  sim.contacts.gdprDelete(id)

  nowMs += 2000
  const page = await call(sim, 'POST', searchPath, { limit: 100 })
  t.equal(page.body.total, 4)
  t.notOk(page.body.results.some((contact: { id: string }) => contact.id === id))
})
