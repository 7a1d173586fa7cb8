/**
 * Lead actions benchmark: 10,000 new leads with all four actions enabled (round-robin
 * assignment, analysis, notification, sequence). The leads.imported messages are published
 * to JetStream first; the timed part is the consumer draining them: per lead one
 * transaction with four lead_actions records, the assignment and four outbox events.
 *
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/actions.ts
 *
 * Env: BENCH_DATABASE_ADMIN_URL (default postgres://root@127.0.0.1:5432/postgres),
 * BENCH_NATS_URL (default nats://127.0.0.1:4222), BENCH_LEADS (default 10000),
 * BENCH_CONCURRENCY (comma-separated settings to try, default 1,8,32),
 * BENCH_CONSUMERS (instances sharing the durable consumer, default 1), BENCH_STRATEGY
 * (assignment strategy, round_robin (default) or team). Loopback only.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'

import { jetstream, jetstreamManager } from '@nats-io/jetstream'

import { startActionsConsumer } from '../src/actions/consumer.js'
import { testConfig } from '../src/config.js'
import { connect, type Sql } from '../src/db/connection.js'
import { insertIntegration } from '../src/db/integrations.js'
import { migrate } from '../src/db/migrate.js'
import { buildLeadImportedEvent } from '../src/events/leadEvents.js'
import { NatsManager } from '../src/events/nats.js'
import { Subject } from '../src/events/subjects.js'
import { createLogger } from '../src/logger.js'

const adminUrl = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres'
const natsUrl = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222'
const leadCount = Number(process.env.BENCH_LEADS ?? 10_000)
const concurrencies = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number)
const consumerCount = Number(process.env.BENCH_CONSUMERS ?? 1)
const strategy = process.env.BENCH_STRATEGY ?? 'round_robin'
const logger = createLogger('warn')

const actions = {
  assign:
    strategy === 'team'
      ? { enabled: true, strategy: 'team', teamId: 'emea-sales' }
      : { enabled: true, strategy: 'round_robin', userIds: [101, 102, 103] },
  analyze: { enabled: true, instructions: 'Summarise company fit and buying intent' },
  notify: { enabled: true, channel: 'slack', recipients: ['#new-leads'] },
  sequence: { enabled: true, sequenceId: 'onboarding-2026' },
}

interface RoundResult {
  strategy: string
  concurrency: number
  consumers: number
  leads: number
  seconds: number
  leadsPerSecond: number
  actionsPerSecond: number
}

async function insertLeads(sql: Sql, integrationId: number): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    insert into leads (
      integration_id, hubspot_contact_id, email, first_name, company, lifecycle_stage,
      hubspot_updated_at, content_hash, import_actions
    )
    select ${integrationId}, 10000000000 + n, 'lead' || n || '@example.com', 'Ada', 'Acme', 'lead',
           now(), 'hash', ${actions as never}::jsonb
    from generate_series(1, ${leadCount}) as n
    returning id
  `
  return rows.map((row) => row.id)
}

/** Publishes every lead's leads.imported event, pipelined in chunks. */
async function publishAll(nats: NatsManager, sql: Sql, leadIds: number[], portalId: number): Promise<void> {
  const js = jetstream(nats.connection()!)
  const leads = await sql`select * from leads where id = any(${leadIds}::bigint[]) order by id`
  for (let start = 0; start < leads.length; start += 500) {
    const chunk = leads.slice(start, start + 500).map((row) => {
      const lead = {
        id: row.id,
        integrationId: row.integration_id,
        hubspotContactId: row.hubspot_contact_id,
        email: row.email,
        firstName: row.first_name,
        lastName: null,
        phone: null,
        company: row.company,
        jobTitle: null,
        lifecycleStage: row.lifecycle_stage,
        hubspotOwnerId: null,
        hubspotCreatedAt: null,
        hubspotUpdatedAt: row.hubspot_updated_at,
        contentHash: row.content_hash,
      }
      const event = buildLeadImportedEvent(lead, { portalId, origin: 'poll' })
      return js.publish(nats.subject(Subject.leadsImported), JSON.stringify(event), { msgID: event.id })
    })
    await Promise.all(chunk)
  }
}

async function recordCount(sql: Sql): Promise<number> {
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from lead_actions`
  return row.count
}

async function runRound(concurrency: number): Promise<RoundResult> {
  const dbName = `hs_bench_actions_${randomBytes(4).toString('hex')}`
  const admin = connect(adminUrl, { maxConnections: 1 })
  await admin.unsafe(`create database ${dbName}`)
  const url = new URL(adminUrl)
  url.pathname = `/${dbName}`
  const sql = connect(url.toString(), { maxConnections: 10 })
  const prefix = `bench${randomBytes(3).toString('hex')}`
  const nats = new NatsManager({ url: natsUrl, subjectPrefix: prefix, logger })
  try {
    await migrate(sql)
    nats.start()
    if (!(await nats.waitUntilConnected(10_000))) throw new Error(`NATS at ${natsUrl} is not reachable`)
    const integration = await insertIntegration(sql, randomBytes(32), {
      portalId: 4242,
      name: 'bench',
      authType: 'private_app',
      credentials: { accessToken: 'bench' },
      accessTokenExpiresAt: null,
      actions,
      burstPer10Seconds: null,
      ownerUserId: null,
    })
    const leadIds = await insertLeads(sql, integration.id)
    await publishAll(nats, sql, leadIds, integration.portalId)

    const config = testConfig({ LOG_LEVEL: 'warn' })
    const started = performance.now()
    const consumers = Array.from({ length: consumerCount }, () =>
      startActionsConsumer({ sql, nats, logger, config, concurrency }),
    )
    while ((await recordCount(sql)) < leadCount * 4) await new Promise((r) => setTimeout(r, 50))
    const seconds = (performance.now() - started) / 1000
    await Promise.all(consumers.map((consumer) => consumer.stop()))

    if (strategy === 'round_robin') await checkFairness(sql)
    return {
      strategy,
      concurrency,
      consumers: consumerCount,
      leads: leadCount,
      seconds: round(seconds),
      leadsPerSecond: round(leadCount / seconds),
      actionsPerSecond: round((leadCount * 4) / seconds),
    }
  } finally {
    await deleteStreams(nats, prefix)
    await nats.close()
    await sql.end({ timeout: 5 })
    await admin.unsafe(`drop database if exists ${dbName} with (force)`)
    await admin.end()
  }
}

/** Fails the run if round robin lost its balance under concurrency. */
async function checkFairness(sql: Sql): Promise<void> {
  const rows = await sql<{ leads: number }[]>`
    select count(*)::int as leads from leads group by assigned_user_id
  `
  const counts = rows.map((row) => row.leads)
  if (Math.max(...counts) - Math.min(...counts) > 1) throw new Error(`unfair assignment: ${counts.join(', ')}`)
}

async function deleteStreams(nats: NatsManager, prefix: string): Promise<void> {
  const nc = nats.connection()
  if (!nc) return
  const jsm = await jetstreamManager(nc)
  for await (const stream of jsm.streams.list()) {
    if (stream.config.name.startsWith(`${prefix.toUpperCase()}_`)) await jsm.streams.delete(stream.config.name)
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}

const results: RoundResult[] = []
for (const concurrency of concurrencies) results.push(await runRound(concurrency))
console.log(
  JSON.stringify(
    {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      results,
    },
    null,
    2,
  ),
)
process.exit(0)
