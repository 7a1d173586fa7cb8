import t from 'tap'

import { insertIntegration } from '../../src/db/integrations.js'
import { createTestDatabase } from '../helpers/database.js'
import { auth, buildAdminApp, encryptionKeyHex } from './helpers.js'

const key = Buffer.from(encryptionKeyHex, 'hex')

t.test('lead, cursor and run routes', async (t) => {
  const { sql } = await createTestDatabase(t)
  const app = await buildAdminApp(t, sql)
  const integration = await insertIntegration(sql, key, {
    portalId: 4242,
    name: 'Leads',
    authType: 'private_app',
    credentials: { accessToken: 'token' },
    accessTokenExpiresAt: null,
    actions: {},
    burstPer10Seconds: null,
    ownerUserId: null,
  })
  const contactIds = Array.from({ length: 25 }, (_, index) => 2 ** 31 + 100 + index)
  await sql`
    insert into leads (integration_id, hubspot_contact_id, email, first_name, properties, content_hash)
    select ${integration.id}, id, 'lead' || id || '@example.com', 'Ada', '{"firstname":"Ada"}'::jsonb, 'h'
    from unnest(${contactIds}::bigint[]) as id
  `
  const get = (url: string) => app.inject({ method: 'GET', url, headers: auth })

  t.test('pages leads by keyset', async (t) => {
    const seen: number[] = []
    let after: number | null = null
    let pages = 0
    do {
      const query: string = after === null ? '?limit=10' : `?limit=10&after=${after}`
      const response = await get(`/integrations/${integration.id}/leads${query}`)
      t.equal(response.statusCode, 200)
      const body = response.json() as { leads: { hubspotContactId: number }[]; nextAfter: number | null }
      seen.push(...body.leads.map((lead) => lead.hubspotContactId))
      after = body.nextAfter
      pages++
    } while (after !== null && pages < 10)
    t.equal(pages, 3)
    t.same(seen, contactIds, 'every lead once, in id order, ids above 2^31 intact')
  })

  t.test('validates paging parameters', async (t) => {
    t.equal((await get(`/integrations/${integration.id}/leads?limit=0`)).statusCode, 400)
    t.equal((await get(`/integrations/${integration.id}/leads?limit=5000`)).statusCode, 400)
    t.equal((await get(`/integrations/${integration.id}/leads?after=x`)).statusCode, 400)
    t.equal((await get('/integrations/999999/leads')).statusCode, 404)
  })

  t.test('reads one lead with assignment and actions', async (t) => {
    const [lead] = await sql<{ id: number }[]>`select id from leads order by id limit 1`
    await sql`update leads set assigned_user_id = 7, assigned_at = now() where id = ${lead.id}`
    await sql`
      insert into lead_actions (lead_id, action, status, decision)
      values (${lead.id}, 'assign', 'done', '{"userId": 7}'::jsonb)
    `
    const response = await get(`/leads/${lead.id}`)
    t.equal(response.statusCode, 200)
    const body = response.json()
    t.match(body, { id: lead.id, integrationId: integration.id, firstName: 'Ada', properties: { firstname: 'Ada' } })
    t.match(body.assignment, { userId: 7, teamId: null })
    t.equal(body.actions.length, 1)
    t.match(body.actions[0], { action: 'assign', status: 'done' })
    t.equal((await get('/leads/999999')).statusCode, 404)
  })

  t.test('reads the cursor of a never-synced integration', async (t) => {
    const response = await get(`/integrations/${integration.id}/cursor`)
    t.equal(response.statusCode, 200)
    t.match(response.json(), { integrationId: integration.id, phase: 'backfill', status: 'idle', lastSyncAt: null })
    t.equal((await get('/integrations/999999/cursor')).statusCode, 404)
  })

  t.test('reads a stored cursor', async (t) => {
    await sql`
      insert into sync_cursors (integration_id, cursor_type, phase, last_sync_at, records_synced)
      values (${integration.id}, 'contacts', 'incremental', '2026-01-01T00:00:00Z', 25)
    `
    const response = await get(`/integrations/${integration.id}/cursor`)
    t.match(response.json(), { phase: 'incremental', lastSyncAt: '2026-01-01T00:00:00.000Z', recordsSynced: 25 })
  })

  t.test('reads runs', async (t) => {
    const [run] = await sql<{ id: number }[]>`
      insert into sync_runs (integration_id, trigger, status, finished_at, created)
      values (${integration.id}, 'manual', 'succeeded', now(), 25)
      returning id
    `
    const one = await get(`/sync-runs/${run.id}`)
    t.equal(one.statusCode, 200)
    t.match(one.json(), { id: run.id, status: 'succeeded', counts: { created: 25 } })
    t.equal((await get('/sync-runs/999999')).statusCode, 404)

    const list = await get(`/integrations/${integration.id}/runs?limit=5`)
    t.equal(list.statusCode, 200)
    t.equal(list.json().runs[0].id, run.id)
  })
})
