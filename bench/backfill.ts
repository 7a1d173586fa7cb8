/**
 * Backfill benchmark: a first sync of BENCH_CONTACTS (default 100,000) contacts from the
 * simulator through the real client, import service and PostgreSQL. The simulator enforces
 * 110 requests per rolling 10 s (HubSpot's OAuth-app burst limit), and the client is
 * configured with the same budget.
 *
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/backfill.ts
 *
 * The ceiling is the shortest time the rate limit allows for the list calls needed: the
 * first 110 calls fit in the opening burst, every further call needs 1/11 s. Reported:
 * achieved time as a fraction of that ceiling, contacts per second against 1,100/s (the
 * sustained ceiling), and the share of calls answered 429. The simulator runs in a worker
 * thread, so its CPU time is not taken from the sync's event loop. Loopback only.
 */
import { randomBytes } from 'node:crypto'

import { testConfig } from '../src/config.js'
import { createHubSpotClients } from '../src/hubspot/client.js'
import { createLogger } from '../src/logger.js'
import type { RequestCounts } from '../src/simulator/core.js'
import { backfillPageSize } from '../src/sync/backfillPipeline.js'
import { createSyncService } from '../src/sync/runner.js'
import {
  addPrivateAppIntegration,
  createBenchDatabase,
  describeMachine,
  startSimulatorWorker,
} from './benchSupport.js'

const contactCount = Number(process.env.BENCH_CONTACTS ?? 100_000)
const burstPer10Seconds = 110
const listEndpoint = 'GET /crm/v3/objects/contacts'

async function main(): Promise<void> {
  const database = await createBenchDatabase('hs_bench_backfill')
  const sim = await startSimulatorWorker({
    port: 0,
    seed: 11,
    contacts: contactCount,
    options: {
      rateLimits: {
        privateAppPer10Seconds: burstPer10Seconds,
        oauthAppPer10Seconds: burstPer10Seconds,
        dailyLimit: null,
      },
    },
  })
  const config = testConfig({
    HUBSPOT_API_URL: sim.url,
    HUBSPOT_BURST_PER_10_SECONDS: String(burstPer10Seconds),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  })
  const logger = createLogger(config.LOG_LEVEL)
  const encryptionKey = randomBytes(32)
  const integration = await addPrivateAppIntegration(database.sql, encryptionKey, sim, burstPer10Seconds)
  const clients = createHubSpotClients({ config, sql: database.sql, encryptionKey, logger })
  const service = createSyncService({ config, sql: database.sql, logger, clients })

  try {
    const startedMs = performance.now()
    let backfillEndMs = 0
    const { done } = await service.startRun(integration.id, 'cli', {
      onProgress: (progress) => {
        if (progress.phase === 'backfill') backfillEndMs = performance.now()
      },
    })
    const run = await done
    report(run.status, startedMs, backfillEndMs, await sim.requestCounts(), await countLeads(database.sql))
  } finally {
    await service.stop()
    await clients.close()
    await sim.close()
    await database.drop()
  }
}

function report(
  status: string,
  startedMs: number,
  backfillEndMs: number,
  counts: RequestCounts,
  leads: number,
): void {
  const seconds = (backfillEndMs - startedMs) / 1000
  const listCalls = counts.byEndpoint[listEndpoint]?.byStatus['200'] ?? 0
  const rateLimited = Object.values(counts.rateLimited).reduce((sum, value) => sum + value, 0)
  const ceilingSeconds = Math.max(0, listCalls - burstPer10Seconds) / (burstPer10Seconds / 10)
  const result = {
    machine: describeMachine(),
    status,
    contacts: contactCount,
    leads,
    listCalls,
    expectedListCalls: Math.ceil(contactCount / backfillPageSize),
    totalCalls: counts.total,
    answered429: rateLimited,
    share429: `${((100 * rateLimited) / Math.max(counts.total, 1)).toFixed(2)} %`,
    backfillSeconds: Number(seconds.toFixed(1)),
    ceilingSeconds: Number(ceilingSeconds.toFixed(1)),
    fractionOfCeiling: `${((100 * ceilingSeconds) / seconds).toFixed(1)} %`,
    contactsPerSecond: Math.round(leads / seconds),
    fractionOfSustainedCeiling: `${((100 * leads) / seconds / (burstPer10Seconds * 10)).toFixed(1)} %`,
  }
  console.log(JSON.stringify(result, null, 2))
}

async function countLeads(sql: Awaited<ReturnType<typeof createBenchDatabase>>['sql']): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from leads`
  return row.count
}

await main()
