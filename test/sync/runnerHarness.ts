// Shared setup for the sync run tests: a fresh database, the simulator on port 0 with a clock
// the test can move, an integration pointed at it, and sync services built on real clients.
import { randomBytes } from 'node:crypto'

import { testConfig, type Config } from '../../src/config.js'
import type { Sql } from '../../src/db/connection.js'
import { findCursor, type SyncCursor } from '../../src/db/cursors.js'
import { insertIntegration, type Integration } from '../../src/db/integrations.js'
import type { SyncRun } from '../../src/db/syncRuns.js'
import { createHubSpotClients, type HubSpotClients } from '../../src/hubspot/client.js'
import { createLogger } from '../../src/logger.js'
import type { OAuthGrant } from '../../src/simulator/auth.js'
import type { SimulatorOptionsPatch } from '../../src/simulator/options.js'
import { startSimulator, type Simulator } from '../../src/simulator/server.js'
import { createSyncService, type SyncService, type SyncServiceDeps } from '../../src/sync/runner.js'
import { createTestDatabase } from '../helpers/database.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const silentLogger = createLogger('silent')

/** A clock shared by the simulator and the services: real time plus an offset tests move. */
export class TestClock {
  offsetMs = 0

  nowMs(): number {
    return Date.now() + this.offsetMs
  }

  now(): Date {
    return new Date(this.nowMs())
  }

  advance(ms: number): void {
    this.offsetMs += ms
  }
}

export interface HarnessOptions {
  contacts?: number
  simulator?: SimulatorOptionsPatch
  env?: Record<string, string>
  authType?: 'private_app' | 'oauth'
  sql?: Sql
}

export interface Harness {
  sql: Sql
  sim: Simulator
  clock: TestClock
  config: Config
  encryptionKey: Buffer
  integration: Integration
  /** The OAuth grant the integration was created with (oauth harnesses only). */
  grant: OAuthGrant | null
  clients: HubSpotClients
  /** Builds another service on the same database, as a second replica would be. */
  service(overrides?: Partial<SyncServiceDeps>): SyncService
  cursor(): Promise<SyncCursor>
  leadCount(): Promise<number>
  runs(): Promise<SyncRun[]>
  /** Runs a contacts sync to its end and returns the finished run. */
  sync(service?: SyncService): Promise<SyncRun>
}

export async function createHarness(t: Teardown, options: HarnessOptions = {}): Promise<Harness> {
  const sql = options.sql ?? (await createTestDatabase(t)).sql
  const clock = new TestClock()
  const sim = await startSimulator({
    port: 0,
    seed: 7,
    contacts: options.contacts ?? 100,
    seedAnchorMs: clock.nowMs() - 86_400_000,
    options: options.simulator,
    now: () => clock.nowMs(),
  })
  t.teardown(() => sim.close())

  const encryptionKey = randomBytes(32)
  const config = testConfig({
    HUBSPOT_API_URL: sim.url,
    HUBSPOT_CLIENT_ID: sim.oauth.clientId,
    HUBSPOT_CLIENT_SECRET: sim.oauth.clientSecret,
    POLL_OVERLAP_SECONDS: '60',
    POLL_SETTLE_SECONDS: '5',
    ...options.env,
  })
  const grant = options.authType === 'oauth' ? sim.oauth.issueGrant() : null
  const integration = await addIntegration(sql, encryptionKey, sim, grant)
  const clients = createHubSpotClients({
    config,
    sql,
    encryptionKey,
    logger: silentLogger,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
  })
  t.teardown(() => clients.close())

  const services: SyncService[] = []
  t.teardown(() => Promise.all(services.map((service) => service.stop())))
  const service = (overrides: Partial<SyncServiceDeps> = {}) => {
    const created = createSyncService({ config, sql, logger: silentLogger, clients, now: () => clock.now(), ...overrides })
    services.push(created)
    return created
  }
  const defaultService = service()

  return {
    sql,
    sim,
    clock,
    config,
    encryptionKey,
    integration,
    grant,
    clients,
    service,
    cursor: async () => (await findCursor(sql, integration.id)) as SyncCursor,
    leadCount: async () => {
      const [row] = await sql<{ count: number }[]>`
        select count(*)::int as count from leads where integration_id = ${integration.id}
      `
      return row.count
    },
    runs: async () => {
      const rows = await sql<{ id: number }[]>`select id from sync_runs order by id`
      const runs = await Promise.all(rows.map((row) => defaultService.findRun(row.id)))
      return runs as SyncRun[]
    },
    sync: async (target = defaultService) => {
      const { done } = await target.startRun(integration.id, 'manual')
      return done
    },
  }
}

async function addIntegration(
  sql: Sql,
  encryptionKey: Buffer,
  sim: Simulator,
  grant: OAuthGrant | null,
): Promise<Integration> {
  return insertIntegration(sql, encryptionKey, {
    portalId: sim.portalId,
    name: 'simulated portal',
    authType: grant ? 'oauth' : 'private_app',
    credentials: grant
      ? { accessToken: grant.accessToken, refreshToken: grant.refreshToken }
      : { accessToken: sim.privateAppToken },
    accessTokenExpiresAt: grant ? grant.expiresAt : null,
    actions: {},
    burstPer10Seconds: null,
    ownerUserId: null,
  })
}

/** Ids of every lead of the integration, ascending, as strings. */
export async function leadContactIds(sql: Sql, integrationId: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select hubspot_contact_id::text as id from leads
    where integration_id = ${integrationId} and deleted_at is null
    order by hubspot_contact_id
  `
  return rows.map((row) => row.id)
}

/** Puts the integration past its backfill, with windows starting at `lastSyncAt`. */
export async function seedIncrementalCursor(harness: Harness, lastSyncAt: Date): Promise<void> {
  await harness.sql`
    insert into sync_cursors (integration_id, cursor_type, phase, last_sync_at)
    values (${harness.integration.id}, 'contacts', 'incremental', ${lastSyncAt})
  `
}

/** Ids of the live (not archived) contacts of the simulator, ascending. */
export function liveContactIds(harness: Harness): string[] {
  return harness.sim.contacts
    .all()
    .filter((contact) => !contact.archived)
    .map((contact) => contact.id)
}

export function endpointCalls(harness: Harness, endpoint: string): number {
  return harness.sim.requestCounts().byEndpoint[endpoint]?.total ?? 0
}

export const listEndpoint = 'GET /crm/v3/objects/contacts'
export const searchEndpoint = 'POST /crm/v3/objects/contacts/search'
