import t, { type Test } from 'tap'

import type { Sql } from '../../src/db/connection.js'
import { findStoredCredentials } from '../../src/db/credentials.js'
import { findIntegration, type Integration } from '../../src/db/integrations.js'
import { ErrorCode } from '../../src/errors.js'
import type { HubSpotContact } from '../../src/hubspot/types.js'
import {
  startSimulator,
  type Simulator,
  type StartSimulatorParams,
} from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import {
  addIntegration,
  clientsFor,
  fakeClock,
  testEncryptionKey,
  type ClientOptions,
} from './clientHelpers.js'

const listEndpoint = 'GET /crm/v3/objects/contacts'
const tokenEndpoint = 'POST /oauth/v1/token'

let nextPortalId = 40_000_000

async function startSim(t: Test, params: StartSimulatorParams = {}): Promise<Simulator> {
  const sim = await startSimulator({
    port: 0,
    host: '127.0.0.1',
    seed: 1,
    contacts: 30,
    portalId: nextPortalId++,
    ...params,
  })
  t.teardown(() => sim.close())
  return sim
}

function oauthEnv(sim: Simulator): Record<string, string> {
  return { HUBSPOT_CLIENT_ID: sim.oauth.clientId, HUBSPOT_CLIENT_SECRET: sim.oauth.clientSecret }
}

function endpointStatus(sim: Simulator, endpoint: string, status: number): number {
  return sim.requestCounts().byEndpoint[endpoint]?.byStatus[String(status)] ?? 0
}

async function addOAuthIntegration(sql: Sql, sim: Simulator, expiresAt?: Date) {
  const grant = sim.oauth.issueGrant()
  const oauth = {
    accessToken: grant.accessToken,
    refreshToken: grant.refreshToken,
    expiresAt: expiresAt ?? grant.expiresAt,
  }
  return { grant, integration: await addIntegration(sql, { portalId: sim.portalId, oauth }) }
}

function apiFor(
  t: Test,
  sql: Sql,
  sim: Simulator,
  integration: Integration,
  options: ClientOptions = {},
) {
  return clientsFor(t, sql, sim.url, options).clients.forIntegration(integration)
}

