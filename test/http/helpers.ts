import type { FastifyInstance } from 'fastify'

import { buildApp, type AppServices } from '../../src/app.js'
import { testConfig, type Config } from '../../src/config.js'
import type { Sql } from '../../src/db/connection.js'
import { NatsManager } from '../../src/events/nats.js'
import { createLogger } from '../../src/logger.js'

export const apiToken = 'test-admin-token-0123456789abcdef'
export const encryptionKeyHex = 'a1'.repeat(32)
export const auth = { authorization: `Bearer ${apiToken}` }

interface Teardown {
  teardown(fn: () => unknown): void
}

export function adminConfig(overrides: Record<string, string> = {}): Config {
  return testConfig({
    API_TOKEN: apiToken,
    ENCRYPTION_KEY: encryptionKeyHex,
    HUBSPOT_CLIENT_ID: 'test-client-id',
    HUBSPOT_CLIENT_SECRET: 'test-client-secret',
    ...overrides,
  })
}

/** Builds the full app on a test database, NATS never connected, with the given services. */
export async function buildAdminApp(
  t: Teardown,
  sql: Sql,
  options: { config?: Config; services?: Partial<AppServices> } = {},
): Promise<FastifyInstance> {
  const logger = createLogger('silent')
  const nats = new NatsManager({ url: 'nats://127.0.0.1:1', subjectPrefix: 'unused', logger })
  const services = { encryptionKey: Buffer.from(encryptionKeyHex, 'hex'), ...options.services }
  const app = buildApp({ config: options.config ?? adminConfig(), sql, logger, nats, services })
  await app.ready()
  t.teardown(() => app.close())
  return app
}
