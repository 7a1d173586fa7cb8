/**
 * Webhook ingest benchmark: signed 100-event batches against `POST /webhooks/hubspot`
 * (signature check, schema check, dedup keys, one inbox insert) and against a bare
 * Fastify route that parses the JSON and does one multi-row insert of the same rows.
 *
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/webhookIngest.ts
 *
 * Env: BENCH_DATABASE_ADMIN_URL (default postgres://root@127.0.0.1:5432/postgres),
 * BENCH_SECONDS per round (default 3), BENCH_ROUNDS (default 8; rounds alternate between the
 * two servers, so a change in background load hits both alike), BENCH_CONNECTIONS
 * (default 10, HubSpot's default in-flight limit per portal). Loopback only.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { isMainThread, parentPort, Worker } from 'node:worker_threads'

import Fastify, { type FastifyInstance } from 'fastify'
import { Pool } from 'undici'

import { buildApp } from '../src/app.js'
import { testConfig } from '../src/config.js'
import { connect, type Sql } from '../src/db/connection.js'
import { insertIntegration } from '../src/db/integrations.js'
import { migrate } from '../src/db/migrate.js'
import { NatsManager } from '../src/events/nats.js'
import { computeSignatureV3 } from '../src/hubspot/signature.js'
import { createLogger } from '../src/logger.js'
import { insertBareRows, webhookBatchBody } from './benchSupport.js'

const adminUrl = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres'
const roundSeconds = Number(process.env.BENCH_SECONDS ?? 3)
const rounds = Number(process.env.BENCH_ROUNDS ?? 8)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10)
const secret = 'bench-client-secret'
const publicUrl = 'https://hooks.example.com/webhooks/hubspot'
const portalId = 424242
const eventsPerBatch = 100

interface RoundResult {
  requests: number
  seconds: number
  latenciesMs: number[]
  errors: number
  /** Busy time of the main thread (which runs both servers) during the round. */
  serverBusyMs?: number
}

// Ids only grow across rounds, so no round sends an event another round stored.
let nextObjectId = 1_000_000
function batchBody(): string {
  const body = webhookBatchBody(portalId, nextObjectId, eventsPerBatch)
  nextObjectId += eventsPerBatch
  return body
}

function signedHeaders(body: string): Record<string, string> {
  const timestamp = String(Date.now())
  const signature = computeSignatureV3({ secret, method: 'POST', uri: publicUrl, rawBody: Buffer.from(body), timestamp })
  return {
    'content-type': 'application/json',
    'x-hubspot-signature-v3': signature,
    'x-hubspot-request-timestamp': timestamp,
  }
}

/** The comparison point: the default JSON parser and one insert of the same columns. */
function buildBareApp(sql: Sql): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 })
  app.post('/webhooks/hubspot', async (request) => {
    const events = request.body as Record<string, unknown>[]
    await insertBareRows(sql, events)
    return { received: events.length }
  })
  return app
}

/**
 * The load generator runs in a worker thread, so building and signing bodies (HubSpot's
 * work) does not compete with the server under test for the main event loop.
 */
let loadWorker: Worker | null = null

function runRound(url: string, signed: boolean): Promise<RoundResult> {
  loadWorker ??= new Worker(new URL(import.meta.url))
  const worker = loadWorker
  const before = performance.eventLoopUtilization()
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    worker.once('error', onError)
    worker.once('message', (result: RoundResult) => {
      worker.off('error', onError)
      const used = performance.eventLoopUtilization(before)
      resolve({ ...result, serverBusyMs: used.active })
    })
    worker.postMessage({ url, signed })
  })
}

