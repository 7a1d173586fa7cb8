// Import service benchmark: 50,000 contacts through importContacts, against row-by-row
// upsert baselines and a COPY ceiling, each on an empty leads table, on a database this
// script creates and drops. Run: npm run bench:import (BENCH_RUNS, BENCH_BASELINE_RUNS,
// BENCH_CONTACTS, BENCH_BATCH_SIZE, BENCH_PER_CONTACT_CONTACTS and BENCH_DATABASE_ADMIN_URL
// override the defaults). The methods run in interleaved rounds, and each method's line
// shows the range of 1-minute load averages during its runs, because the machine may be shared.
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

import { connect, type Sql, type TransactionSql } from '../src/db/connection.js'
import { insertIntegration, type Integration } from '../src/db/integrations.js'
import { migrate } from '../src/db/migrate.js'
import type { HubSpotContact } from '../src/hubspot/types.js'
import { importContacts } from '../src/sync/import.js'
import { toUpsertRow } from '../src/sync/importPlan.js'
import { mapContact, type MappedContact } from '../src/sync/mapping.js'
import { buildLeadImportedEvent, buildLeadUpdatedEvent } from '../src/events/leadEvents.js'
import { toLead, type LeadRow } from '../src/db/leads.js'

const adminUrl =
  process.env.BENCH_DATABASE_ADMIN_URL ??
  process.env.TEST_DATABASE_ADMIN_URL ??
  'postgres://root@127.0.0.1:5432/postgres'
const contactCount = Number(process.env.BENCH_CONTACTS ?? 50_000)
const runs = Number(process.env.BENCH_RUNS ?? 5)
const baselineRuns = Number(process.env.BENCH_BASELINE_RUNS ?? 3)
// HubSpot's list and search endpoints return at most 100 and 200 contacts a page.
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 200)
// The baselines with one commit per contact run on every contact by default.
const perContactContacts = Math.min(
  Number(process.env.BENCH_PER_CONTACT_CONTACTS ?? contactCount),
  contactCount,
)

type Method = (sql: Sql, integration: Integration, contacts: HubSpotContact[]) => Promise<void>

function generateContacts(count: number): HubSpotContact[] {
  const base = Date.parse('2024-01-01T00:00:00.000Z')
  return Array.from({ length: count }, (_, index) => {
    const id = String(100_000_000_000 + index)
    const updatedAt = new Date(base + index * 1000).toISOString()
    return {
      id,
      createdAt: new Date(base).toISOString(),
      updatedAt,
      archived: false,
      properties: {
        email: `contact${index}@example${index % 97}.com`,
        firstname: `First${index}`,
        lastname: `Last ${index} 😀`,
        phone: index % 3 === 0 ? '' : `+1 555 ${String(index).padStart(7, '0')}`,
        mobilephone: `+1 666 ${String(index).padStart(7, '0')}`,
        company: `Company ${index % 1000}`,
        jobtitle: index % 5 === 0 ? null : 'Engineer',
        lifecyclestage: 'lead',
        hubspot_owner_id: String(1000 + (index % 20)),
        hs_lead_status: 'NEW',
        website: `https://example${index % 97}.com`,
        city: 'Berlin',
        state: null,
        country: 'Germany',
        createdate: new Date(base).toISOString(),
        lastmodifieddate: updatedAt,
        hs_object_id: id,
      },
    }
  })
}

function pages<T>(items: T[], size: number): T[][] {
  const result: T[][] = []
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size))
  return result
}

const importService: Method = async (sql, integration, contacts) => {
  for (const page of pages(contacts, batchSize)) {
    await importContacts(sql, { integration, origin: 'backfill', contacts: page })
  }
}

/** The same work with one upsert and one outbox insert per contact, one transaction a page. */
const rowByRow: Method = async (sql, integration, contacts) => {
  for (const page of pages(contacts, batchSize)) {
    await sql.begin(async (tx) => {
      for (const item of page) await upsertOneContact(tx, integration, item)
    })
  }
}

