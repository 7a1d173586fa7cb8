import t from 'tap'

import {
  backoffDelayMs,
  classifyResponse,
  networkFailureReason,
  parseRetryAfterMs,
} from '../../src/hubspot/retry.js'
import { SocketTimeoutError } from '../../src/hubspot/transport.js'

function response(status: number, body: unknown = {}, headers: Record<string, string> = {}) {
  return { status, headers, text: typeof body === 'string' ? body : JSON.stringify(body) }
}

t.test('responses are classified by status and policy', async (t) => {
  t.same(classifyResponse(response(200), 0), { kind: 'success' })
  t.same(classifyResponse(response(207), 0), { kind: 'success' })
  t.same(classifyResponse(response(429, { policyName: 'DAILY' }), 0), { kind: 'dailyLimit' })
  t.same(classifyResponse(response(429, { policyName: 'TEN_SECONDLY_ROLLING' }), 0), {
    kind: 'rateLimited',
    policy: 'TEN_SECONDLY_ROLLING',
    retryAfterMs: null,
  })
  t.same(classifyResponse(response(429, 'not json', { 'retry-after': '2' }), 0), {
    kind: 'rateLimited',
    policy: 'UNKNOWN',
    retryAfterMs: 2000,
  })
  t.same(classifyResponse(response(401, { category: 'EXPIRED_AUTHENTICATION' }), 0), {
    kind: 'unauthorized',
    category: 'EXPIRED_AUTHENTICATION',
  })
  t.match(classifyResponse(response(423), 0), { kind: 'transient', minDelayMs: 2000 })
  t.match(classifyResponse(response(502, '<html>'), 0), { kind: 'transient', reason: 'status 502' })
  t.same(classifyResponse(response(404), 0), { kind: 'rejected' })
  t.same(classifyResponse(response(414), 0), { kind: 'rejected' })
})

t.test('Retry-After is read as seconds or an HTTP date', async (t) => {
  t.equal(parseRetryAfterMs('3', 0), 3000)
  t.equal(parseRetryAfterMs('0.5', 0), 500)
  const nowMs = Date.parse('2026-01-01T00:00:00Z')
  t.equal(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', nowMs), 5000)
  t.equal(parseRetryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', nowMs), 0, 'a past date means now')
  t.equal(parseRetryAfterMs(undefined, 0), null)
  t.equal(parseRetryAfterMs('soon', 0), null)
})

t.test('backoff uses full jitter under a doubling cap', async (t) => {
  const options = { baseDelayMs: 500, maxDelayMs: 3000 }
  t.equal(backoffDelayMs(1, { ...options, random: () => 0.999 }), 499)
  t.equal(backoffDelayMs(3, { ...options, random: () => 0.5 }), 1000)
  t.equal(backoffDelayMs(10, { ...options, random: () => 0.5 }), 1500, 'capped at maxDelayMs')
  t.equal(backoffDelayMs(2, { ...options, random: () => 0 }), 0)
})

t.test('network failures are told apart from other errors', async (t) => {
  t.equal(
    networkFailureReason(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
    'ECONNRESET',
  )
  t.equal(networkFailureReason(new SocketTimeoutError(100)), 'timeout')
  t.equal(
    networkFailureReason(new TypeError('fetch failed', { cause: { code: 'UND_ERR_SOCKET' } })),
    'UND_ERR_SOCKET',
  )
  t.equal(networkFailureReason(new TypeError('bad argument')), null)
  t.equal(networkFailureReason(null), null)
})
