import { z } from 'zod'

import { AppError, ErrorCode } from './errors.js'

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], {
    error: 'expected true or false',
  })
  .transform((value) => value === 'true' || value === '1' || value === 'yes')

const positiveInt = z.coerce.number({ error: 'expected a number' }).int().positive()
const nonNegativeInt = z.coerce.number({ error: 'expected a number' }).int().min(0)
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' })

const schema = z.object({
  PORT: z.coerce.number({ error: 'expected a port number' }).int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  NATS_SUBJECT_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$/, 'expected dot-separated tokens such as "staging"')
    .default(''),
  HUBSPOT_API_URL: httpUrl.default('https://api.hubapi.com'),
  HUBSPOT_CLIENT_ID: z.string().min(1).optional(),
  HUBSPOT_CLIENT_SECRET: z.string().min(1).optional(),
  HUBSPOT_TIMEOUT_MS: positiveInt.default(30_000),
  HUBSPOT_MAX_ATTEMPTS: positiveInt.max(20).default(6),
  HUBSPOT_SEARCH_REQUESTS_PER_SECOND: z.coerce.number().positive().max(5).default(4),
  HUBSPOT_BURST_PER_10_SECONDS: positiveInt.default(100),
  WEBHOOK_PUBLIC_URL: httpUrl.optional(),
  WEBHOOK_ACCEPT_V1: booleanFlag.default(false),
  WEBHOOK_MAX_AGE_MS: positiveInt.default(300_000),
  WEBHOOK_MAX_ATTEMPTS: positiveInt.max(50).default(8),
  API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  ENCRYPTION_KEY: z
    .string()
    .regex(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, 'expected 32 bytes as 64 hex digits or base64')
    .optional(),
  SYNC_INTERVAL_MINUTES: positiveInt.max(1440).default(15),
  POLL_OVERLAP_SECONDS: nonNegativeInt.default(300),
  POLL_SETTLE_SECONDS: nonNegativeInt.default(120),
  POLL_PAGE_SIZE: positiveInt.max(200).default(200),
  RECONCILE_INTERVAL_HOURS: positiveInt.max(24 * 7).default(24),
  SCHEDULER_ENABLED: booleanFlag.default(true),
  INBOX_WORKER_ENABLED: booleanFlag.default(true),
  OUTBOX_RELAY_ENABLED: booleanFlag.default(true),
  ACTIONS_ENABLED: booleanFlag.default(true),
  ACTIONS_MAX_DELIVERIES: positiveInt.max(100).default(5),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(25_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  OUTBOX_RETENTION_HOURS: positiveInt.max(24 * 365).default(168),
  // At least a day: a repeated delivery is dropped only while its first copy is kept, and
  // HubSpot retries a failed delivery up to 10 times over 24 hours.
  INBOX_RETENTION_DAYS: positiveInt.max(365).default(7),
})

export type Config = Readonly<z.infer<typeof schema>>

/**
 * Parses the environment once. Every invalid key is reported in one error so an operator
 * can fix them all before the next start.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in schema.shape && value !== ''),
  )
  const parsed = schema.safeParse(present)
  if (parsed.success) return Object.freeze(parsed.data)

  const issues = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0])
    return { key, reason: issue.message, value: redactValue(key, env[key]) }
  })
  const lines = issues.map((issue) => `  ${issue.key}=${issue.value}: ${issue.reason}`)
  throw new AppError(
    ErrorCode.CONFIG_INVALID,
    `Invalid configuration, fix these environment variables and restart:\n${lines.join('\n')}`,
    { context: { issues } },
  )
}

const secretKeys = new Set(['API_TOKEN', 'ENCRYPTION_KEY', 'HUBSPOT_CLIENT_SECRET', 'DATABASE_URL'])

function redactValue(key: string, value: string | undefined): string {
  if (value === undefined) return '(unset)'
  if (secretKeys.has(key)) return '(redacted)'
  return JSON.stringify(value)
}

/** Returns the configuration tests start from: every default, overridden by `overrides`. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', ...overrides })
}