/** Runs the same two statements as a naive job with events would: one transaction per contact. */
const rowByRowPerContact: Method = async (sql, integration, contacts) => {
  for (const item of contacts) {
    await sql.begin((tx) => upsertOneContact(tx, integration, item))
  }
}

/**
 * Runs one upsert per contact outside any transaction, as a naive job without events would,
 * so each statement commits on its own. It queues no outbox rows and so does less work than
 * the import service.
 */
const upsertAutocommit: Method = async (sql, integration, contacts) => {
  for (const item of contacts) await upsertOneLead(sql, integration, item)
}

/**
 * Maps one contact, upserts its lead with the service's newer-wins condition and queues
 * leads.imported or leads.updated for a written row, one statement each.
 */
async function upsertOneContact(tx: TransactionSql, integration: Integration, item: HubSpotContact) {
  const lead = await upsertOneLead(tx, integration, item)
  if (!lead) return
  const context = { portalId: integration.portalId, origin: 'backfill' } as const
  const event = lead.inserted
    ? buildLeadImportedEvent(toLead(lead), context)
    : buildLeadUpdatedEvent(toLead(lead), context)
  await tx`
    insert into outbox (event_id, subject, payload)
    values (${event.id}, ${event.type}, ${event as never}::jsonb)
    on conflict (event_id) do nothing
  `
}

/** Maps one contact and upserts its lead in one statement. Returns the written row, or undefined. */
async function upsertOneLead(sql: Sql | TransactionSql, integration: Integration, item: HubSpotContact) {
  const mapped = mapContact(item)
  if (!mapped.ok) return undefined
  const row = toUpsertRow(mapped.contact)
  const [lead] = await sql<(LeadRow & { inserted: boolean })[]>`
    insert into leads (
      integration_id, hubspot_contact_id, email, first_name, last_name, phone, company,
      job_title, lifecycle_stage, hubspot_owner_id, properties, hubspot_created_at,
      hubspot_updated_at, content_hash, import_actions
    ) values (
      ${integration.id}, ${row.hubspot_contact_id}, ${row.email}, ${row.first_name},
      ${row.last_name}, ${row.phone}, ${row.company}, ${row.job_title}, ${row.lifecycle_stage},
      ${row.hubspot_owner_id}, ${row.properties as never}::jsonb, ${row.hubspot_created_at},
      ${row.hubspot_updated_at}, ${row.content_hash}, ${integration.actions as never}::jsonb
    )
    on conflict (integration_id, hubspot_contact_id) do update set
      email = excluded.email, first_name = excluded.first_name, last_name = excluded.last_name,
      phone = excluded.phone, company = excluded.company, job_title = excluded.job_title,
      lifecycle_stage = excluded.lifecycle_stage, hubspot_owner_id = excluded.hubspot_owner_id,
      properties = excluded.properties, hubspot_created_at = excluded.hubspot_created_at,
      hubspot_updated_at = excluded.hubspot_updated_at, content_hash = excluded.content_hash,
      updated_at = now()
    where excluded.hubspot_updated_at >= leads.hubspot_updated_at
      and excluded.content_hash <> leads.content_hash
    returning *, (xmax = 0) as inserted
  `
  return lead
}

/**
 * The floor of the cost: the same mapping in JavaScript, then every lead and outbox row in
 * one COPY each, with no conflict handling and no returned rows.
 */
const copyCeiling: Method = async (sql, integration, contacts) => {
  const mapped = contacts.map(mapContact).flatMap((result) => (result.ok ? [result.contact] : []))
  const actions = JSON.stringify(integration.actions)
  await sql.begin(async (tx) => {
    const leads = await tx`
      copy leads (
        integration_id, hubspot_contact_id, email, first_name, last_name, phone, company, job_title,
        lifecycle_stage, hubspot_owner_id, properties, hubspot_created_at, hubspot_updated_at,
        content_hash, import_actions
      ) from stdin
    `.writable()
    await pipeline(Readable.from(leadLines(integration.id, mapped, actions)), leads)

    const ids = await tx<LeadRow[]>`select * from leads where integration_id = ${integration.id}`
    const outbox = await tx`copy outbox (event_id, subject, payload) from stdin`.writable()
    await pipeline(Readable.from(outboxLines(integration, ids)), outbox)
  })
}

