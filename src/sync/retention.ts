import type { Config } from '../config.js'
import { mapDatabaseError, type Sql } from '../db/connection.js'
import { deleteExpiredOutboxEvents, deleteExpiredWebhookEvents } from '../db/retention.js'

export interface RetentionPolicy {
  /** Hours a published outbox event is kept (OUTBOX_RETENTION_HOURS). */
  outboxRetentionHours: number
  /** Days a `done` or `ignored` webhook event is kept after processing (INBOX_RETENTION_DAYS). */
  inboxRetentionDays: number
  /** Rows per delete statement. Each statement is its own short transaction. */
  batchSize: number
  /** Delete statements per table and pass, so one pass ends in bounded time. */
  maxBatchesPerPass: number
}

export interface RetentionResult {
  outboxDeleted: number
  inboxDeleted: number
}

/**
 * Rows per delete and statements per pass: up to 200,000 rows of each table per pass. A
 * larger backlog, such as the events of a first sync a week later, takes several passes.
 */
export const defaultRetentionBatchSize = 5_000
export const defaultRetentionMaxBatches = 40

export function retentionPolicy(config: Config): RetentionPolicy {
  return {
    outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
    inboxRetentionDays: config.INBOX_RETENTION_DAYS,
    batchSize: defaultRetentionBatchSize,
    maxBatchesPerPass: defaultRetentionMaxBatches,
  }
}

/**
 * Deletes published outbox events and processed webhook events older than the policy
 * allows, in batches, until a batch comes back short or the pass used its batches. Safe to
 * run on several replicas at once: each batch skips rows another one has locked.
 */
export async function runRetentionPass(sql: Sql, policy: RetentionPolicy): Promise<RetentionResult> {
  const outboxDeleted = await deleteInBatches(policy, 'deleteExpiredOutboxEvents', () =>
    deleteExpiredOutboxEvents(sql, policy.outboxRetentionHours, policy.batchSize),
  )
  const inboxDeleted = await deleteInBatches(policy, 'deleteExpiredWebhookEvents', () =>
    deleteExpiredWebhookEvents(sql, policy.inboxRetentionDays, policy.batchSize),
  )
  return { outboxDeleted, inboxDeleted }
}

async function deleteInBatches(
  policy: RetentionPolicy,
  queryName: string,
  deleteBatch: () => Promise<number>,
): Promise<number> {
  let total = 0
  for (let batch = 0; batch < policy.maxBatchesPerPass; batch++) {
    let deleted: number
    try {
      deleted = await deleteBatch()
    } catch (error) {
      throw mapDatabaseError(error, queryName)
    }
    total += deleted
    if (deleted < policy.batchSize) break
  }
  return total
}
