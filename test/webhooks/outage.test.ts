import t from 'tap'

import { connect } from '../../src/db/connection.js'
import { migrate } from '../../src/db/migrate.js'
import { registry } from '../../src/metrics.js'
import { buildTestApp, contactEvent, postSigned } from './fixtures/delivery.js'
import { createIntegration } from './fixtures/leads.js'
import { createOwnPostgres } from './fixtures/ownPostgres.js'

const portalId = 88001

async function unavailableCount(): Promise<number> {
  const metric = await registry.getSingleMetric('hubspot_sync_webhook_requests_total')!.get()
  return metric.values.find((value) => value.labels.outcome === 'unavailable')?.value ?? 0
}

t.test('database down answers 503, then accepts once back', async (t) => {
  const postgres = await createOwnPostgres(t)
  const sql = connect(postgres.url, { maxConnections: 4 })
  t.teardown(() => sql.end({ timeout: 1 }))
  await migrate(sql)
  await createIntegration(sql, portalId)
  const app = await buildTestApp(t, sql)

  const first = await postSigned(app, { body: JSON.stringify([contactEvent(portalId, 'creation', 1)]) })
  t.equal(first.statusCode, 200, 'stored while the database is up')

  await postgres.stop()
  const before = await unavailableCount()
  const body = JSON.stringify([contactEvent(portalId, 'creation', 2)])
  const started = Date.now()
  const down = await postSigned(app, { body })
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'DATABASE_UNAVAILABLE')
  t.ok(Date.now() - started < 5_000, 'answered inside HubSpot timeout')
  t.equal((await unavailableCount()) - before, 1, 'counted as unavailable')

  await postgres.start()
  const back = await postSigned(app, { body })
  t.equal(back.statusCode, 200, 'the retried delivery is accepted')
  const rows = await sql<{ object_id: number }[]>`select object_id from webhook_events order by id`
  t.same(rows.map((row) => row.object_id), [1, 2])
})

t.test('database that never answers gets 503 within the write timeout', async (t) => {
  const sql = connect('postgres://root@127.0.0.1:1/none', { maxConnections: 1 })
  t.teardown(() => sql.end({ timeout: 1 }))
  const app = await buildTestApp(t, sql)
  const response = await postSigned(app, { body: JSON.stringify([contactEvent(portalId, 'creation', 3)]) })
  t.equal(response.statusCode, 503)
})