function* leadLines(integrationId: number, contacts: MappedContact[], actions: string) {
  for (const c of contacts) {
    yield copyLine([
      integrationId, c.contactId, c.email, c.firstName, c.lastName, c.phone, c.company, c.jobTitle,
      c.lifecycleStage, c.hubspotOwnerId, JSON.stringify(c.properties), c.hubspotCreatedAt?.toISOString() ?? null,
      c.hubspotUpdatedAt.toISOString(), c.contentHash, actions,
    ])
  }
}

function* outboxLines(integration: Integration, rows: LeadRow[]) {
  for (const row of rows) {
    const event = buildLeadImportedEvent(toLead(row), { portalId: integration.portalId, origin: 'backfill' })
    yield copyLine([event.id, event.type, JSON.stringify(event)])
  }
}

/** One line of COPY's text format: tab-separated, \N for null, backslash escapes. */
function copyLine(values: (string | number | null)[]): string {
  const cells = values.map((value) => {
    if (value === null) return '\\N'
    return String(value).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
  })
  return cells.join('\t') + '\n'
}

async function reset(sql: Sql): Promise<void> {
  await sql`truncate leads, outbox cascade`
  await sql`vacuum analyze leads`
  await sql`vacuum analyze outbox`
}

/** One method as the rounds run it. */
interface MethodRun {
  name: string
  method: Method
  contacts: HubSpotContact[]
  /** Rounds that include this method. */
  times: number
  /** Outbox rows the method must leave behind. */
  expectedEvents: number
  /** Whether it runs on the table the previous method left, instead of an emptied one. */
  keepTable?: boolean
}

interface Timing {
  seconds: number[]
  /** Seconds per contact, by round, so ratios can be taken within one round. */
  perContactByRound: Map<number, number>
  /** Lowest and highest 1-minute load average seen at the start and end of its runs. */
  load: [number, number]
}

/**
 * Runs every method once per round, so a change in background load on a shared machine
 * falls on all of them alike. A method takes part in its first `times` rounds.
 */
async function measureRounds(sql: Sql, integration: Integration, methods: MethodRun[]) {
  const timings = new Map<string, Timing>(
    methods.map((entry) => [entry.name, { seconds: [], perContactByRound: new Map(), load: [Infinity, 0] }]),
  )
  const rounds = Math.max(...methods.map((entry) => entry.times))
  for (let round = 0; round < rounds; round++) {
    for (const entry of methods) {
      if (round >= entry.times) continue
      const timing = timings.get(entry.name) as Timing
      if (!entry.keepTable) await reset(sql)
      noteLoad(timing)
      const started = process.hrtime.bigint()
      await entry.method(sql, integration, entry.contacts)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      noteLoad(timing)
      timing.seconds.push(seconds)
      timing.perContactByRound.set(round, seconds / entry.contacts.length)
      await checkCounts(sql, entry.contacts.length, entry.expectedEvents)
      console.error(`round ${round + 1}: ${entry.name} ${seconds.toFixed(2)} s, load ${os.loadavg()[0].toFixed(1)}`)
    }
  }
  return timings
}

function noteLoad(timing: Timing): void {
  const load = os.loadavg()[0]
  timing.load = [Math.min(timing.load[0], load), Math.max(timing.load[1], load)]
}

