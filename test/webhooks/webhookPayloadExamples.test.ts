import t from 'tap'

import { postSigned, sharedHubSpotFile } from './fixtures/delivery.js'
import { createIntegration, outboxSubjects } from './fixtures/leads.js'
import { startPipeline, type Pipeline } from './fixtures/pipeline.js'

// Real HubSpot webhook bodies, signed for the service and processed against a simulated
// portal that contains the contacts they name, so each example must end as leads and events.
interface Example {
  id: string
  rawBody?: string
  body?: unknown
}

interface ExampleEvent {
  portalId: number
  objectId: number
  subscriptionType?: string
  eventType?: string
}

const { examples } = sharedHubSpotFile<{ examples: Example[] }>('webhook-payload-examples.json')
const bodyOf = (example: Example) => example.rawBody ?? JSON.stringify(example.body)
const eventsOf = (example: Example) => JSON.parse(bodyOf(example)) as ExampleEvent[]
// One documentation example names the type `eventType`, every other one `subscriptionType`.
const typeOf = (event: ExampleEvent) => event.subscriptionType ?? event.eventType ?? ''
const isContactExample = (example: Example) => eventsOf(example).every((e) => typeOf(e).startsWith('contact.'))

const contactExamples = examples.filter(isContactExample)
const otherExamples = examples.filter((example) => !isContactExample(example))
const contactPortals = [...new Set(contactExamples.flatMap((example) => eventsOf(example).map((e) => e.portalId)))]

async function deliver(pipeline: Pipeline, example: Example) {
  const response = await postSigned(pipeline.app, { body: bodyOf(example), signedUri: pipeline.webhookUrl })
  await pipeline.worker.drain()
  return response
}

t.test('examples cover contact and other object events', async (t) => {
  t.equal(contactExamples.length, 6, 'six contact examples')
  t.equal(otherExamples.length, 5, 'five deal and custom object examples')
  t.equal(contactPortals.length, 5, 'contact examples from five portals')
})

for (const portalId of contactPortals) {
  t.test(`contact examples of portal ${portalId} become leads`, async (t) => {
    const portalExamples = contactExamples.filter((example) => eventsOf(example)[0].portalId === portalId)
    const ids = [...new Set(portalExamples.flatMap((example) => eventsOf(example).map((e) => e.objectId)))]
    ids.sort((a, b) => a - b)
    const pipeline = await startPipeline(t, { portalId, seededIds: ids, sendWebhooks: false })
    const { sim, db, integration } = pipeline
    t.same(sim.contacts.ids().map(Number), ids, 'the simulated portal holds the named contacts')

    for (const example of portalExamples) {
      const response = await deliver(pipeline, example)
      t.equal(response.statusCode, 200, example.id)
      const count = eventsOf(example).length
      t.same(response.json(), { received: count, stored: count }, `${example.id} stored`)
    }

    const events = await db.sql<{ status: string; integration_id: number | null; last_error: string | null }[]>`
      select status, integration_id, last_error from webhook_events order by id
    `
    t.ok(events.length > 0, 'events stored')
    for (const event of events) {
      t.equal(event.status, 'done', event.last_error ?? 'processed')
      t.equal(event.integration_id, integration.id, 'applied to the portal integration')
    }

    const leads = await db.sql<{ hubspot_contact_id: number; email: string | null; deleted_at: Date | null }[]>`
      select hubspot_contact_id, email, deleted_at from leads where integration_id = ${integration.id}
      order by hubspot_contact_id
    `
    t.same(leads.map((row) => row.hubspot_contact_id), ids, 'one lead per named contact')
    for (const row of leads) {
      const email = sim.contacts.get(row.hubspot_contact_id)?.properties.email ?? null
      t.ok(email, `contact ${row.hubspot_contact_id} has an email in the simulator`)
      t.equal(row.email, email, `lead ${row.hubspot_contact_id} has the contact's email`)
      t.equal(row.deleted_at, null, `lead ${row.hubspot_contact_id} is live`)
    }
    t.same(await outboxSubjects(db.sql, integration.id), ids.map(() => 'leads.imported'), 'one leads.imported each')
  })
}

t.test('deal and custom object examples are kept as ignored', async (t) => {
  const portals = [...new Set(otherExamples.flatMap((example) => eventsOf(example).map((e) => e.portalId)))]
  const pipeline = await startPipeline(t, { portalId: portals[0], sendWebhooks: false })
  for (const portalId of portals.slice(1)) await createIntegration(pipeline.db.sql, portalId)

  for (const example of otherExamples) {
    const response = await deliver(pipeline, example)
    t.equal(response.statusCode, 200, example.id)
  }
  const events = await pipeline.db.sql<{ status: string; last_error: string | null; subscription_type: string }[]>`
    select status, last_error, subscription_type from webhook_events order by id
  `
  t.equal(events.length, otherExamples.flatMap(eventsOf).length, 'every event stored')
  for (const event of events) {
    t.equal(event.status, 'ignored', event.subscription_type)
    t.equal(event.last_error, 'not a contact event', `${event.subscription_type} reason`)
  }
  const [leads] = await pipeline.db.sql<{ count: number }[]>`select count(*)::int as count from leads`
  t.equal(leads.count, 0, 'no lead')
  t.same(await outboxSubjects(pipeline.db.sql), [], 'no event')
})
