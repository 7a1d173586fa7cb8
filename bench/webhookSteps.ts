/**
 * Times each step of the webhook receiver on the 100-event deliveries of
 * bench/webhookIngest.ts, and the PostgreSQL CPU time of the inbox insert against the bare
 * route's multi-row insert of the same events.
 *
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/webhookSteps.ts
 *
 * JavaScript steps: 200 distinct bodies, 2,000 warm-up calls, then BENCH_CALLS calls
 * (default 20,000) a step, in one process. The result is the mean time a delivery.
 * Insert: BENCH_INSERTS deliveries (default 2,000) a statement, one connection, in
 * BENCH_ROUNDS interleaved rounds (default 3); the CPU time of the PostgreSQL backend is
 * read from /proc, so PostgreSQL must run on this host. Env BENCH_DATABASE_ADMIN_URL.
 */
import { readFileSync } from 'node:fs'

import '../src/app.js'
import type { Sql } from '../src/db/connection.js'
import { insertWebhookEvents } from '../src/db/webhookEvents.js'
import { parseBatch, storableJson, toInboxRows } from '../src/http/routes/postHubspotWebhook.js'
import { computeSignatureV3, verifyWebhookSignature } from '../src/hubspot/signature.js'
import { createBenchDatabase, describeMachine, insertBareRows, webhookBatchBody } from './benchSupport.js'

const calls = Number(process.env.BENCH_CALLS ?? 20_000)
const inserts = Number(process.env.BENCH_INSERTS ?? 2_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const portalId = 424242
const secret = 'bench-client-secret'
const publicUrl = 'https://hooks.example.com/webhooks/hubspot'

/** Returns the mean microseconds of `step` over `calls` calls, after 2,000 warm-up calls. */
function timeStep(step: (index: number) => unknown): number {
  for (let index = 0; index < 2_000; index++) step(index % 200)
  const started = performance.now()
  for (let index = 0; index < calls; index++) step(index % 200)
  return ((performance.now() - started) / calls) * 1_000
}

function timeJavaScriptSteps() {
  const bodies = Array.from({ length: 200 }, (_, index) => webhookBatchBody(portalId, 1_000_000 + index * 100, 100))
  const buffers = bodies.map((body) => Buffer.from(body))
  const timestamp = String(Date.now())
  const signatures = buffers.map((rawBody) => computeSignatureV3({ secret, method: 'POST', uri: publicUrl, rawBody, timestamp }))
  const batches = bodies.map((body) => parseBatch(body))
  const known = new Set([portalId])

  const microseconds = {
    signature: timeStep((index) =>
      verifyWebhookSignature({
        secret,
        method: 'POST',
        publicUri: publicUrl,
        rawBody: buffers[index],
        headers: { 'x-hubspot-signature-v3': signatures[index], 'x-hubspot-request-timestamp': timestamp },
        maxAgeMs: 300_000,
        acceptV1: false,
        nowMs: Number(timestamp),
      }),
    ),
    jsonParse: timeStep((index) => JSON.parse(bodies[index])),
    parseAndCheckEvents: timeStep((index) => parseBatch(bodies[index])),
    storableJson: timeStep((index) => storableJson(bodies[index], batches[index].elements)),
    inboxRows: timeStep((index) => toInboxRows(batches[index].events, known)),
  }
  return { bodyBytes: buffers[0].length, microsecondsPerDelivery: microseconds }
}

/** Returns the CPU time, in ms, that the process `pid` has used (utime + stime, 10 ms ticks). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function bareInsert(sql: Sql, body: string): Promise<void> {
  await insertBareRows(sql, JSON.parse(body) as Record<string, unknown>[])
}

async function serviceInsert(sql: Sql, body: string): Promise<void> {
  const batch = parseBatch(body)
  const storable = storableJson(body, batch.elements)
  await insertWebhookEvents(sql, storable.json, toInboxRows(batch.events, new Set([portalId])), false)
}

async function timeInserts() {
  const database = await createBenchDatabase('hs_bench_steps')
  try {
    // One reserved connection, so every statement runs in the backend whose CPU time is read.
    const connection = await database.sql.reserve()
    const sql = connection as unknown as Sql
    const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`
    const statements = { bare: bareInsert, service: serviceInsert }
    const cpuMs: Record<string, number[]> = { bare: [], service: [] }
    let nextObjectId = 1_000_000
    for (let round = 0; round < rounds; round++) {
      for (const [name, insert] of Object.entries(statements)) {
        await sql`truncate webhook_events`
        const bodies = Array.from({ length: inserts }, () => {
          nextObjectId += 100
          return webhookBatchBody(portalId, nextObjectId, 100)
        })
        const before = processCpuMs(pid)
        for (const body of bodies) await insert(sql, body)
        cpuMs[name].push((processCpuMs(pid) - before) / inserts)
      }
    }
    connection.release()
    return { postgresCpuMsPerDelivery: cpuMs }
  } finally {
    await database.drop()
  }
}

console.log(
  JSON.stringify(
    { machine: describeMachine(), settings: { calls, inserts, rounds }, ...timeJavaScriptSteps(), ...(await timeInserts()) },
    null,
    2,
  ),
)