async function checkCounts(sql: Sql, expectedLeads: number, expectedEvents: number): Promise<void> {
  const [row] = await sql<{ leads: number; events: number }[]>`
    select (select count(*)::int from leads) as leads, (select count(*)::int from outbox) as events
  `
  if (row.leads !== expectedLeads || row.events !== expectedEvents) {
    throw new Error(
      `expected ${expectedLeads} leads and ${expectedEvents} events, found ${row.leads} and ${row.events}`,
    )
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

async function main(): Promise<void> {
  const name = `hs_bench_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = connect(adminUrl, { maxConnections: 1 })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const sql = connect(url.toString(), { maxConnections: 4 })
  try {
    await migrate(sql)
    // The relay's notification trigger stays on: the service pays for it too.
    const integration = await insertIntegration(sql, randomBytes(32), {
      portalId: 424242, name: 'bench', authType: 'private_app', credentials: { accessToken: 'x' },
      accessTokenExpiresAt: null, actions: { assign: { mode: 'round_robin', userIds: [1, 2, 3] } },
      burstPer10Seconds: null, ownerUserId: null,
    })
    const contacts = generateContacts(contactCount)
    await importService(sql, integration, contacts.slice(0, 2000)) // warm up JIT and statements

    const perContact = contacts.slice(0, perContactContacts)
    const events = contacts.length
    const timings = await measureRounds(sql, integration, [
      { name: 'importService', method: importService, contacts, times: runs, expectedEvents: events },
      // The poll's overlap case: the same contacts again, right after the import service.
      {
        name: 'unchangedRerun', method: importService, contacts, times: runs, expectedEvents: events,
        keepTable: true,
      },
      { name: 'rowByRow', method: rowByRow, contacts, times: baselineRuns, expectedEvents: events },
      {
        name: 'rowByRowPerContact', method: rowByRowPerContact, contacts: perContact, times: baselineRuns,
        expectedEvents: perContact.length,
      },
      {
        name: 'upsertAutocommit', method: upsertAutocommit, contacts: perContact, times: baselineRuns,
        expectedEvents: 0,
      },
      { name: 'copyCeiling', method: copyCeiling, contacts, times: runs, expectedEvents: events },
    ])
    report(timings)
  } finally {
    await sql.end({ timeout: 5 })
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
}

function report(timings: Map<string, Timing>): void {
  const counts: Record<string, number> = {
    rowByRowPerContact: perContactContacts,
    upsertAutocommit: perContactContacts,
  }
  const medians: Record<string, number> = {}
  const rates: Record<string, number> = {}
  console.log(`contacts=${contactCount} batchSize=${batchSize} runs=${runs} baselineRuns=${baselineRuns}`)
  for (const [name, timing] of timings) {
    medians[name] = median(timing.seconds)
    rates[name] = (counts[name] ?? contactCount) / medians[name]
    const runList = timing.seconds.map((value) => value.toFixed(2)).join(' ')
    const load = `${timing.load[0].toFixed(1)}-${timing.load[1].toFixed(1)}`
    const line = `median ${medians[name].toFixed(2)} s  ${Math.round(rates[name])} contacts/s  runs ${runList}`
    console.log(`${name.padEnd(18)} ${line}  load ${load}`)
  }
  // Each ratio is one method's time per contact over another's, taken within each round.
  const timingOf = (name: string) => timings.get(name) as Timing
  const service = timingOf('importService')
  const compare = (label: string, numerator: Timing, denominator: Timing) => {
    const byRound = [...numerator.perContactByRound].map(
      ([round, perContact]) => perContact / (denominator.perContactByRound.get(round) as number),
    )
    const rounds = byRound.map((ratio) => ratio.toFixed(2)).join(' ')
    console.log(`${label}: median of rounds ${median(byRound).toFixed(2)}x, by round ${rounds}`)
  }
  compare('row by row in page transactions / import service', timingOf('rowByRow'), service)
  compare('row by row, a transaction per contact / import service', timingOf('rowByRowPerContact'), service)
  compare('autocommitted upsert per contact, no events / import service', timingOf('upsertAutocommit'), service)
  compare('first import / unchanged rerun', service, timingOf('unchangedRerun'))
  compare('import service / COPY ceiling', service, timingOf('copyCeiling'))
  const summary = Object.fromEntries(
    [...timings].map(([name, timing]) => [name, { seconds: timing.seconds, load: timing.load }]),
  )
  console.log(JSON.stringify({ contactCount, batchSize, perContactContacts, medians, summary }))
}

await main()
