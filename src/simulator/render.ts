import {
  datetimeProperties,
  definedProperties,
  rawPropertyValue,
  storedProperties,
  type ContactRecord,
  type PropertyHistoryEntry,
} from './contactRecord.js'
import type { PropertyValues } from './seedData.js'

/** Properties returned whatever `properties` requests. */
const alwaysReturned = ['createdate', 'hs_object_id', 'lastmodifieddate']
/** Returned by list, get and batch read when no `properties` are given. */
export const defaultObjectProperties = ['firstname', 'lastname', 'email']

export interface RenderContext {
  seed: number
  portalId: number
  appHost: string
}

/** One contact in HubSpot's SimplePublicObject shape. */
export interface SimplePublicObject {
  id: string
  properties: Record<string, string | null>
  propertiesWithHistory?: Record<string, Record<string, unknown>[]>
  createdAt: string
  updatedAt: string
  archived: boolean
  archivedAt?: string
  url: string
}

/** The state of a contact to render: live, or as the lagging search index stores it. */
export interface ContactState {
  id: number
  properties: PropertyValues
  createdAtMs: number
  updatedAtMs: number
  archivedAtMs: number | null
}

export function liveState(record: ContactRecord, seed: number): ContactState {
  return {
    id: record.id,
    properties: storedProperties(record, seed),
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    archivedAtMs: record.archivedAtMs,
  }
}

/** Parses a `properties` request (CSV or array) into the names to return. */
export function requestedProperties(requested: readonly string[] | undefined, defaults: readonly string[]): string[] {
  const names = requested && requested.length > 0 ? requested : defaults
  const unique = new Set<string>()
  for (const name of [...names, ...alwaysReturned]) {
    const trimmed = name.trim()
    // Unknown property names are silently dropped, as HubSpot does.
    if (trimmed && definedProperties.has(trimmed)) unique.add(trimmed)
  }
  return [...unique].sort()
}

/** Renders one contact; requested properties without a value come back as null. */
export function renderContact(
  state: ContactState,
  propertyNames: readonly string[],
  context: RenderContext,
  history?: { names: readonly string[]; record: ContactRecord },
): SimplePublicObject {
  const properties: Record<string, string | null> = {}
  for (const name of propertyNames) properties[name] = displayValue(name, state)
  const object: SimplePublicObject = {
    id: String(state.id),
    properties,
    createdAt: isoString(state.createdAtMs),
    updatedAt: isoString(state.updatedAtMs),
    archived: state.archivedAtMs !== null,
    url: `https://${context.appHost}/contacts/${context.portalId}/record/0-1/${state.id}`,
  }
  if (state.archivedAtMs !== null) object.archivedAt = isoString(state.archivedAtMs)
  if (history && history.names.length > 0) object.propertiesWithHistory = renderHistory(history.record, history.names, state, context.seed)
  return object
}

function displayValue(name: string, state: ContactState): string | null {
  const raw = rawPropertyValue(name, state.properties, state.id, state.createdAtMs, state.updatedAtMs)
  if (raw === null || raw === '') return raw === '' ? '' : null
  return datetimeProperties.has(name) ? isoString(Number(raw)) : raw
}

function renderHistory(
  record: ContactRecord,
  names: readonly string[],
  state: ContactState,
  seed: number,
): Record<string, Record<string, unknown>[]> {
  const result: Record<string, Record<string, unknown>[]> = {}
  for (const name of names) {
    if (!definedProperties.has(name)) continue
    const entries: PropertyHistoryEntry[] = record.history?.[name] ?? seededHistory(name, state, seed)
    result[name] = entries.map((entry) => ({
      value: entry.value,
      timestamp: isoString(entry.timestamp),
      sourceType: entry.sourceType,
      ...(entry.sourceId ? { sourceId: entry.sourceId } : {}),
    }))
  }
  return result
}

function seededHistory(name: string, state: ContactState, seed: number): PropertyHistoryEntry[] {
  void seed
  const value = displayValue(name, state)
  if (value === null) return []
  const timestamp = name === 'lastmodifieddate' ? state.updatedAtMs : state.createdAtMs
  return [{ value, timestamp, sourceType: 'IMPORT' }]
}

/** ISO-8601 in UTC with milliseconds, as every HubSpot datetime in a response. */
export function isoString(epochMs: number): string {
  return new Date(epochMs).toISOString()
}
