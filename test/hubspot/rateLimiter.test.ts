import t from 'tap'

import {
  PortalRateLimiter,
  readRateLimitHeaders,
  SlidingWindowBudget,
} from '../../src/hubspot/rateLimiter.js'
import { fakeClock } from './clientHelpers.js'

const noHeaders = { maxCalls: null, remainingCalls: null, intervalMs: null }

t.test('budget lets the limit through, then waits for the window', async (t) => {
  const budget = new SlidingWindowBudget(2, 1000)
  t.same(budget.decide(0), { kind: 'go' })
  budget.finish(budget.start(), 0)
  t.same(budget.decide(0), { kind: 'go' })
  budget.finish(budget.start(), 100)

  t.same(
    budget.decide(200),
    { kind: 'sleep', durationMs: 850 },
    'until the first finish leaves the window, plus 50 ms',
  )
  t.same(budget.decide(1049), { kind: 'sleep', durationMs: 1 })
  t.same(budget.decide(1050), { kind: 'go' })
})

t.test('budget waits for an in-flight request to finish', async (t) => {
  const budget = new SlidingWindowBudget(1, 1000)
  const entry = budget.start()
  t.same(budget.decide(5000), { kind: 'awaitFinish' }, 'its arrival time at HubSpot is unknown')

  const finished = budget.nextFinish()
  budget.finish(entry, 5000)
  await finished
  t.same(budget.decide(5000), { kind: 'sleep', durationMs: 1050 })
})

t.test('header Max and interval replace the configured budget', async (t) => {
  const budget = new SlidingWindowBudget(100, 10_000)
  budget.observe({ maxCalls: 3, remainingCalls: null, intervalMs: 1000 }, 0)
  t.equal(budget.limit, 3)

  for (let index = 0; index < 3; index++) budget.finish(budget.start(), 0)
  t.same(budget.decide(10), { kind: 'sleep', durationMs: 1040 })
  budget.configure(50)
  t.equal(budget.limit, 3, 'the header value wins over configuration once seen')
})

t.test('fewer remaining calls than counted are recorded as used', async (t) => {
  const budget = new SlidingWindowBudget(10, 10_000)
  budget.finish(budget.start(), 0)
  budget.observe({ ...noHeaders, remainingCalls: 4 }, 0)

  for (let index = 0; index < 4; index++) {
    t.same(budget.decide(0), { kind: 'go' })
    budget.finish(budget.start(), 0)
  }
  t.equal(budget.decide(0).kind, 'sleep', 'the fifth call would pass HubSpot count')
})

t.test('a pause holds requests back even with budget left', async (t) => {
  const budget = new SlidingWindowBudget(10, 1000)
  budget.pause(700)
  t.same(budget.decide(200), { kind: 'sleep', durationMs: 500 })
  t.same(budget.decide(700), { kind: 'go' })
})

t.test('limiter counts waits and shares the budget', async (t) => {
  const clock = fakeClock(0)
  const limiter = new PortalRateLimiter({ searchPerSecond: 2, burstPer10Seconds: 100 }, clock)

  const first = await limiter.acquire('search')
  first.finish()
  const second = await limiter.acquire('search')
  second.finish()
  const third = await limiter.acquire('search')
  third.finish()

  t.same([first.hasWaited, second.hasWaited, third.hasWaited], [false, false, true])
  t.equal(third.waitedMs, 1050)
  const burst = await limiter.acquire('burst')
  t.equal(burst.hasWaited, false, 'search and burst budgets are separate')
})

t.test('a 429 without Retry-After uses up the budget', async (t) => {
  const clock = fakeClock(0)
  const limiter = new PortalRateLimiter({ searchPerSecond: 4, burstPer10Seconds: 100 }, clock)
  limiter.pauseAfterRateLimit('burst', null, 1000)

  const permit = await limiter.acquire('burst')
  t.equal(permit.waitedMs, 10_050, 'the window has to clear')
})

t.test('a 429 with Retry-After waits exactly that long', async (t) => {
  const clock = fakeClock(0)
  const limiter = new PortalRateLimiter({ searchPerSecond: 4, burstPer10Seconds: 100 }, clock)
  limiter.pauseAfterRateLimit('burst', 3000, 1000)

  const permit = await limiter.acquire('burst')
  t.equal(permit.waitedMs, 3000)
})

t.test('rate-limit headers are read as numbers', async (t) => {
  const headers = readRateLimitHeaders({
    'x-hubspot-ratelimit-max': '110',
    'x-hubspot-ratelimit-remaining': '7',
    'x-hubspot-ratelimit-interval-milliseconds': '10000',
  })
  t.same(headers, { maxCalls: 110, remainingCalls: 7, intervalMs: 10_000 })
  t.same(readRateLimitHeaders({ 'x-hubspot-ratelimit-max': 'lots' }), noHeaders)
})