t.test('client against the simulator', async (t) => {
  const { sql } = await createTestDatabase(t)

  t.test('lists, searches and batch-reads', async (t) => {
    const sim = await startSim(t, { contacts: 250 })
    const integration = await addIntegration(sql, {
      portalId: sim.portalId,
      accessToken: sim.privateAppToken,
    })
    const api = apiFor(t, sql, sim, integration)

    const ids: string[] = []
    let after: string | null = null
    do {
      const page = await api.listContacts({ after, limit: 100 })
      t.same(page.invalid, [], 'every listed contact is valid')
      ids.push(...page.contacts.map((contact) => contact.id))
      after = page.nextAfter
    } while (after)
    t.same(ids, sim.contacts.ids(), 'paging reaches every contact once, in id order')

    const search = await api.searchContacts({
      filterGroups: [
        { filters: [{ propertyName: 'hs_object_id', operator: 'GT', value: ids[9] }] },
      ],
      sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
      limit: 200,
    })
    t.equal(search.total, 240)
    t.same(
      search.contacts.map((contact) => contact.id),
      ids.slice(10, 210),
      'the object sort is honoured',
    )
    t.ok('lastmodifieddate' in search.contacts[0].properties, 'synced properties are requested')

    const read = await api.batchReadContacts([...ids.slice(0, 150), '42'])
    t.same(
      read.contacts.map((contact: HubSpotContact) => contact.id).sort(),
      ids.slice(0, 150).sort(),
    )
    t.same(read.missingIds, ['42'])
    t.equal(api.stats.calls, 3 + 1 + 2)
  })

  t.test('an access token expiring mid-run is refreshed and the call retried', async (t) => {
    const sim = await startSim(t)
    const { grant, integration } = await addOAuthIntegration(sql, sim)
    const api = apiFor(t, sql, sim, integration, { env: oauthEnv(sim) })

    const first = await api.listContacts({ limit: 10 })
    sim.oauth.expireAccessToken(grant.accessToken)
    const second = await api.listContacts({ limit: 10, after: first.nextAfter })

    t.same(
      second.contacts.map((contact) => contact.id),
      sim.contacts.ids().slice(10, 20),
    )
    t.equal(endpointStatus(sim, listEndpoint, 401), 1, 'one call met the expired token')
    t.equal(endpointStatus(sim, tokenEndpoint, 200), 1, 'one refresh')
    const stored = await findStoredCredentials(sql, testEncryptionKey, integration.id)
    t.not(stored.credentials.accessToken, grant.accessToken, 'the new token is stored')
    t.equal(stored.credentials.refreshToken, grant.refreshToken)
  })

  t.test('an access token near expiry is refreshed ahead', async (t) => {
    const sim = await startSim(t)
    const { integration } = await addOAuthIntegration(sql, sim, new Date(Date.now() + 60_000))
    const api = apiFor(t, sql, sim, integration, { env: oauthEnv(sim) })

    await api.listContacts({ limit: 5 })

    t.equal(endpointStatus(sim, tokenEndpoint, 200), 1)
    t.equal(endpointStatus(sim, listEndpoint, 401), 0, 'no call was sent with the old token')
  })

  t.test('a revoked grant marks the integration needs_reauth', async (t) => {
    const sim = await startSim(t)
    const { grant, integration } = await addOAuthIntegration(sql, sim)
    const api = apiFor(t, sql, sim, integration, { env: oauthEnv(sim) })
    sim.oauth.revokeRefreshToken(grant.refreshToken)

    await t.rejects(api.listContacts({}), { code: ErrorCode.HUBSPOT_REAUTH_REQUIRED })
    const row = await findIntegration(sql, integration.id)
    t.equal(row?.status, 'needs_reauth')
    t.match(row?.statusReason, /refresh token/)
  })

  t.test('DAILY ends the call at once', async (t) => {
    const sim = await startSim(t, { options: { rateLimits: { dailyLimit: 2 } } })
    const integration = await addIntegration(sql, {
      portalId: sim.portalId,
      accessToken: sim.privateAppToken,
    })
    const clock = fakeClock()
    const api = apiFor(t, sql, sim, integration, { clock })

    await api.listContacts({ limit: 1 })
    await api.listContacts({ limit: 1 })
    await t.rejects(api.listContacts({ limit: 1 }), { code: ErrorCode.HUBSPOT_DAILY_LIMIT })

    t.equal(sim.requestCounts().rateLimited.DAILY, 1, 'one rejected call, no retry')
    t.same(api.stats.rateLimited, { DAILY: 1 })
    t.same(clock.sleeps, [])
  })

  t.test('TEN_SECONDLY_ROLLING 429s are waited out and the budget adapts', async (t) => {
    const clock = fakeClock()
    const sim = await startSim(t, {
      now: clock.nowMs,
      options: { rateLimits: { privateAppPer10Seconds: 3 } },
    })
    const integration = await addIntegration(sql, {
      portalId: sim.portalId,
      accessToken: sim.privateAppToken,
    })
    const replicaA = apiFor(t, sql, sim, integration, { clock })
    const replicaB = apiFor(t, sql, sim, integration, { clock })

    // Replica A uses the whole budget of 3; replica B cannot know that before its first response.
    for (let call = 0; call < 3; call++) await replicaA.listContacts({ limit: 1 })
    const page = await replicaB.listContacts({ limit: 1 })

    t.equal(page.contacts.length, 1)
    t.equal(sim.requestCounts().rateLimited.TEN_SECONDLY_ROLLING, 1)
    t.same(replicaB.stats.rateLimited, { TEN_SECONDLY_ROLLING: 1 })
    t.ok(replicaB.stats.waitedMs >= 1000, `replica B waited ${replicaB.stats.waitedMs} ms`)

    for (let call = 0; call < 7; call++) await replicaB.listContacts({ limit: 1 })
    t.equal(
      sim.requestCounts().rateLimited.TEN_SECONDLY_ROLLING,
      1,
      'no further 429 once the headers were seen',
    )
    t.equal(endpointStatus(sim, listEndpoint, 200), 11)
  })

  t.test('SECONDLY 429s on search are waited out', async (t) => {
    const clock = fakeClock()
    const sim = await startSim(t, {
      now: clock.nowMs,
      options: { rateLimits: { searchPerSecond: 2 } },
    })
    const integration = await addIntegration(sql, {
      portalId: sim.portalId,
      accessToken: sim.privateAppToken,
    })
    const api = apiFor(t, sql, sim, integration, {
      clock,
      env: { HUBSPOT_SEARCH_REQUESTS_PER_SECOND: '5' },
    })

    const pages = await Promise.all(
      Array.from({ length: 6 }, () => api.searchContacts({ limit: 1 })),
    )

    t.ok(pages.every((page) => page.contacts.length === 1))
    const rejected = sim.requestCounts().rateLimited.SECONDLY
    t.ok(rejected > 0, 'the simulator answered 429 SECONDLY')
    t.equal(api.stats.rateLimited.SECONDLY, rejected)
  })

  t.test('search within the default budget meets no 429', async (t) => {
    const clock = fakeClock()
    const sim = await startSim(t, { now: clock.nowMs })
    const integration = await addIntegration(sql, {
      portalId: sim.portalId,
      accessToken: sim.privateAppToken,
    })
    const api = apiFor(t, sql, sim, integration, { clock })

    await Promise.all(Array.from({ length: 20 }, () => api.searchContacts({ limit: 1 })))

    t.equal(sim.requestCounts().rateLimited.SECONDLY, 0)
    t.ok(api.stats.rateLimitWaits > 0, 'the client waited for its own budget')
  })
})
