import type { Queryable } from './connection.js'

/** The channel the receiver notifies after storing pending events; the inbox worker listens. */
export const inboxChannel = 'hubspot_sync_webhook_events'

export type WebhookEventStatus = 'pending' | 'done' | 'failed' | 'ignored'

export interface WebhookEventRow {
  id: number
  dedup_key: string
  portal_id: number
  integration_id: number | null
  subscription_type: string
  object_id: number | null
  occurred_at: Date
  event: Record<string, unknown>
  status: WebhookEventStatus
  attempts: number
  next_attempt_at: Date
  last_error: string | null
  received_at: Date
  processed_at: Date | null
}

/** One event of a delivery as the receiver stores it. */
export interface NewWebhookEvent {
  /** Index of the event in the delivered JSON array. */
  position: number
  dedupKey: string
  portalId: number
  subscriptionType: string
  objectId: number | null
  /** Milliseconds since the epoch, as HubSpot sends them. */
  occurredAtMs: number
  /** `failed` is for an event that can never be applied, stored with its reason. */
  status: 'pending' | 'done' | 'ignored' | 'failed'
  reason: string | null
}

export interface InsertResult {
  inserted: number
  pending: number
  /** True when the statement sent the inbox notification. */
  notified: boolean
}

/**
 * Stores a delivery with one statement. Each event's JSON is taken by its `position` from
 * `bodyJson`, a JSON array that PostgreSQL parses once, so no event is serialized alone.
 * Events whose dedup key is already stored are dropped. When `notify` is set and anything
 * is pending, the inbox worker is notified as the insert commits. `integration_id` is left
 * for the worker to fill, because a foreign key check per row would cost the receiver about
 * a fifth of its insert time.
 */
export async function insertWebhookEvents(
  sql: Queryable,
  bodyJson: string,
  events: NewWebhookEvent[],
  notify = true,
): Promise<InsertResult> {
  if (events.length === 0) return { inserted: 0, pending: 0, notified: false }
  // Usually every event is pending. Then the status and reason arrays are sent empty and
  // unnest pads them with nulls, which saves PostgreSQL parsing 2 elements per event.
  const allPending = events.every((event) => event.status === 'pending')
  const [row] = await sql<{ inserted: number; pending: number; notified: boolean }[]>`
    with delivered as materialized (
      select ${bodyJson}::text::jsonb as events
    ),
    input as (
      select *
      from unnest(
        ${events.map((event) => event.position)}::int[],
        ${events.map((event) => event.dedupKey)}::text[],
        ${events.map((event) => event.portalId)}::bigint[],
        ${events.map((event) => event.subscriptionType)}::text[],
        ${events.map((event) => event.objectId) as number[]}::bigint[],
        ${events.map((event) => event.occurredAtMs)}::bigint[],
        ${allPending ? [] : events.map((event) => event.status)}::text[],
        ${allPending ? [] : (events.map((event) => event.reason) as string[])}::text[]
      ) as x (position, dedup_key, portal_id, subscription_type, object_id, occurred_at_ms, status, reason)
    ),
    inserted as (
      insert into webhook_events (
        dedup_key,
        portal_id,
        subscription_type,
        object_id,
        occurred_at,
        event,
        status,
        last_error,
        processed_at
      )
      select
        input.dedup_key,
        input.portal_id,
        input.subscription_type,
        input.object_id,
        -- Whole days and the milliseconds of the day, which interval arithmetic keeps exact up
        -- to the largest JavaScript time, on a timestamp without time zone, so no session
        -- time zone shifts the days.
        (timestamp '1970-01-01'
          + (input.occurred_at_ms / 86400000) * interval '1 day'
          + (input.occurred_at_ms % 86400000) * interval '1 millisecond') at time zone 'UTC',
        delivered.events -> input.position,
        coalesce(input.status, 'pending'),
        input.reason,
        case when input.status <> 'pending' then now() end
      from input
      cross join delivered
      order by input.position
      on conflict (dedup_key) do nothing
      returning status
    ),
    counts as (
      select
        count(*)::int as inserted,
        (count(*) filter (where status = 'pending'))::int as pending
      from inserted
    )
    select
      inserted,
      pending,
      case when pending > 0 and ${notify} then pg_notify(${inboxChannel}, '')::text end is not null as notified
    from counts
  `
  return { inserted: row.inserted, pending: row.pending, notified: row.notified }
}

/** Returns which of the given portals have an integration. */
export async function findPortalsWithIntegration(sql: Queryable, portalIds: number[]): Promise<number[]> {
  if (portalIds.length === 0) return []
  const rows = await sql<{ portal_id: number }[]>`
    select portal_id
    from integrations
    where portal_id = any(${portalIds}::bigint[])
  `
  return rows.map((row) => row.portal_id)
}

