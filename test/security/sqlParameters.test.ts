import { readFile } from 'node:fs/promises'
import path from 'node:path'

import t from 'tap'

import { connect } from '../../src/db/connection.js'
import { startSimulator } from '../../src/simulator/server.js'
import { uniqueSubjectPrefix } from '../helpers/nats.js'
import { callAdmin, postSignedWebhook, serviceEnv, startTestService, syncAndWait } from '../helpers/service.js'
import { waitFor } from '../helpers/waitFor.js'
import { contactEvent } from '../webhooks/fixtures/delivery.js'
import { createOwnPostgres } from '../webhooks/fixtures/ownPostgres.js'

const publicUrl = 'https://hooks.example.com/webhooks/hubspot'

/** Text that reaches the service only as input: request bodies, HubSpot data, webhooks. */
const markers = {
  integrationName: 'Marker Integration qz41',
  renamed: "Marker Renamed qz42'; drop table leads; --",
  token: 'pat-marker-token-qz43-0000',
  firstName: 'MarkerFirst qz44',
  email: 'marker.person.qz45@example.com',
  changedName: 'MarkerChanged qz46',
}

/** Splits a PostgreSQL log into entries, each starting with its timestamp prefix. */
function logEntries(text: string): string[] {
  return text.split(/^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/m)
}

t.test('input reaches PostgreSQL only as bind parameters', async (t) => {
  const postgres = await createOwnPostgres(t)
  const admin = connect(postgres.url, { maxConnections: 1 })
  t.teardown(() => admin.end({ timeout: 1 }))
  await admin`alter system set log_statement = 'all'`
  await admin`select pg_reload_conf()`
  const [{ data_directory: dataDirectory }] = await admin<{ data_directory: string }[]>`show data_directory`
  const logFile = path.join(path.dirname(dataDirectory), 'log')

  const sim = await startSimulator({ contacts: 30, seed: 71 })
  t.teardown(() => sim.close())
  const contact = sim.contacts.create({ firstname: markers.firstName, email: markers.email })
  const env = serviceEnv({
    databaseUrl: postgres.url,
    hubspotUrl: sim.url,
    subjectPrefix: uniqueSubjectPrefix(t),
    webhookPublicUrl: publicUrl,
  })
  const service = await startTestService(t, env)

  const created = await callAdmin(service.url, 'POST', '/integrations', {
    portalId: sim.portalId,
    name: markers.integrationName,
    accessToken: sim.privateAppToken,
  })
  t.equal(created.status, 201)
  const id = created.body.id as number
  t.equal((await syncAndWait(service.url, id)).status, 'succeeded', 'a full sync runs')
  const renamed = await callAdmin(service.url, 'PATCH', `/integrations/${id}`, { name: markers.renamed })
  t.equal(renamed.status, 200, 'a PATCH with SQL in the name is stored')
  const second = await callAdmin(service.url, 'POST', '/integrations', { portalId: 1, accessToken: markers.token })
  t.equal(second.status, 201, 'another integration is registered')

  sim.contacts.update(contact.id, { firstname: markers.changedName })
  const event = contactEvent(sim.portalId, 'propertyChange', Number(contact.id), {
    propertyName: 'firstname',
    propertyValue: markers.changedName,
  })
  const delivered = await postSignedWebhook(`${service.url}/webhooks/hubspot`, publicUrl, JSON.stringify([event]))
  t.equal(delivered.status, 200, 'a webhook delivery is stored')
  await waitFor('the webhook change', 20_000, async () => {
    const [row] = await admin<{ first_name: string }[]>`select first_name from leads where hubspot_contact_id = ${Number(contact.id)}`
    return row?.first_name === markers.changedName
  })
  t.equal((await callAdmin(service.url, 'GET', `/integrations/${id}/leads?limit=5`)).status, 200)
  // A literal in statement text, as concatenated SQL would send it, shows the check can see one.
  await admin.unsafe(`select 'self-check qz47' as literal`)

  const entries = logEntries(await readFile(logFile, 'utf8'))
  const statements = entries.filter((entry) => /\bLOG: {2}(statement|execute)/.test(entry))
  const parameters = entries.filter((entry) => /\bDETAIL: {2}parameters:/.test(entry)).join('\n')
  t.ok(statements.length > 50, `${statements.length} statements logged`)
  t.ok(statements.some((statement) => statement.includes('self-check qz47')), 'a literal would be found')
  for (const [name, marker] of Object.entries(markers)) {
    const inText = statements.filter((statement) => statement.includes(marker))
    t.same(inText, [], `${name} never appears in statement text`)
  }
  for (const name of ['integrationName', 'renamed', 'email', 'changedName'] as const) {
    t.ok(parameters.includes(markers[name].replace(/'/g, "''")), `${name} was sent as a parameter`)
  }
})
