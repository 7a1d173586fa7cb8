import t from 'tap'

import type { Simulator } from '../../src/simulator/server.js'
import { call, startTestSimulator } from './helpers.js'

/** Exchanges a refresh token at the token endpoint, with the app's secret unless `clientSecret` is given. */
async function refresh(sim: Simulator, refreshToken: string, clientSecret = sim.oauth.clientSecret) {
  const form = {
    grant_type: 'refresh_token',
    client_id: sim.oauth.clientId,
    client_secret: clientSecret,
    refresh_token: refreshToken,
  }
  const response = await fetch(`${sim.url}/oauth/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  })
  // The body's shape depends on the outcome; each test reads the fields it expects.
  return { status: response.status, body: (await response.json()) as any }
}

/** Lists contacts with `accessToken` as the bearer token. */
function listContacts(sim: Simulator, accessToken: string) {
  const authorization = `Bearer ${accessToken}`
  return call(sim, 'GET', '/crm/v3/objects/contacts', undefined, { authorization })
}

t.test('an access token expires after expires_in and a refresh issues a new one', async (t) => {
  let nowMs = Date.UTC(2026, 5, 1)
  const sim = await startTestSimulator(t, { now: () => nowMs })
  const grant = sim.oauth.issueGrant()
  t.equal(grant.expiresAt.getTime(), nowMs + 1800 * 1000)
  t.equal((await listContacts(sim, grant.accessToken)).status, 200)

  nowMs += 1800 * 1000 + 75_000
  const expired = await listContacts(sim, grant.accessToken)
  t.equal(expired.status, 401)
  t.equal(expired.body.category, 'EXPIRED_AUTHENTICATION')
  t.equal(expired.body.message, 'The OAuth token used to make this call expired 75 second(s) ago.')
  t.same(expired.body.context, { 'expire time': [grant.expiresAt.toISOString()] })

  const refreshed = await refresh(sim, grant.refreshToken)
  t.equal(refreshed.status, 200)
  t.match(refreshed.body, { token_type: 'bearer', expires_in: 1800, refresh_token: grant.refreshToken })
  t.equal((await listContacts(sim, refreshed.body.access_token)).status, 200)
})

t.test('a revoked refresh token is refused and its access tokens stop working', async (t) => {
  const sim = await startTestSimulator(t)
  const grant = sim.oauth.issueGrant()
  sim.oauth.revokeRefreshToken(grant.refreshToken)

  const refused = await refresh(sim, grant.refreshToken)
  t.equal(refused.status, 400)
  t.equal(refused.body.status, 'BAD_REFRESH_TOKEN')
  const call401 = await listContacts(sim, grant.accessToken)
  t.equal(call401.body.category, 'INVALID_AUTHENTICATION')

  const wrongSecret = await refresh(sim, sim.oauth.issueGrant().refreshToken, 'wrong')
  t.equal(wrongSecret.status, 400)
})

t.test('expireAccessToken makes the next call fail with EXPIRED_AUTHENTICATION', async (t) => {
  const sim = await startTestSimulator(t)
  const grant = sim.oauth.issueGrant()
  sim.oauth.expireAccessToken(grant.accessToken)
  const response = await listContacts(sim, grant.accessToken)
  t.equal(response.status, 401)
  t.equal(response.body.category, 'EXPIRED_AUTHENTICATION')
  t.equal(response.body.message, 'The OAuth token used to make this call expired 1 second(s) ago.')
})

t.test('a missing Authorization header gets 401 INVALID_AUTHENTICATION', async (t) => {
  const sim = await startTestSimulator(t)
  const response = await fetch(`${sim.url}/crm/v3/objects/contacts`)
  t.equal(response.status, 401)
  t.equal(((await response.json()) as { category: string }).category, 'INVALID_AUTHENTICATION')
})
