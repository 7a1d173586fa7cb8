import type { SimulatorCore } from './core.js'
import type { Route } from './http.js'
import { isoString } from './render.js'

/** OAuth token endpoints and account details: the calls a client makes around the CRM API. */
export function accountRoutes(core: SimulatorCore): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/oauth\/v1\/token\/?$/,
      endpoint: 'POST /oauth/v1/token',
      kind: 'oauth',
      handle: (context) => ({ status: 200, body: core.auth.refresh(context.form()) }),
    },
    {
      method: 'GET',
      pattern: /^\/oauth\/v1\/access-tokens\/([^/]+)$/,
      endpoint: 'GET /oauth/v1/access-tokens/{token}',
      kind: 'oauth',
      handle: (context) => ({
        status: 200,
        body: core.auth.describeAccessToken(decodeURIComponent(context.params[0]), core.portalId, core.appId),
      }),
    },
    {
      method: 'DELETE',
      pattern: /^\/oauth\/v1\/refresh-tokens\/([^/]+)$/,
      endpoint: 'DELETE /oauth/v1/refresh-tokens/{token}',
      kind: 'oauth',
      handle: (context) => {
        core.auth.revokeRefreshToken(decodeURIComponent(context.params[0]))
        return { status: 204 }
      },
    },
    {
      method: 'GET',
      pattern: /^\/account-info\/v3\/details\/?$/,
      endpoint: 'GET /account-info/v3/details',
      kind: 'hubspot',
      handle: () => ({
        status: 200,
        body: {
          portalId: core.portalId,
          accountType: 'STANDARD',
          timeZone: 'Etc/UTC',
          companyCurrency: 'USD',
          additionalCurrencies: [],
          utcOffset: '+00:00',
          utcOffsetMilliseconds: 0,
          uiDomain: core.options().appHost,
          dataHostingLocation: core.options().appHost.includes('eu1') ? 'eu1' : 'na1',
        },
      }),
    },
    {
      method: 'GET',
      pattern: /^\/account-info\/v3\/api-usage\/daily\/private-apps\/?$/,
      endpoint: 'GET /account-info/v3/api-usage/daily/private-apps',
      kind: 'hubspot',
      handle: () => {
        const nowMs = core.nowMs()
        const dayMs = 24 * 3600 * 1000
        return {
          status: 200,
          body: {
            results: [
              {
                name: 'api-calls-daily',
                usageLimit: core.options().rateLimits.dailyLimit ?? 0,
                currentUsage: core.limiter.dailyUsage,
                collectedAt: isoString(nowMs),
                fetchStatus: 'SUCCESS',
                resetsAt: isoString(nowMs - (nowMs % dayMs) + dayMs),
              },
            ],
          },
        }
      },
    },
  ]
}
