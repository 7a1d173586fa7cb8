/**
 * Idle poll benchmark: HubSpot calls per poll when nothing changed, counted by the
 * simulator (every request it received) and by the run row (the client's own count).
 * A backfill of BENCH_CONTACTS (default 5,000) contacts runs first; then BENCH_POLLS
 * (default 20) polls run 15 simulated minutes apart, with the simulator's and the service's
 * clock moved forward together. Loopback only.
 *
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/idlePoll.ts
 */
import { randomBytes } from 'node:crypto'

import { testConfig } from '../src/config.js'
import { createHubSpotClients } from '../src/hubspot/client.js'
import { createLogger } from '../src/logger.js'
import { startSimulator } from '../src/simulator/server.js'
import { createSyncService } from '../src/sync/runner.js'
import { addPrivateAppIntegration, createBenchDatabase, describeMachine, pollSettings } from './benchSupport.js'

const contactCount = Number(process.env.BENCH_CONTACTS ?? 5_000)
const polls = Number(process.env.BENCH_POLLS ?? 20)
const pollIntervalMs = 15 * 60_000

async function main(): Promise<void> {
  let offsetMs = 0
  const nowMs = () => Date.now() + offsetMs
  const database = await createBenchDatabase('hs_bench_idle')
  const sim = await startSimulator({ port: 0, seed: 12, contacts: contactCount, now: nowMs })
  const config = testConfig({ HUBSPOT_API_URL: sim.url, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' })
  const logger = createLogger(config.LOG_LEVEL)
  const encryptionKey = randomBytes(32)
  const integration = await addPrivateAppIntegration(database.sql, encryptionKey, sim, null)
  const clients = createHubSpotClients({ config, sql: database.sql, encryptionKey, logger })
  const service = createSyncService({ config, sql: database.sql, logger, clients, now: () => new Date(nowMs()) })

  try {
    const backfill = await (await service.startRun(integration.id, 'cli')).done
    const calls: { simulator: number; runRow: number; status: string }[] = []
    for (let poll = 0; poll < polls; poll++) {
      offsetMs += pollIntervalMs
      const before = sim.requestCounts().total
      const run = await (await service.startRun(integration.id, 'schedule')).done
      calls.push({ simulator: sim.requestCounts().total - before, runRow: run.hubspotCalls, status: run.status })
    }
    const perPoll = calls.map((entry) => entry.simulator)
    console.log(
      JSON.stringify(
        {
          machine: describeMachine(),
          settings: pollSettings(config),
          contacts: contactCount,
          backfillStatus: backfill.status,
          polls,
          statuses: [...new Set(calls.map((entry) => entry.status))],
          callsPerPollMin: Math.min(...perPoll),
          callsPerPollMax: Math.max(...perPoll),
          callsPerPollMean: perPoll.reduce((sum, value) => sum + value, 0) / polls,
          runRowCallsAgree: calls.every((entry) => entry.runRow === entry.simulator),
        },
        null,
        2,
      ),
    )
  } finally {
    await service.stop()
    await clients.close()
    await sim.close()
    await database.drop()
  }
}

await main()
