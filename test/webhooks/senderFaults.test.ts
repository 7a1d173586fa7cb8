import t from 'tap'

import { configureSender, deliverAndDrain, startPipeline } from './fixtures/pipeline.js'

t.test('faulty deliveries end as one lead and one event per contact', async (t) => {
  const pipeline = await startPipeline(t, { sendWebhooks: false })
  const { sim, db, integration } = pipeline
  sim.setOptions({
    webhookFaults: { duplicateRate: 0.3, reorder: true, reusedEventIdRate: 0.3, staleTimestampRate: 0.2, tamperedBodyRate: 0.2 },
  })
  configureSender(sim, pipeline.webhookUrl, { batchWindowMs: 20 })

  const ids: number[] = []
  for (let i = 0; i < 40; i++) ids.push(Number(sim.contacts.create({ email: `fault${i}@example.com`, firstname: `F${i}` }).id))
  for (const id of ids.slice(0, 10)) sim.contacts.update(id, { firstname: 'Changed' })
  await deliverAndDrain(pipeline)

  const rejected = sim.webhooks.deliveries().filter((attempt) => attempt.status === 401)
  t.ok(rejected.length > 0, 'stale and tampered deliveries were rejected')
  t.ok(sim.webhooks.deliveries().every((attempt) => attempt.status === 200 || attempt.status === 401), 'no other status')

  const leads = await db.sql<{ hubspot_contact_id: number; first_name: string }[]>`
    select hubspot_contact_id, first_name from leads where integration_id = ${integration.id} order by hubspot_contact_id
  `
  t.same(leads.map((row) => row.hubspot_contact_id), ids, 'one lead per contact')
  t.ok(leads.slice(0, 10).every((row) => row.first_name === 'Changed'), 'latest values win')
  const [imported] = await db.sql<{ count: number }[]>`select count(*)::int as count from outbox where subject = 'leads.imported'`
  t.equal(imported.count, ids.length, 'one leads.imported per contact')
})
