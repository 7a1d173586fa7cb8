/**
 * Webhook latency benchmark: time from a contact's creation in the simulated HubSpot
 * (whose webhook sender POSTs at once) to its leads.imported message on NATS, through the
 * receiver, the inbox, the worker's batch read, the import and the outbox relay.
 *
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/webhookLatency.ts
 *
 * Env: BENCH_DATABASE_ADMIN_URL, BENCH_NATS_URL (default nats://127.0.0.1:4222),
 * BENCH_CONTACTS (default 600), BENCH_RATE_PER_SECOND (default 30). Loopback only.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'

import { jetstreamManager } from '@nats-io/jetstream'
import { connect as natsConnect } from '@nats-io/transport-node'

import { buildApp } from '../src/app.js'
import { testConfig } from '../src/config.js'
import { insertIntegration } from '../src/db/integrations.js'
import { NatsManager } from '../src/events/nats.js'
import { findFreePort } from '../src/freePort.js'
import { startOutboxRelay } from '../src/events/relay.js'
import { createHubSpotClients } from '../src/hubspot/client.js'
import { createLogger } from '../src/logger.js'
import { startSimulator } from '../src/simulator/server.js'
import { startInboxWorker } from '../src/sync/inbox.js'
import { createBenchDatabase } from './benchSupport.js'

const natsUrl = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222'
const contactCount = Number(process.env.BENCH_CONTACTS ?? 600)
const ratePerSecond = Number(process.env.BENCH_RATE_PER_SECOND ?? 30)
const secret = 'bench-latency-secret'

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function main(): Promise<void> {
  const sim = await startSimulator({ contacts: 0, portalId: 515151 })
  const { sql, drop } = await createBenchDatabase('hs_bench_latency')
  const prefix = `bench${randomBytes(3).toString('hex')}`
  const port = await findFreePort()
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/hubspot`
  const config = testConfig({
    HUBSPOT_API_URL: sim.url,
    HUBSPOT_CLIENT_SECRET: secret,
    WEBHOOK_PUBLIC_URL: webhookUrl,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: prefix,
    LOG_LEVEL: 'warn',
  })
  const logger = createLogger('warn')
  const encryptionKey = randomBytes(32)
  await insertIntegration(sql, encryptionKey, {
    portalId: sim.portalId, name: 'bench', authType: 'private_app', credentials: { accessToken: sim.privateAppToken },
    accessTokenExpiresAt: null, actions: {}, burstPer10Seconds: null, ownerUserId: null,
  })

  const nats = new NatsManager({ url: natsUrl, subjectPrefix: prefix, logger })
  nats.start()
  await nats.waitUntilConnected(10_000)
  const app = buildApp({ config, sql, logger, nats, services: {} })
  await app.listen({ host: '127.0.0.1', port })
  const clients = createHubSpotClients({ config, sql, encryptionKey, logger })
  const worker = startInboxWorker({ sql, clients, logger, config })
  const relay = startOutboxRelay({ sql, nats, logger })
  sim.webhooks.configure({ targetUrl: webhookUrl, clientSecret: secret })

  const createdAt = new Map<number, number>()
  const latenciesMs: number[] = []
  const listener = await natsConnect({ servers: natsUrl })
  const subscription = listener.subscribe(`${prefix}.leads.imported`)
  const received = (async () => {
    for await (const message of subscription) {
      const contactId = (message.json() as { data: { hubspotContactId: number } }).data.hubspotContactId
      const started = createdAt.get(contactId)
      if (started !== undefined) latenciesMs.push(performance.now() - started)
      if (latenciesMs.length === contactCount) return
    }
  })()

  const intervalMs = 1000 / ratePerSecond
  const begin = performance.now()
  for (let i = 0; i < contactCount; i++) {
    const due = begin + i * intervalMs
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const started = performance.now()
    const contact = sim.contacts.create({ email: `lat${i}@example.com`, firstname: `L${i}` })
    createdAt.set(Number(contact.id), started)
  }
  // Waits at most 60 s for the last message, then reports what arrived.
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, 60_000)
  })
  await Promise.race([received, timeout])
  clearTimeout(timer)

  console.log(JSON.stringify({
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    settings: { contactCount, ratePerSecond },
    received: latenciesMs.length,
    p50Ms: percentile(latenciesMs, 50),
    p90Ms: percentile(latenciesMs, 90),
    p99Ms: percentile(latenciesMs, 99),
    maxMs: Math.max(...latenciesMs),
    webhookDeliveries: sim.webhooks.deliveries().length,
    hubspotRequests: sim.requestCounts(),
    failedDeliveries: sim.webhooks.deliveries().filter((d) => d.status !== 200).length,
  }, null, 2))

  subscription.unsubscribe()
  const jsm = await jetstreamManager(listener)
  for await (const stream of jsm.streams.list()) {
    if (stream.config.name.startsWith(`${prefix.toUpperCase()}_`)) await jsm.streams.delete(stream.config.name)
  }
  await listener.close()
  await worker.stop()
  await relay.stop()
  await app.close()
  await clients.close()
  await nats.close()
  await sim.close()
  await drop()
}

await main()
