import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

import { loadConfig, type Config } from '../config.js'
import { deletePrefixedStreams } from '../events/streamCleanup.js'
import { findFreePort } from '../freePort.js'
import { createLogger } from '../logger.js'
import { startService, type ServiceHandles } from '../server.js'
import { startSimulator, type Simulator } from '../simulator/server.js'
import { runChangeStream } from './changeStream.js'
import { runFirstSync } from './firstSync.js'
import { startLeadEventPrinter, type EventCounts, type LeadEventPrinter, type PrintLine } from './leadEventPrinter.js'

export interface DemoOptions {
  /** Time budget of the whole demo from its start, in seconds; the change stream ends then. */
  seconds: number
  /** Seeded contacts in the simulated portal. */
  contacts: number
  seed: number
  /** Milliseconds between two contact changes. */
  changeIntervalMs: number
  /** Environment the service configuration is read from (DATABASE_URL, NATS_URL, LOG_LEVEL ...). */
  env: Record<string, string | undefined>
  print: PrintLine
  /** Aborting ends the demo early, with the same clean shutdown. */
  signal: AbortSignal
  /** Destination of the service's log lines (default: standard error). */
  logDestination?: NodeJS.WritableStream
}

export interface DemoSummary {
  integrationId: number | null
  firstSyncCreated: number
  changes: number
  events: EventCounts
}

/** Resources the demo started, closed in reverse order whatever happened. */
interface DemoParts {
  sim?: Simulator
  printer?: LeadEventPrinter
  service?: ServiceHandles
  config?: Config
  dataDir?: string
  /** The subject prefix the demo made up, whose streams it deletes at the end. */
  ownPrefix?: string
}

