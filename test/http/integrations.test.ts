import t from 'tap'

import { readCredentials } from '../../src/db/integrations.js'
import { createTestDatabase } from '../helpers/database.js'
import { adminConfig, auth, buildAdminApp, encryptionKeyHex } from './helpers.js'

const secretToken = 'pat-na1-secret-token-value'
const refreshToken = 'refresh-secret-value-123'

t.test('integrations API', async (t) => {
  const { sql } = await createTestDatabase(t)
  const app = await buildAdminApp(t, sql)
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/integrations', headers: auth, payload: payload as object })

  t.test('creates a private-app integration', async (t) => {
    const response = await post({ portalId: 111, name: 'Acme', accessToken: secretToken })
    t.equal(response.statusCode, 201)
    const body = response.json()
    t.match(body, { portalId: 111, name: 'Acme', authType: 'private_app', status: 'active', actions: {} })
    t.equal(response.headers.location, `/integrations/${body.id}`)
    t.notMatch(response.body, secretToken, 'no secret in the response')
    t.notOk('credentials' in body)
  })

  t.test('stores credentials sealed, not in plaintext', async (t) => {
    const [row] = await sql<{ credentials: Buffer }[]>`select credentials from integrations where portal_id = 111`
    t.notOk(row.credentials.toString('latin1').includes(secretToken))
    const [id] = await sql<{ id: number }[]>`select id from integrations where portal_id = 111`
    const opened = await readCredentials(sql, Buffer.from(encryptionKeyHex, 'hex'), id.id)
    t.same(opened, { accessToken: secretToken })
  })

  t.test('rejects a portal already registered with 409', async (t) => {
    const response = await post({ portalId: 111, accessToken: 'another-token' })
    t.equal(response.statusCode, 409)
    t.equal(response.json().code, 'CONFLICT')
    t.match(response.json().message, /111/)
  })

  t.test('creates an OAuth integration', async (t) => {
    const response = await post({ portalId: 222, oauth: { refreshToken } })
    t.equal(response.statusCode, 201)
    t.match(response.json(), { portalId: 222, authType: 'oauth', name: 'Portal 222' })
    t.notMatch(response.body, refreshToken)
  })

  t.test('names each bad field with a reason', async (t) => {
    const cases: [string, unknown, string][] = [
      ['missing portal id', { accessToken: 'x' }, 'portalId'],
      ['negative portal id', { portalId: -5, accessToken: 'x' }, 'portalId'],
      ['fractional portal id', { portalId: 1.5, accessToken: 'x' }, 'portalId'],
      ['string portal id', { portalId: '12', accessToken: 'x' }, 'portalId'],
      ['no credentials', { portalId: 5 }, 'accessToken'],
      ['both credentials', { portalId: 5, accessToken: 'x', oauth: { refreshToken: 'y' } }, 'oauth'],
      ['empty refresh token', { portalId: 5, oauth: { refreshToken: '' } }, 'oauth.refreshToken'],
      ['bad expiry', { portalId: 5, oauth: { refreshToken: 'y', accessToken: 'z', expiresAt: 'soon' } }, 'oauth.expiresAt'],
      ['unknown field', { portalId: 5, accessToken: 'x', colour: 'red' }, 'colour'],
      ['bad actions', { portalId: 5, accessToken: 'x', actions: { explode: true } }, 'actions.explode'],
      ['zero burst', { portalId: 5, accessToken: 'x', burstPer10Seconds: 0 }, 'burstPer10Seconds'],
    ]
    for (const [name, payload, field] of cases) {
      const response = await post(payload)
      t.equal(response.statusCode, 400, `${name}: status`)
      const body = response.json()
      t.equal(body.code, 'VALIDATION_FAILED', `${name}: code`)
      const fields = body.details.issues.map((issue: { field: string }) => issue.field)
      t.ok(fields.includes(field), `${name}: names ${field} (got ${fields.join(', ')})`)
      t.ok(body.details.issues.every((issue: { reason: string }) => issue.reason.length > 0), `${name}: reasons`)
      t.notMatch(response.body, /"x"|secret/, `${name}: no token echoed`)
    }
    const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from integrations`
    t.equal(count, 2, 'nothing stored for rejected bodies')
  })

  t.test('rejects a body that is not JSON', async (t) => {
    const response = await app.inject({
      method: 'POST',
      url: '/integrations',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{not json',
    })
    t.equal(response.statusCode, 400)
  })

  t.test('lists and reads integrations', async (t) => {
    const list = await app.inject({ method: 'GET', url: '/integrations', headers: auth })
    t.equal(list.statusCode, 200)
    t.same(list.json().integrations.map((row: { portalId: number }) => row.portalId), [111, 222])
    t.notMatch(list.body, secretToken)

    const id = list.json().integrations[0].id
    const one = await app.inject({ method: 'GET', url: `/integrations/${id}`, headers: auth })
    t.equal(one.statusCode, 200)
    t.equal(one.json().portalId, 111)

    const missing = await app.inject({ method: 'GET', url: '/integrations/999999', headers: auth })
    t.equal(missing.statusCode, 404)
    t.equal(missing.json().code, 'NOT_FOUND')

    const invalid = await app.inject({ method: 'GET', url: '/integrations/abc', headers: auth })
    t.equal(invalid.statusCode, 400)
  })

  t.test('patches fields and status', async (t) => {
    const [{ id }] = await sql<{ id: number }[]>`select id from integrations where portal_id = 111`
    const patch = (payload: unknown) =>
      app.inject({ method: 'PATCH', url: `/integrations/${id}`, headers: auth, payload: payload as object })

    const renamed = await patch({ name: 'Acme EU', status: 'paused', burstPer10Seconds: 150 })
    t.equal(renamed.statusCode, 200)
    t.match(renamed.json(), { name: 'Acme EU', status: 'paused', burstPer10Seconds: 150 })

    const actions = { assign: { enabled: true, strategy: 'round_robin', userIds: [7, 8] } }
    const withActions = await patch({ actions, burstPer10Seconds: null })
    t.equal(withActions.statusCode, 200)
    t.match(withActions.json().actions, { assign: { strategy: 'round_robin', userIds: [7, 8] } })
    t.equal(withActions.json().burstPer10Seconds, null)

    const empty = await patch({})
    t.equal(empty.statusCode, 400)
    const badStatus = await patch({ status: 'needs_reauth' })
    t.equal(badStatus.statusCode, 400)
    t.equal(badStatus.json().details.issues[0].field, 'status')

    const missing = await app.inject({ method: 'PATCH', url: '/integrations/999999', headers: auth, payload: { name: 'x' } })
    t.equal(missing.statusCode, 404)
  })

  t.test('re-authorises an integration that needs it', async (t) => {
    const [{ id }] = await sql<{ id: number }[]>`select id from integrations where portal_id = 222`
    await sql`update integrations set status = 'needs_reauth', status_reason = 'grant revoked' where id = ${id}`
    const patch = (payload: unknown) =>
      app.inject({ method: 'PATCH', url: `/integrations/${id}`, headers: auth, payload: payload as object })

    const refused = await patch({ status: 'active' })
    t.equal(refused.statusCode, 409, 'activation without new credentials is refused')

    const newToken = 'new-refresh-token-456'
    const response = await patch({ oauth: { refreshToken: newToken } })
    t.equal(response.statusCode, 200)
    t.match(response.json(), { status: 'active', statusReason: null, authType: 'oauth' })
    t.notMatch(response.body, newToken)
    const opened = await readCredentials(sql, Buffer.from(encryptionKeyHex, 'hex'), id)
    t.same(opened, { refreshToken: newToken })

    const switched = await patch({ accessToken: 'private-app-token-now' })
    t.equal(switched.json().authType, 'private_app')
  })
})

t.test('OAuth integrations need the app credentials configured', async (t) => {
  const { sql } = await createTestDatabase(t)
  const config = adminConfig({ HUBSPOT_CLIENT_ID: '', HUBSPOT_CLIENT_SECRET: '' })
  const app = await buildAdminApp(t, sql, { config })
  const response = await app.inject({
    method: 'POST',
    url: '/integrations',
    headers: auth,
    payload: { portalId: 5, oauth: { refreshToken: 'r' } },
  })
  t.equal(response.statusCode, 400)
  t.match(response.json().message, /HUBSPOT_CLIENT_ID/)
})

t.test('a JSON content type with an empty body is a 400 in the error shape', async (t) => {
  const { sql } = await createTestDatabase(t)
  const app = await buildAdminApp(t, sql)
  const headers = { ...auth, 'content-type': 'application/json' }
  const response = await app.inject({ method: 'POST', url: '/integrations', headers })
  t.equal(response.statusCode, 400)
  t.equal(response.json().code, 'VALIDATION_FAILED')
})
