import { storedProperties, type ContactRecord, type PropertyHistoryEntry } from './contactRecord.js'

/** Adds a value to the front of a property's history, starting the history from the stored value. */
export function recordHistory(
  record: ContactRecord,
  name: string,
  value: string,
  nowMs: number,
  sourceType: string,
  seed: number,
): void {
  record.history ??= {}
  const entries: PropertyHistoryEntry[] = record.history[name] ?? initialHistory(record, name, seed)
  entries.unshift({ value, timestamp: nowMs, sourceType })
  record.history[name] = entries
}

function initialHistory(record: ContactRecord, name: string, seed: number): PropertyHistoryEntry[] {
  const value = storedProperties(record, seed)[name]
  return value ? [{ value, timestamp: record.createdAtMs, sourceType: 'IMPORT' }] : []
}
