import t from 'tap'

import { loadConfig } from '../src/config.js'
import { isAppError } from '../src/errors.js'

/** Returns what `loadConfig` throws for `env`, or undefined when it accepts the values. */
function configErrorOf(env: Record<string, string>): unknown {
  try {
    loadConfig(env)
  } catch (error) {
    return error
  }
  return undefined
}

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.PORT, 3000)
  t.equal(config.HOST, '127.0.0.1')
  t.equal(config.DATABASE_URL, undefined)
  t.equal(config.DATA_DIR, '.data')
  t.equal(config.NATS_URL, 'nats://127.0.0.1:4222')
  t.equal(config.HUBSPOT_API_URL, 'https://api.hubapi.com')
  t.equal(config.SYNC_INTERVAL_MINUTES, 15)
  t.equal(config.SCHEDULER_ENABLED, true)
  t.equal(config.SHUTDOWN_TIMEOUT_MS, 25_000)
  t.ok(Object.isFrozen(config))
})

t.test('parses numbers, flags and URLs', async (t) => {
  const config = loadConfig({
    PORT: '8080',
    SCHEDULER_ENABLED: 'false',
    ACTIONS_ENABLED: '0',
    DATABASE_URL: 'postgres://app@db:5432/leads',
    HUBSPOT_API_URL: 'http://127.0.0.1:4010',
    ENCRYPTION_KEY: 'ab'.repeat(32),
  })
  t.equal(config.PORT, 8080)
  t.equal(config.SCHEDULER_ENABLED, false)
  t.equal(config.ACTIONS_ENABLED, false)
  t.equal(config.DATABASE_URL, 'postgres://app@db:5432/leads')
  t.equal(config.HUBSPOT_API_URL, 'http://127.0.0.1:4010')
})

t.test('treats empty values as unset', async (t) => {
  const config = loadConfig({ PORT: '', API_TOKEN: '' })
  t.equal(config.PORT, 3000)
  t.equal(config.API_TOKEN, undefined)
})

t.test('reports every invalid key at once', async (t) => {
  const env = {
    PORT: 'eighty',
    DATABASE_URL: 'mysql://db/leads',
    HUBSPOT_API_URL: 'ftp://example.com',
    API_TOKEN: 'short',
    ENCRYPTION_KEY: 'not-a-key',
    SCHEDULER_ENABLED: 'maybe',
    SYNC_INTERVAL_MINUTES: '0',
    LOG_LEVEL: 'loud',
  }
  const error = configErrorOf(env)
  t.ok(isAppError(error, 'CONFIG_INVALID'), 'throws CONFIG_INVALID')
  const appError = error as Error & { context: { issues: { key: string; reason: string }[] } }
  const keys = appError.context.issues.map((issue) => issue.key).sort()
  t.same(keys, Object.keys(env).sort(), 'one issue per bad key')
  for (const key of Object.keys(env)) t.match(appError.message, key, `message names ${key}`)
  t.match(appError.message, /fix these environment variables/)
})

t.test('never prints secret values', async (t) => {
  const error = configErrorOf({
    API_TOKEN: 'short-secret',
    ENCRYPTION_KEY: 'leaked-key-value',
    DATABASE_URL: 'mysql://u:pw@h/d',
  })
  t.ok(error instanceof Error, 'throws an error')
  const message = error instanceof Error ? error.message : ''
  t.notMatch(message, 'short-secret')
  t.notMatch(message, 'leaked-key-value')
  t.notMatch(message, 'pw@h')
  t.match(message, '(redacted)')
})
