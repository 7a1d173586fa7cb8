import { z } from 'zod'

import type { Integration } from '../db/integrations.js'
import { countNames, type CountName, type SyncRun } from '../db/syncRuns.js'
import { buildEvent, portalSource, type CloudEvent } from './envelope.js'
import { deterministicEventId } from './eventIds.js'
import { isoTime, positiveId } from './schemaParts.js'
import { Subject } from './subjects.js'

const count = z.number().int().min(0)

const runCountsSchema = z.object(
  Object.fromEntries(countNames.map((name) => [name, count])) as Record<CountName, typeof count>,
)

/** The time range a contacts run read through search; null when it read no window. */
const windowSchema = z.object({ start: isoTime, end: isoTime }).nullable()

const runEventBase = z.object({
  runId: positiveId,
  integrationId: positiveId,
  portalId: positiveId,
  kind: z.enum(['contacts', 'archived', 'drift']),
  trigger: z.enum(['schedule', 'manual', 'cli']),
  counts: runCountsSchema,
  window: windowSchema,
  pages: count,
  hubspotCalls: count,
  startedAt: isoTime,
  finishedAt: isoTime,
  durationMs: count,
})

/** `data` of hubspot.sync.completed. */
export const syncCompletedDataSchema = runEventBase.extend({
  status: z.literal('succeeded'),
})
export type SyncCompletedData = z.infer<typeof syncCompletedDataSchema>

/** `data` of hubspot.sync.failed: every run that did not succeed, with the reason. */
export const syncFailedDataSchema = runEventBase.extend({
  status: z.enum(['failed', 'rate_limited', 'interrupted']),
  reason: z.string(),
  errorCode: z.string(),
})
export type SyncFailedData = z.infer<typeof syncFailedDataSchema>

/**
 * Builds the event that announces a finished run. The id is derived from the subject and the
 * run id, so a second outbox row for the same run is ignored by the outbox and by JetStream.
 */
export function buildRunFinishedEvent(
  run: SyncRun,
  integration: Pick<Integration, 'id' | 'portalId'>,
): CloudEvent<SyncCompletedData | SyncFailedData> {
  const base = runEventBaseData(run, integration)
  const subject = `integrations/${integration.id}/runs/${run.id}`
  const source = portalSource(integration.portalId)

  if (run.status === 'succeeded') {
    const data = syncCompletedDataSchema.parse({ ...base, status: 'succeeded' })
    const eventId = deterministicEventId(Subject.syncCompleted, run.id)
    return buildEvent({ type: Subject.syncCompleted, id: eventId, subject, source, data })
  }

  const data = syncFailedDataSchema.parse({
    ...base,
    status: run.status,
    reason: run.error ?? `Run ended as ${run.status}`,
    errorCode: run.errorCode ?? 'INTERNAL',
  })
  const eventId = deterministicEventId(Subject.syncFailed, run.id)
  return buildEvent({ type: Subject.syncFailed, id: eventId, subject, source, data })
}

function runEventBaseData(run: SyncRun, integration: Pick<Integration, 'id' | 'portalId'>) {
  const finishedAt = run.finishedAt ?? new Date()
  const window =
    run.windowStart && run.windowEnd
      ? { start: run.windowStart.toISOString(), end: run.windowEnd.toISOString() }
      : null
  return {
    runId: run.id,
    integrationId: integration.id,
    portalId: integration.portalId,
    kind: run.kind,
    trigger: run.trigger,
    counts: run.counts,
    window,
    pages: run.pages,
    hubspotCalls: run.hubspotCalls,
    startedAt: run.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: Math.max(0, finishedAt.getTime() - run.startedAt.getTime()),
  }
}
