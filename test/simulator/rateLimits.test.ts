import t from 'tap'
import { call, startTestSimulator } from './helpers.js'

const fixedNowMs = Date.UTC(2026, 5, 1, 12)

t.test('a sixth search within one second gets 429 SECONDLY without rate-limit headers', async (t) => {
  const sim = await startTestSimulator(t, { now: () => fixedNowMs })
  const statuses: number[] = []
  let last
  for (let i = 0; i < 6; i++) {
    last = await call(sim, 'POST', '/crm/v3/objects/contacts/search', {})
    statuses.push(last.status)
  }
  t.same(statuses, [200, 200, 200, 200, 200, 429])
  t.match(last!.body, {
    status: 'error',
    message: 'You have reached your secondly limit.',
    errorType: 'RATE_LIMIT',
    policyName: 'SECONDLY',
  })
  t.equal(last!.headers.get('x-hubspot-ratelimit-max'), null)
  t.equal(last!.headers.get('retry-after'), null, 'no Retry-After unless configured')
  t.equal(sim.requestCounts().rateLimited.SECONDLY, 1)
})

t.test('the ten-second budget returns TEN_SECONDLY_ROLLING and recovers as the window rolls', async (t) => {
  let nowMs = fixedNowMs
  const sim = await startTestSimulator(t, {
    now: () => nowMs,
    options: { rateLimits: { privateAppPer10Seconds: 3, retryAfterSeconds: 10 } },
  })
  const first = await call(sim, 'GET', '/crm/v3/objects/contacts')
  t.equal(first.headers.get('x-hubspot-ratelimit-max'), '3')
  t.equal(first.headers.get('x-hubspot-ratelimit-remaining'), '2')
  t.equal(first.headers.get('x-hubspot-ratelimit-interval-milliseconds'), '10000')
  t.equal(first.headers.get('x-hubspot-ratelimit-daily'), '625000', 'private apps get the daily pair')
  t.ok(first.headers.get('x-hubspot-ratelimit-daily-remaining'))

  await call(sim, 'GET', '/crm/v3/objects/contacts')
  await call(sim, 'GET', '/crm/v3/objects/contacts')
  const limited = await call(sim, 'GET', '/crm/v3/objects/contacts')
  t.equal(limited.status, 429)
  t.equal(limited.body.policyName, 'TEN_SECONDLY_ROLLING')
  t.equal(limited.body.message, 'You have reached your ten_secondly_rolling limit.')
  t.match(limited.body.groupName, /ten-secondly:12345678$/)
  t.equal(limited.headers.get('retry-after'), '10')

  const search = await call(sim, 'POST', '/crm/v3/objects/contacts/search', {})
  t.equal(search.status, 200, 'search is exempt from the ten-second budget')

  nowMs += 10_000
  t.equal((await call(sim, 'GET', '/crm/v3/objects/contacts')).status, 200)
  t.equal(sim.requestCounts().rateLimited.TEN_SECONDLY_ROLLING, 1)
})

t.test('the daily budget returns DAILY for private apps only', async (t) => {
  const sim = await startTestSimulator(t, { now: () => fixedNowMs, options: { rateLimits: { dailyLimit: 2 } } })
  await call(sim, 'GET', '/crm/v3/objects/contacts')
  await call(sim, 'GET', '/crm/v3/objects/contacts')
  const limited = await call(sim, 'GET', '/crm/v3/objects/contacts')
  t.equal(limited.status, 429)
  t.match(limited.body, { message: 'You have reached your daily limit.', policyName: 'DAILY', errorType: 'RATE_LIMIT' })

  const grant = sim.oauth.issueGrant()
  const oauth = await call(sim, 'GET', '/crm/v3/objects/contacts', undefined, { authorization: `Bearer ${grant.accessToken}` })
  t.equal(oauth.status, 200, 'OAuth apps have no daily limit')
  t.equal(oauth.headers.get('x-hubspot-ratelimit-max'), '110')
  t.equal(oauth.headers.get('x-hubspot-ratelimit-daily'), null)
})
