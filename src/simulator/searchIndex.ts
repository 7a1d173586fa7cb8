import { storedProperties, type ContactRecord, type SearchView } from './contactRecord.js'

/** Above this many pending changes a refresh re-sorts the index instead of splicing each. */
const rebuildThreshold = 2000

interface PendingChange {
  record: ContactRecord
  dueMs: number
}

/**
 * The search index, which `POST /search` reads. It contains every visible, unarchived contact twice,
 * sorted by id and by (lastmodifieddate, id), so id and time windows are binary searches.
 * Writes reach it only after the index lag, through `schedule` and `refresh`.
 */
export class SearchIndex {
  byId: ContactRecord[] = []
  byModified: ContactRecord[] = []
  /** Grows on every change, so cached query results know when they are stale. */
  version = 0
  private pending: PendingChange[] = []

  /** Builds the index from all records at once (used after seeding). */
  rebuild(records: Iterable<ContactRecord>): void {
    const visible: ContactRecord[] = []
    for (const record of records) {
      const view = viewOf(record)
      record.indexedModifiedMs = null
      if (view === null || view.archived) continue
      record.indexedModifiedMs = view.updatedAtMs
      visible.push(record)
    }
    this.byId = visible.slice().sort((a, b) => a.id - b.id)
    this.byModified = visible.sort(compareModified)
    this.version++
  }

  /** Queues a record whose live state changed. Search returns the new state once `dueMs` has passed. */
  schedule(record: ContactRecord, dueMs: number): void {
    let position = this.pending.length
    while (position > 0 && this.pending[position - 1].dueMs > dueMs) position--
    this.pending.splice(position, 0, { record, dueMs })
  }

  /** Applies every change due at `nowMs` and returns how many records changed in the index. */
  refresh(nowMs: number, allRecords: () => Iterable<ContactRecord>): number {
    let dueCount = 0
    while (dueCount < this.pending.length && this.pending[dueCount].dueMs <= nowMs) dueCount++
    if (dueCount === 0) return 0

    const due = this.pending.splice(0, dueCount)
    const pendingIds = new Set(this.pending.map((change) => change.record))
    for (const { record } of due) {
      // A later write still waiting keeps the older snapshot in place.
      if (!pendingIds.has(record)) record.searchView = undefined
    }
    if (due.length > rebuildThreshold) this.rebuild(allRecords())
    else for (const { record } of due) this.reindex(record)
    return due.length
  }

  /** Moves one record to the place its current search view gives it (or removes it). */
  reindex(record: ContactRecord): void {
    this.remove(record)
    const view = viewOf(record)
    if (view === null || view.archived) return

    record.indexedModifiedMs = view.updatedAtMs
    this.byId.splice(lowerBoundById(this.byId, record.id), 0, record)
    this.byModified.splice(lowerBoundByModified(this.byModified, view.updatedAtMs, record.id), 0, record)
    this.version++
  }

  /** Takes a record out of the index (GDPR delete, merge). */
  remove(record: ContactRecord): void {
    if (record.indexedModifiedMs === null) return
    const idPosition = lowerBoundById(this.byId, record.id)
    if (this.byId[idPosition] === record) this.byId.splice(idPosition, 1)
    const modifiedPosition = lowerBoundByModified(this.byModified, record.indexedModifiedMs, record.id)
    if (this.byModified[modifiedPosition] === record) this.byModified.splice(modifiedPosition, 1)
    record.indexedModifiedMs = null
    this.version++
  }

  /** Number of writes still waiting for the index lag. */
  get pendingCount(): number {
    return this.pending.length
  }
}

/** Keeps search's view of the record as it was until the index lag has passed. */
export function holdSearchView(record: ContactRecord, indexLagMs: number, seed: number): void {
  if (indexLagMs <= 0 || record.searchView !== undefined) return
  record.searchView = {
    properties: { ...storedProperties(record, seed) },
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    archived: record.archivedAtMs !== null,
  }
}

/** Makes a write visible to search at once when there is no index lag, else after the lag. */
export function indexAfterWrite(
  index: SearchIndex,
  record: ContactRecord,
  lagMs: number,
  writtenAtMs: () => number,
): void {
  if (lagMs <= 0) {
    record.searchView = undefined
    index.reindex(record)
    return
  }
  index.schedule(record, writtenAtMs() + lagMs)
}

/** Returns the timestamps and state search reads of a record: its lagging snapshot, or its live state. */
export function viewOf(record: ContactRecord): Omit<SearchView, 'properties'> | null {
  if (record.removed) return null
  if (record.searchView !== undefined) return record.searchView
  return {
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    archived: record.archivedAtMs !== null,
  }
}

function compareModified(a: ContactRecord, b: ContactRecord): number {
  return (a.indexedModifiedMs ?? 0) - (b.indexedModifiedMs ?? 0) || a.id - b.id
}

/** First position whose id is >= `id`. */
export function lowerBoundById(records: ContactRecord[], id: number): number {
  let low = 0
  let high = records.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (records[middle].id < id) low = middle + 1
    else high = middle
  }
  return low
}

/** First position whose (lastmodified, id) is >= (`modifiedMs`, `id`). */
export function lowerBoundByModified(records: ContactRecord[], modifiedMs: number, id = -Infinity): number {
  let low = 0
  let high = records.length
  while (low < high) {
    const middle = (low + high) >>> 1
    const entry = records[middle]
    const key = entry.indexedModifiedMs ?? 0
    if (key < modifiedMs || (key === modifiedMs && entry.id < id)) low = middle + 1
    else high = middle
  }
  return low
}
