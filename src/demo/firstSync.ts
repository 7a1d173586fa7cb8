import type { ServiceHandles } from '../server.js'
import type { RunProgress } from '../sync/runTypes.js'
import type { LeadEventPrinter, PrintLine } from './leadEventPrinter.js'

export interface FirstSyncOptions {
  service: ServiceHandles
  printer: LeadEventPrinter
  integrationId: number
  print: PrintLine
  signal: AbortSignal
}

/** Progress is printed after the first page and then every this many pages. */
const progressEveryPages = 5

/**
 * Runs the integration's first sync (a backfill over HubSpot's list endpoint) with progress
 * lines, then waits until its leads.imported events have arrived. Returns the leads created.
 */
export async function runFirstSync(options: FirstSyncOptions): Promise<number> {
  const { service, printer, print } = options
  print('\nFirst sync:')
  printer.setQuiet(true)
  const started = await service.sync.startRun(options.integrationId, 'manual', {
    onProgress: (progress) => {
      if (progress.pages === 1 || progress.pages % progressEveryPages === 0) print(formatProgress(progress))
    },
  })
  const run = await untilAborted(started.done, options.signal)
  if (!run) return 0

  const seconds = ((run.finishedAt ?? new Date()).getTime() - run.startedAt.getTime()) / 1000
  const { created, updated, unchanged, failed } = run.counts
  print(`  run ${run.id} ${run.status} in ${seconds.toFixed(1)} s: ${run.pages} pages, ${run.hubspotCalls} HubSpot calls,`)
  print(`  ${created} created, ${updated} updated, ${unchanged} unchanged, ${failed} failed`)

  const isComplete = await untilAborted(printer.waitFor('leads.imported', created, 60_000), options.signal)
  const received = printer.counts['leads.imported'] ?? 0
  print(`  leads.imported events received: ${received} of ${created}${isComplete ? '' : ' (still arriving)'}`)
  printer.setQuiet(false)
  return created
}

function formatProgress(progress: RunProgress): string {
  const seconds = (progress.elapsedMs / 1000).toFixed(1)
  const { created } = progress.counts
  return `  ${progress.phase}: page ${progress.pages}, ${progress.contactsRead} contacts read, ${created} created, ${progress.hubspotCalls} HubSpot calls, ${seconds} s`
}

/** Resolves with the promise's value, or with null as soon as the signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null)
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(null)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
