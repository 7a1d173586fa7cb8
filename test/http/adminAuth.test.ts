import t from 'tap'

import { createTestDatabase } from '../helpers/database.js'
import { adminConfig, apiToken, buildAdminApp } from './helpers.js'

t.test('admin routes', async (t) => {
  const { sql } = await createTestDatabase(t)
  const app = await buildAdminApp(t, sql)

  t.test('rejects a request without a token', async (t) => {
    const response = await app.inject({ method: 'GET', url: '/integrations' })
    t.equal(response.statusCode, 401)
    t.equal(response.json().code, 'UNAUTHORIZED')
  })

  t.test('rejects a wrong token', async (t) => {
    const headers = { authorization: `Bearer ${apiToken}x` }
    const response = await app.inject({ method: 'GET', url: '/integrations', headers })
    t.equal(response.statusCode, 401)
    t.equal(response.json().code, 'UNAUTHORIZED')
  })

  t.test('rejects a token sent with another scheme', async (t) => {
    const headers = { authorization: `Basic ${apiToken}` }
    const response = await app.inject({ method: 'GET', url: '/integrations', headers })
    t.equal(response.statusCode, 401)
  })

  t.test('accepts the right token', async (t) => {
    const headers = { authorization: `Bearer ${apiToken}` }
    const response = await app.inject({ method: 'GET', url: '/integrations', headers })
    t.equal(response.statusCode, 200)
    t.same(response.json(), { integrations: [] })
  })

  t.test('protects every admin route', async (t) => {
    const adminRoutes = [
      ['POST', '/integrations'],
      ['GET', '/integrations/1'],
      ['PATCH', '/integrations/1'],
      ['POST', '/sync/1'],
      ['GET', '/sync-runs/1'],
      ['GET', '/integrations/1/runs'],
      ['GET', '/integrations/1/cursor'],
      ['GET', '/integrations/1/leads'],
      ['GET', '/leads/1'],
    ] as const
    for (const [method, url] of adminRoutes) {
      const response = await app.inject({ method, url })
      t.equal(response.statusCode, 401, `${method} ${url}`)
    }
  })

  t.test('leaves public routes open', async (t) => {
    for (const url of ['/healthz', '/metrics', '/openapi.yaml']) {
      const response = await app.inject({ method: 'GET', url })
      t.equal(response.statusCode, 200, url)
    }
  })
})

t.test('admin routes without API_TOKEN', async (t) => {
  const { sql } = await createTestDatabase(t)
  const config = adminConfig({ API_TOKEN: '' })
  const app = await buildAdminApp(t, sql, { config })

  const headers = { authorization: `Bearer ${apiToken}` }
  const response = await app.inject({ method: 'GET', url: '/integrations', headers })
  t.equal(response.statusCode, 401)
  t.equal(response.json().code, 'ADMIN_DISABLED')
  t.match(response.json().message, /API_TOKEN/)
})