async function loadRound(url: string, signed: boolean): Promise<RoundResult> {
  const pool = new Pool(url, { connections, pipelining: 1 })
  const latenciesMs: number[] = []
  let errors = 0
  const deadline = Date.now() + roundSeconds * 1000
  const started = performance.now()
  async function client(): Promise<void> {
    while (Date.now() < deadline) {
      const body = batchBody()
      const headers = signed ? signedHeaders(body) : { 'content-type': 'application/json' }
      const t0 = performance.now()
      const response = await pool.request({ method: 'POST', path: '/webhooks/hubspot', headers, body })
      await response.body.dump()
      latenciesMs.push(performance.now() - t0)
      if (response.statusCode !== 200) errors++
    }
  }
  await Promise.all(Array.from({ length: connections }, client))
  const seconds = (performance.now() - started) / 1000
  await pool.close()
  return { requests: latenciesMs.length, seconds, latenciesMs, errors }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function summarize(name: string, results: RoundResult[]) {
  const requests = results.reduce((sum, r) => sum + r.requests, 0)
  const seconds = results.reduce((sum, r) => sum + r.seconds, 0)
  const latencies = results.flatMap((r) => r.latenciesMs)
  const busyMs = results.reduce((sum, r) => sum + (r.serverBusyMs ?? 0), 0)
  return {
    name,
    serverBusyMsPerBatch: busyMs / requests,
    batchesPerSecond: requests / seconds,
    eventsPerSecond: (requests * eventsPerBatch) / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    requests,
  }
}

async function main(): Promise<void> {
  const dbName = `hs_bench_${randomBytes(4).toString('hex')}`
  const admin = connect(adminUrl, { maxConnections: 1 })
  await admin.unsafe(`create database ${dbName}`)
  const url = new URL(adminUrl)
  url.pathname = `/${dbName}`
  const sql = connect(url.toString(), { maxConnections: 10 })
  try {
    await migrate(sql)
    await insertIntegration(sql, randomBytes(32), {
      portalId, name: 'bench', authType: 'private_app', credentials: { accessToken: 'x' },
      accessTokenExpiresAt: null, actions: {}, burstPer10Seconds: null, ownerUserId: null,
    })
    const logger = createLogger('warn')
    const config = testConfig({ HUBSPOT_CLIENT_SECRET: secret, WEBHOOK_PUBLIC_URL: publicUrl, LOG_LEVEL: 'warn' })
    const nats = new NatsManager({ url: 'nats://127.0.0.1:4222', subjectPrefix: 'bench', logger })
    const service = buildApp({ config, sql, logger, nats, services: {} })
    const bare = buildBareApp(sql)
    const serviceUrl = await service.listen({ host: '127.0.0.1', port: 0 })
    const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 })

    await runRound(bareUrl, false) // warm-up, discarded
    await runRound(serviceUrl, true)
    const bareResults: RoundResult[] = []
    const serviceResults: RoundResult[] = []
    for (let round = 0; round < rounds; round++) {
      await sql`truncate webhook_events`
      bareResults.push(await runRound(bareUrl, false))
      await sql`truncate webhook_events`
      serviceResults.push(await runRound(serviceUrl, true))
    }
    const bareSummary = summarize('bare Fastify route (parse + one insert)', bareResults)
    const serviceSummary = summarize('POST /webhooks/hubspot', serviceResults)
    const [stored] = await sql<{ count: number }[]>`select count(*)::int as count from webhook_events`
    console.log(JSON.stringify({
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      settings: { roundSeconds, rounds, connections, eventsPerBatch },
      bare: bareSummary,
      service: serviceSummary,
      throughputRatio: serviceSummary.batchesPerSecond / bareSummary.batchesPerSecond,
      lastRoundRowsStored: stored.count,
    }, null, 2))
    await loadWorker?.terminate()
    await service.close()
    await bare.close()
  } finally {
    await sql.end({ timeout: 5 })
    await admin.unsafe(`drop database if exists ${dbName} with (force)`)
    await admin.end()
  }
}

if (isMainThread) {
  await main()
} else {
  parentPort?.on('message', async ({ url, signed }: { url: string; signed: boolean }) => {
    parentPort?.postMessage(await loadRound(url, signed))
  })
}
