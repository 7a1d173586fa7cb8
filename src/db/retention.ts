import type { Queryable } from './connection.js'

// The ids are collected into an array first: with `id in (select ...)` PostgreSQL 15 can
// plan a hash join over the whole table instead of primary key lookups.

/**
 * Deletes up to `limit` outbox events published more than `retentionHours` ago, oldest
 * first. Unpublished events are never deleted. Rows another replica is deleting are
 * skipped, so replicas that run this at once share the work. Returns the number deleted.
 */
export async function deleteExpiredOutboxEvents(
  sql: Queryable,
  retentionHours: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    delete from outbox
    where id = any(array(
      select id
      from outbox
      where published_at < now() - ${retentionHours} * interval '1 hour'
      order by published_at
      limit ${limit}
      for update skip locked
    ))
  `
  return result.count
}

/**
 * Deletes up to `limit` webhook events in status `done` or `ignored` that were processed
 * more than `retentionDays` ago, oldest first. Pending and failed events are never deleted.
 * Rows another replica is deleting are skipped. Returns the number deleted.
 */
export async function deleteExpiredWebhookEvents(
  sql: Queryable,
  retentionDays: number,
  limit: number,
): Promise<number> {
  const result = await sql`
    delete from webhook_events
    where id = any(array(
      select id
      from webhook_events
      where status in ('done', 'ignored')
        and processed_at < now() - ${retentionDays} * interval '1 day'
      order by processed_at
      limit ${limit}
      for update skip locked
    ))
  `
  return result.count
}