/**
 * Claims up to `limit` due events, plus every other due event of the same contacts, and
 * leases them for `leaseMs`: other replicas skip the locked rows while the claim runs and
 * the lease after it commits. A worker that dies mid-batch releases its events when the
 * lease ends. `attempts` counts claims.
 */
export async function claimWebhookEvents(
  sql: Queryable,
  limit: number,
  leaseMs: number,
): Promise<WebhookEventRow[]> {
  return sql<WebhookEventRow[]>`
    with picked as (
      select id, portal_id, object_id
      from webhook_events
      where status = 'pending'
        and next_attempt_at <= now()
      order by next_attempt_at, id
      limit ${limit}
      for update skip locked
    ),
    siblings as (
      select webhook_events.id
      from webhook_events
      join picked
        on picked.portal_id = webhook_events.portal_id
       and picked.object_id = webhook_events.object_id
      where webhook_events.status = 'pending'
        and webhook_events.next_attempt_at <= now()
      for update of webhook_events skip locked
    )
    update webhook_events
    set attempts = attempts + 1,
        next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
    where id in (select id from picked union select id from siblings)
    returning *
  `
}

/** Marks events processed and records the integration they were applied to. */
export async function markWebhookEventsDone(
  sql: Queryable,
  ids: number[],
  integrationId: number | null,
  note: string | null = null,
): Promise<void> {
  if (ids.length === 0) return
  await sql`
    update webhook_events
    set status = 'done',
        integration_id = coalesce(${integrationId}::bigint, integration_id),
        processed_at = now(),
        last_error = ${note}
    where id = any(${ids}::bigint[])
  `
}

export interface RetryPolicy {
  maxAttempts: number
  baseDelayMs: number
  maxDelayMs: number
}

/**
 * Schedules another attempt with exponential backoff (base * 2^(attempts - 1), capped),
 * or marks the events `failed` once they used `maxAttempts` claims. The reason is kept.
 */
export async function markWebhookEventsRetry(
  sql: Queryable,
  ids: number[],
  reason: string,
  policy: RetryPolicy,
): Promise<void> {
  if (ids.length === 0) return
  await sql`
    update webhook_events
    set status = case when attempts >= ${policy.maxAttempts} then 'failed' else 'pending' end,
        next_attempt_at = now() + least(
          ${policy.maxDelayMs}::float8,
          ${policy.baseDelayMs}::float8 * power(2, greatest(attempts - 1, 0))
        ) * interval '1 millisecond',
        processed_at = case when attempts >= ${policy.maxAttempts} then now() end,
        last_error = ${reason}
    where id = any(${ids}::bigint[])
  `
}

export async function markWebhookEventsIgnored(sql: Queryable, ids: number[], reason: string): Promise<void> {
  if (ids.length === 0) return
  await sql`
    update webhook_events
    set status = 'ignored',
        processed_at = now(),
        last_error = ${reason}
    where id = any(${ids}::bigint[])
  `
}

export interface ListWebhookEventsOptions {
  statuses: WebhookEventStatus[]
  limit: number
  /** Keyset paging: events with an id below this one (newest first). */
  before: number | null
}

export async function listWebhookEvents(
  sql: Queryable,
  options: ListWebhookEventsOptions,
): Promise<WebhookEventRow[]> {
  return sql<WebhookEventRow[]>`
    select *
    from webhook_events
    where status = any(${options.statuses}::text[])
      and id < ${options.before ?? Number.MAX_SAFE_INTEGER}
    order by id desc
    limit ${options.limit}
  `
}

/**
 * Puts failed events back in the queue with a fresh attempt budget. With no ids, every
 * failed event is requeued. Returns how many were requeued.
 */
export async function requeueFailedWebhookEvents(sql: Queryable, ids: number[] | null): Promise<number> {
  const rows = await sql`
    update webhook_events
    set status = 'pending',
        attempts = 0,
        next_attempt_at = now(),
        processed_at = null
    where status = 'failed'
      and (${ids === null} or id = any(${ids ?? []}::bigint[]))
    returning id
  `
  if (rows.length > 0) await sql`select pg_notify(${inboxChannel}, '')`
  return rows.length
}

export interface InboxStats {
  depth: number
  oldestAgeSeconds: number
}

export async function readInboxStats(sql: Queryable): Promise<InboxStats> {
  const [row] = await sql<{ depth: number; oldest_age_seconds: number | null }[]>`
    select count(*)::int as depth,
           extract(epoch from now() - min(received_at))::float8 as oldest_age_seconds
    from webhook_events
    where status = 'pending'
  `
  return { depth: row.depth, oldestAgeSeconds: row.oldest_age_seconds ?? 0 }
}
