// Shared setup for the actions tests: a database, a NatsManager on the test's own prefix,
// leads written straight into the table, leads.imported messages published by hand, and
// bounded waits on rows.
import { jetstream } from '@nats-io/jetstream'

import { startActionsConsumer, type ActionsConsumerOptions } from '../../src/actions/consumer.js'
import { testConfig } from '../../src/config.js'
import type { Sql } from '../../src/db/connection.js'
import { findLead, type Lead } from '../../src/db/leads.js'
import type { NatsManager } from '../../src/events/nats.js'
import { buildLeadImportedEvent } from '../../src/events/leadEvents.js'
import { Subject } from '../../src/events/subjects.js'
import { silentLogger } from '../events/support.js'

export { createIntegration, readStream, silentLogger, startNats } from '../events/support.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const allActions = {
  assign: { enabled: true, strategy: 'round_robin', userIds: [101, 102, 103] },
  analyze: { enabled: true, instructions: 'Summarise company fit and buying intent' },
  notify: { enabled: true, channel: 'slack', recipients: ['#new-leads'] },
  sequence: { enabled: true, sequenceId: 'onboarding-2026' },
}

let nextContactId = 5_000_000_000

export interface LeadFields {
  email?: string | null
  company?: string | null
  lifecycleStage?: string | null
  hubspotOwnerId?: string | null
  properties?: Record<string, string | null>
}

/** Inserts a lead as the import service would, with the given settings snapshot. */
export async function insertLead(
  sql: Sql,
  integrationId: number,
  importActions: Record<string, unknown> | null,
  fields: LeadFields = {},
): Promise<Lead> {
  const contactId = nextContactId++
  const [row] = await sql<{ id: number }[]>`
    insert into leads (
      integration_id, hubspot_contact_id, email, first_name, company, lifecycle_stage,
      hubspot_owner_id, properties, hubspot_updated_at, content_hash, import_actions
    ) values (
      ${integrationId}, ${contactId}, ${fields.email === undefined ? `c${contactId}@example.com` : fields.email},
      'Ada', ${fields.company ?? null}, ${fields.lifecycleStage ?? null}, ${fields.hubspotOwnerId ?? null},
      ${(fields.properties ?? {}) as never}::jsonb, now(), 'hash', ${importActions as never}::jsonb
    )
    returning id
  `
  return (await findLead(sql, row.id)) as Lead
}

/** Publishes the lead's leads.imported event, as the outbox relay would. */
export async function publishImported(
  nats: NatsManager,
  lead: Lead,
  portalId: number,
  msgId?: string,
): Promise<string> {
  const event = buildLeadImportedEvent(lead, { portalId, origin: 'poll' })
  const js = jetstream(nats.connection()!)
  await js.publish(nats.subject(Subject.leadsImported), JSON.stringify(event), {
    msgID: msgId ?? event.id,
  })
  return event.id
}

/** Starts a consumer with short timings for tests and stops it when the test ends. */
export function startTestConsumer(
  t: Teardown,
  deps: { sql: Sql; nats: NatsManager },
  overrides: Partial<ActionsConsumerOptions> & { maxDeliveries?: number } = {},
) {
  const { maxDeliveries, ...rest } = overrides
  const config = testConfig({ ACTIONS_MAX_DELIVERIES: String(maxDeliveries ?? 5) })
  const consumer = startActionsConsumer({
    sql: deps.sql,
    nats: deps.nats,
    logger: silentLogger,
    config,
    ackWaitMs: 1000,
    retryDelaysMs: [50, 100],
    retryIntervalMs: 100,
    ...rest,
  })
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await consumer.stop()
  }
  t.teardown(stop)
  return { stop }
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return check()
}

export async function countRows(sql: Sql, leadIds: number[]): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from lead_actions where lead_id = any(${leadIds}::bigint[])
  `
  return row.count
}

/** Waits until every lead has all four action records. */
export function waitForRecords(sql: Sql, leadIds: number[], timeoutMs?: number): Promise<boolean> {
  return waitFor(async () => (await countRows(sql, leadIds)) === leadIds.length * 4, timeoutMs)
}

export interface ActionEventRow {
  event_id: string
  subject: string
  payload: { id: string; type: string; data: Record<string, any> }
}

/** Lists the action events queued in the outbox, oldest first. */
export async function actionEvents(sql: Sql, leadId?: number): Promise<ActionEventRow[]> {
  return sql<ActionEventRow[]>`
    select event_id, subject, payload
    from outbox
    where subject in ('leads.assigned', 'leads.analysis.requested',
                      'notifications.requested', 'sequences.enrollment.requested')
      and (${leadId ?? null}::bigint is null or (payload->'data'->>'leadId')::bigint = ${leadId ?? null}::bigint)
    order by id
  `
}

export async function recordsOf(sql: Sql, leadId: number) {
  return sql<{ action: string; status: string; decision: Record<string, any>; event_id: string | null }[]>`
    select action, status, decision, event_id from lead_actions where lead_id = ${leadId} order by action
  `
}
