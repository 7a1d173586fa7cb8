/**
 * Scaling benchmark: how the cost of a first sync (backfill) grows from 10,000 to 1,000,000
 * contacts. For each size it seeds a simulator, starts the compiled service as a child process
 * against a fresh database on the local PostgreSQL and the local NATS, registers the portal
 * through the admin API, starts a manual sync and measures:
 *   - wall time of the run (its own startedAt..finishedAt) and until the outbox is drained,
 *     so every leads.imported event has reached JetStream;
 *   - HubSpot API calls the simulator received;
 *   - resident memory of the service process read from /proc/PID/status every 100 ms
 *     (VmRSS) and the kernel's peak (VmHWM), and its CPU seconds from /proc/PID/stat.
 *
 * Rate limits are off on both sides (the simulator's, and the client's own budget raised to
 * 1,000,000 calls per 10 s), so the numbers show the service's own cost, not HubSpot's limits.
 * The actions consumer is off (no integration has actions). PostgreSQL's and NATS's memory
 * are not counted. Loopback only.
 *
 *   npm run build
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/scale.ts 10000,100000
 */
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'


import { deletePrefixedStreams } from '../src/events/streamCleanup.js'
import { startSimulator } from '../src/simulator/server.js'
import { describeMachine } from './benchSupport.js'
import {
  callService,
  createScaleDatabase,
  readCpuSeconds,
  readMemoryMiB,
  startServiceProcess,
  type ScaleDatabase,
  type ServiceProcess,
} from './scaleService.js'

const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const sizes = (process.argv[2] ?? '10000,100000,1000000').split(',').map(Number)
/** A size whose backfill and outbox drain take longer than this is stopped and reported as such. */
const maxMinutesPerSize = Number(process.env.BENCH_MAX_MINUTES ?? 45)

interface ScaleResult {
  contacts: number
  runStatus: string
  runSeconds: number
  drainedSeconds: number | null
  hubspotCalls: number
  pages: number
  leads: number
  idleRssMiB: number
  maxRssMiB: number
  peakRssMiB: number
  cpuSeconds: number
}

async function measureSize(contacts: number): Promise<ScaleResult> {
  const seedStartMs = Date.now()
  const sim = await startSimulator({ port: 0, seed: 1, contacts, options: { rateLimits: { enabled: false } } })
  console.error(`seeded ${contacts} contacts in ${((Date.now() - seedStartMs) / 1000).toFixed(1)} s`)
  const database = await createScaleDatabase()
  const prefix = `scale${process.pid}x${randomBytes(2).toString('hex')}`
  const databaseUrl = database.url
  let service: ServiceProcess | null = null
  try {
    service = await startServiceProcess(
      {
        DATABASE_URL: databaseUrl,
        NATS_URL: natsUrl,
        NATS_SUBJECT_PREFIX: prefix,
        HUBSPOT_API_URL: sim.url,
        HUBSPOT_BURST_PER_10_SECONDS: '1000000',
        ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        SCHEDULER_ENABLED: 'false',
        ACTIONS_ENABLED: 'false',
        LOG_LEVEL: 'warn',
      },
      path.join(tmpdir(), `hubspot-sync-scale-${contacts}.log`),
    )
    return await measureBackfill(service, sim, database.sql, contacts)
  } finally {
    await service?.stop()
    await deletePrefixedStreams(natsUrl, prefix)
    await database.drop()
    await sim.close()
  }
}

async function measureBackfill(
  service: ServiceProcess,
  sim: Awaited<ReturnType<typeof startSimulator>>,
  sql: ScaleDatabase['sql'],
  contacts: number,
): Promise<ScaleResult> {
  const pid = service.child.pid as number
  const integration = await callService(service, 'POST', '/integrations', {
    portalId: sim.portalId,
    accessToken: sim.privateAppToken,
  })
  const idle = readMemoryMiB(pid)
  const cpuBefore = readCpuSeconds(pid)
  sim.resetRequestCounts()

  let maxRssMiB = idle?.rss ?? 0
  const sampler = setInterval(() => {
    maxRssMiB = Math.max(maxRssMiB, readMemoryMiB(pid)?.rss ?? 0)
  }, 100)
  try {
    const startedAtMs = Date.now()
    const deadlineMs = startedAtMs + maxMinutesPerSize * 60_000
    const started = await callService(service, 'POST', `/sync/${integration.id}`)
    const run = await waitForRun(service, started.runId, deadlineMs)
    const drainedAtMs = await waitForDrain(sql, deadlineMs)

    const [{ count: leads }] = await sql<{ count: number }[]>`select count(*)::int as count from leads`
    const runSeconds = (Date.parse(run.finishedAt ?? new Date().toISOString()) - Date.parse(run.startedAt)) / 1000
    return {
      contacts,
      runStatus: run.status,
      runSeconds,
      drainedSeconds: drainedAtMs === null ? null : (drainedAtMs - startedAtMs) / 1000,
      hubspotCalls: sim.requestCounts().total,
      pages: run.pages,
      leads,
      idleRssMiB: idle?.rss ?? 0,
      maxRssMiB,
      peakRssMiB: readMemoryMiB(pid)?.peak ?? 0,
      cpuSeconds: readCpuSeconds(pid) - cpuBefore,
    }
  } finally {
    clearInterval(sampler)
  }
}

async function waitForRun(service: ServiceProcess, runId: number, deadlineMs: number) {
  while (Date.now() < deadlineMs) {
    const run = await callService(service, 'GET', `/sync-runs/${runId}`)
    if (run.status !== 'running') return run
    await delay(500)
  }
  throw new Error(`run ${runId} did not finish within ${maxMinutesPerSize} minutes`)
}

/** Returns when every outbox row is published, or null at the deadline. */
async function waitForDrain(sql: ScaleDatabase['sql'], deadlineMs: number) {
  while (Date.now() < deadlineMs) {
    const [{ count }] = await sql<{ count: number }[]>`
      select count(*)::int as count
      from outbox
      where published_at is null
    `
    if (count === 0) return Date.now()
    await delay(250)
  }
  return null
}

function formatRow(result: ScaleResult): string {
  const perSecond = Math.round(result.contacts / result.runSeconds)
  const drained = result.drainedSeconds === null ? 'not drained' : `${result.drainedSeconds.toFixed(1)} s`
  return [
    result.contacts.toLocaleString('en-US'),
    `${result.runSeconds.toFixed(1)} s (${perSecond.toLocaleString('en-US')}/s)`,
    drained,
    result.hubspotCalls.toLocaleString('en-US'),
    result.cpuSeconds.toFixed(1),
    result.idleRssMiB.toFixed(0),
    result.maxRssMiB.toFixed(0),
    result.peakRssMiB.toFixed(0),
  ].join(' | ')
}

async function main(): Promise<void> {
  console.log(`machine: ${describeMachine()}`)
  console.log('| contacts | backfill run | until outbox drained | HubSpot calls | service CPU s | idle RSS MiB | max sampled RSS MiB | VmHWM MiB |')
  for (const contacts of sizes) {
    const result = await measureSize(contacts)
    console.log(`| ${formatRow(result)} |`)
    console.error(JSON.stringify(result))
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