/**
 * Runs the demo: a simulated HubSpot portal, the service against it, an integration, its first
 * sync, then a stream of contact changes delivered as webhooks, printing every lead event that
 * reaches NATS. Everything listens on 127.0.0.1 and is stopped before the promise resolves.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const startedAtMs = Date.now()
  const parts: DemoParts = {}
  const summary: DemoSummary = { integrationId: null, firstSyncCreated: 0, changes: 0, events: {} }
  try {
    await startParts(parts, options)
    const { sim, service, printer } = parts as Required<DemoParts>
    summary.integrationId = await registerIntegration(service, sim, options.print)
    summary.events = printer.counts

    summary.firstSyncCreated = await runFirstSync({ service, printer, integrationId: summary.integrationId, ...options })
    if (options.signal.aborted) return summary

    options.print('\nStreaming HubSpot changes through webhooks (Ctrl-C stops):')
    const untilMs = startedAtMs + options.seconds * 1000
    summary.changes = await runChangeStream({
      sim,
      seed: options.seed,
      firstSeedIndex: options.contacts,
      intervalMs: options.changeIntervalMs,
      untilMs,
      signal: options.signal,
      print: options.print,
    })
    await settle(sim, printer, options)
    return summary
  } finally {
    await stopParts(parts, options.print)
    printSummary(summary, options.print)
  }
}

async function startParts(parts: DemoParts, options: DemoOptions): Promise<void> {
  const { print } = options
  const portalId = 10_000_000 + randomBytes(3).readUIntBE(0, 3)
  parts.sim = await startSimulator({ port: 0, host: '127.0.0.1', seed: options.seed, contacts: options.contacts, portalId })
  print(`HubSpot simulator: ${parts.sim.url}, portal ${portalId}, ${options.contacts} contacts (HubSpot's rate limits on)`)

  const config = await demoConfig(parts, options, parts.sim)
  parts.config = config
  print(config.DATABASE_URL ? 'Database: DATABASE_URL' : `Database: embedded PostgreSQL in ${config.DATA_DIR}`)
  parts.printer = await startLeadEventPrinter(config.NATS_URL, config.NATS_SUBJECT_PREFIX, print).catch((error) => {
    throw new Error(`NATS at ${config.NATS_URL} is not reachable: start nats-server with -js or set NATS_URL`, {
      cause: error,
    })
  })
  print(`NATS: ${config.NATS_URL}, subjects under "${config.NATS_SUBJECT_PREFIX}."`)

  const logger = createLogger(config.LOG_LEVEL, options.logDestination ?? process.stderr)
  parts.service = await startService(config, { logger })
  print(`Service: ${parts.service.url}`)
  parts.sim.webhooks.configure({
    targetUrl: config.WEBHOOK_PUBLIC_URL ?? '',
    clientSecret: parts.sim.oauth.clientSecret,
    // Retries after a failed delivery come within seconds rather than HubSpot's minutes.
    retryTimeScale: 0.001,
  })
}

async function demoConfig(parts: DemoParts, options: DemoOptions, sim: Simulator): Promise<Config> {
  const { env } = options
  if (!env.DATABASE_URL) parts.dataDir = await mkdtemp(path.join(tmpdir(), 'hubspot-sync-demo-'))
  if (!env.NATS_SUBJECT_PREFIX) parts.ownPrefix = `demo-${randomBytes(3).toString('hex')}`
  const servicePort = await findFreePort()

  return loadConfig({
    ...env,
    HOST: '127.0.0.1',
    PORT: String(servicePort),
    DATA_DIR: parts.dataDir ?? env.DATA_DIR,
    EMBEDDED_POSTGRES_PORT: String(await findFreePort()),
    NATS_SUBJECT_PREFIX: parts.ownPrefix ?? env.NATS_SUBJECT_PREFIX,
    HUBSPOT_API_URL: sim.url,
    HUBSPOT_CLIENT_SECRET: sim.oauth.clientSecret,
    WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${servicePort}/webhooks/hubspot`,
    API_TOKEN: randomBytes(24).toString('hex'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    SCHEDULER_ENABLED: 'false',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
  })
}

/** Registers the simulated portal through `POST /integrations`, as an operator would. */
async function registerIntegration(service: ServiceHandles, sim: Simulator, print: PrintLine): Promise<number> {
  const response = await fetch(`${service.url}/integrations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${service.config.API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ portalId: sim.portalId, name: 'Demo portal', accessToken: sim.privateAppToken }),
  })
  const body = (await response.json()) as { id?: number; message?: string }
  if (response.status !== 201 || typeof body.id !== 'number') {
    throw new Error(`POST /integrations failed with ${response.status}: ${body.message ?? 'no message'}`)
  }
  print(`Integration ${body.id} registered for portal ${sim.portalId}`)
  return body.id
}

/** Waits for the last webhooks to be delivered and their events to arrive, at most 10 s. */
async function settle(sim: Simulator, printer: LeadEventPrinter, options: DemoOptions): Promise<void> {
  if (options.signal.aborted) return
  const flushed = sim.webhooks.flush()
  const timeout = new Promise((resolve) => setTimeout(resolve, 5_000).unref())
  await Promise.race([flushed, timeout])
  // The inbox worker and the outbox relay run behind the webhook response, so wait until no
  // event has arrived for a second.
  await printer.waitForQuiet(1_000, 5_000)
}

async function stopParts(parts: DemoParts, print: PrintLine): Promise<void> {
  print('\nStopping ...')
  await parts.service?.stop().catch((error: unknown) => print(`  service stop failed: ${String(error)}`))
  await parts.printer?.close().catch(() => {})
  await parts.sim?.close().catch(() => {})
  if (parts.ownPrefix && parts.config) {
    await deletePrefixedStreams(parts.config.NATS_URL, parts.ownPrefix).catch(() => {})
  }
  if (parts.dataDir) await rm(parts.dataDir, { recursive: true, force: true })
}

function printSummary(summary: DemoSummary, print: PrintLine): void {
  const events = Object.entries(summary.events)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([subject, count]) => `${subject} ${count}`)
  print(`Summary: first sync created ${summary.firstSyncCreated} leads, ${summary.changes} HubSpot changes streamed`)
  print(`Events received: ${events.length > 0 ? events.join(', ') : 'none'}`)
}
