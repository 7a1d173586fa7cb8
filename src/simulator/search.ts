import { datetimeProperties, numberProperties, rawPropertyValue, storedProperties, type ContactRecord } from './contactRecord.js'
import type { SearchOptions } from './options.js'
import { createRandom, hashNumber, type Random } from './random.js'
import { renderContact, requestedProperties, type RenderContext, type SimplePublicObject } from './render.js'
import { lowerBoundById, lowerBoundByModified, viewOf } from './searchIndex.js'
import { compileFilterGroups, matchesGroup, tokens, type CompiledFilter } from './searchFilters.js'
import { SimulatorError } from './simulatorError.js'
import type { ContactStore } from './store.js'

/** Maximum results HubSpot lets a query reach. Paging past it returns 400. */
export const searchResultCap = 10_000
export const maxSearchLimit = 200
const defaultSearchProperties = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname']
const queryProperties = ['firstname', 'lastname', 'email', 'phone', 'company', 'website']
const cacheSize = 8

export interface SearchPage {
  total: number
  results: SimplePublicObject[]
  paging?: { next: { after: string } }
}

interface ParsedSearch {
  cacheKey: string
  groups: CompiledFilter[][]
  sort: { propertyName: string; descending: boolean } | null
  query: string | null
  properties: string[]
  limit: number
  after: number
}

interface CachedQuery {
  key: string
  version: number
  matches: ContactRecord[]
  sorted: ContactRecord[] | null
}

/**
 * Runs `POST /crm/v3/objects/contacts/search` against the lagging search index. Results of one
 * query are cached until the index changes, so paging through a large window stays cheap.
 */
export class SearchEngine {
  private readonly cache: CachedQuery[] = []
  private readonly random: Random

  constructor(
    private readonly store: ContactStore,
    private readonly options: () => SearchOptions,
    private readonly context: () => RenderContext,
  ) {
    this.random = createRandom(store.seed, 0x5ea)
  }

  search(body: unknown): SearchPage {
    const request = parseSearchRequest(body)
    this.store.refreshSearchIndex()
    const cached = this.matches(request)
    const sorted = this.sorted(cached, request)
    const total = sorted.length
    const page = sorted.slice(request.after, request.after + request.limit)
    this.maybeAddStrayRecord(page, cached.matches)

    const results = page.map((record) => renderContact(searchState(record, this.store.seed), request.properties, this.context()))
    const nextAfter = request.after + request.limit
    return nextAfter < total ? { total, results, paging: { next: { after: String(nextAfter) } } } : { total, results }
  }

  private matches(request: ParsedSearch): CachedQuery {
    const key = request.cacheKey
    const version = this.store.searchIndex.version
    const hit = this.cache.find((entry) => entry.key === key && entry.version === version)
    if (hit) return hit

    const matches = this.scan(request)
    const entry: CachedQuery = { key, version, matches, sorted: null }
    this.cache.unshift(entry)
    if (this.cache.length > cacheSize) this.cache.pop()
    return entry
  }

  private scan(request: ParsedSearch): ContactRecord[] {
    const seed = this.store.seed
    const candidates = this.candidates(request.groups)
    const queryTokens = request.query ? tokens(request.query) : []
    const matches: ContactRecord[] = []
    for (const record of candidates) {
      const valueOf = searchValueGetter(record, seed)
      if (request.groups.length > 0 && !request.groups.some((group) => matchesGroup(group, valueOf))) continue
      if (queryTokens.length > 0 && !matchesQuery(queryTokens, valueOf)) continue
      matches.push(record)
    }
    return matches
  }

  /** Narrows the scan to an index range when every group bounds lastmodifieddate or hs_object_id. */
  private candidates(groups: CompiledFilter[][]): ContactRecord[] {
    const index = this.store.searchIndex
    if (groups.length !== 1) return index.byId
    const group = groups[0]
    const modified = intersectRanges(group.filter((filter) => filter.propertyName === 'lastmodifieddate'))
    if (modified) {
      const start = lowerBoundByModified(index.byModified, modified.low)
      const end = lowerBoundByModified(index.byModified, modified.high + 1)
      return index.byModified.slice(start, end).sort((a, b) => a.id - b.id)
    }
    const ids = intersectRanges(group.filter((filter) => filter.propertyName === 'hs_object_id'))
    if (ids) return index.byId.slice(lowerBoundById(index.byId, ids.low), lowerBoundById(index.byId, ids.high + 1))
    return index.byId
  }

  private sorted(cached: CachedQuery, request: ParsedSearch): ContactRecord[] {
    const tieOrder = this.options().tieOrder
    if (cached.sorted && tieOrder !== 'random') return cached.sorted
    // Without a sort HubSpot returns creation order, which the ascending ids follow.
    if (!request.sort) return (cached.sorted = cached.matches)

    const salt = tieOrder === 'random' ? this.random.int(0, 0x7fffffff) : this.store.seed
    const sorted = sortRecords(cached.matches, request.sort, this.store.seed, tieOrder === 'id' ? null : salt)
    if (tieOrder !== 'random') cached.sorted = sorted
    return sorted
  }

  /** Adds one record outside the filters now and then, as production search sometimes does. */
  private maybeAddStrayRecord(page: ContactRecord[], matches: ContactRecord[]): void {
    const index = this.store.searchIndex.byModified
    if (page.length === 0 || index.length === 0 || !this.random.chance(this.options().outOfRangeRate)) return
    const stray = index[this.random.int(0, index.length - 1)]
    if (matches.includes(stray)) return
    page.splice(this.random.int(0, page.length), 0, stray)
  }
}

function parseSearchRequest(body: unknown): ParsedSearch {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw SimulatorError.badRequest()
  const input = body as Record<string, unknown>
  const limit = parseInteger(input.limit, 10)
  const after = parseInteger(input.after, 0)
  if (limit < 0 || after < 0) throw SimulatorError.badRequest()
  if (limit > maxSearchLimit) throw SimulatorError.validation(`limit must be at most ${maxSearchLimit}, got ${limit}`)
  if (after + limit > searchResultCap) {
    // NOTE: the status is documented, but the body is a guess, because no capture of it was found.
    throw SimulatorError.validation(`Search results are limited to ${searchResultCap}. Narrow your filters instead of paging further.`)
  }
  const properties = Array.isArray(input.properties) ? input.properties.map(String) : []
  const sort = parseSort(input.sorts)
  const query = typeof input.query === 'string' && input.query.trim() !== '' ? input.query : null
  return {
    cacheKey: JSON.stringify([input.filterGroups ?? null, query, sort]),
    groups: compileFilterGroups(input.filterGroups),
    sort,
    query,
    properties: requestedProperties(properties, defaultSearchProperties),
    limit,
    after,
  }
}

function parseInteger(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback
  const number = Number(value)
  if (!Number.isInteger(number)) throw SimulatorError.badRequest()
  return number
}

/** Reads the one sort rule in object form and rejects a second one. String entries (the SDK's typing) are silently ignored, as HubSpot does. */
function parseSort(sorts: unknown): ParsedSearch['sort'] {
  if (!Array.isArray(sorts)) return null
  const objects = sorts.filter((entry) => typeof entry === 'object' && entry !== null) as Record<string, unknown>[]
  if (objects.length > 1) throw SimulatorError.validation('Only one sort rule is allowed per search.')
  const [sort] = objects
  if (!sort || typeof sort.propertyName !== 'string') return null
  return { propertyName: sort.propertyName, descending: sort.direction === 'DESCENDING' }
}

function intersectRanges(filters: CompiledFilter[]): { low: number; high: number } | null {
  const ranges = filters.map((filter) => filter.range).filter((range) => range !== null)
  if (ranges.length === 0) return null
  const low = Math.max(...ranges.map((range) => range.low))
  const high = Math.min(...ranges.map((range) => range.high))
  return Number.isNaN(low) || Number.isNaN(high) ? null : { low, high }
}

/** Returns a getter for the values search reads: the lagging snapshot when one exists. */
function searchValueGetter(record: ContactRecord, seed: number): (name: string) => string | null {
  const view = viewOf(record)
  const createdAtMs = view?.createdAtMs ?? record.createdAtMs
  const updatedAtMs = view?.updatedAtMs ?? record.updatedAtMs
  let properties: Record<string, string | null> | null = null
  return (name) => {
    if (name === 'createdate' || name === 'lastmodifieddate' || name === 'hs_object_id' || name === 'hs_lastmodifieddate') {
      return rawPropertyValue(name, {}, record.id, createdAtMs, updatedAtMs)
    }
    properties ??= record.searchView ? record.searchView.properties : storedProperties(record, seed)
    return rawPropertyValue(name, properties, record.id, createdAtMs, updatedAtMs)
  }
}

function searchState(record: ContactRecord, seed: number) {
  const view = record.searchView
  if (view) return { id: record.id, properties: view.properties, createdAtMs: view.createdAtMs, updatedAtMs: view.updatedAtMs, archivedAtMs: null }
  return { id: record.id, properties: storedProperties(record, seed), createdAtMs: record.createdAtMs, updatedAtMs: record.updatedAtMs, archivedAtMs: null }
}

function matchesQuery(queryTokens: string[], valueOf: (name: string) => string | null): boolean {
  const haystack = queryProperties.flatMap((name) => tokens(valueOf(name) ?? ''))
  return queryTokens.every((token) => haystack.some((word) => word.startsWith(token)))
}

function sortRecords(
  records: ContactRecord[],
  sort: { propertyName: string; descending: boolean },
  seed: number,
  tieSalt: number | null,
): ContactRecord[] {
  const numeric = datetimeProperties.has(sort.propertyName) || numberProperties.has(sort.propertyName)
  const keyed = records.map((record) => {
    const raw = searchValueGetter(record, seed)(sort.propertyName)
    if (raw === null) return { record, key: null }
    if (numeric) return { record, key: Number(raw) }
    return { record, key: raw.toLowerCase() }
  })
  const direction = sort.descending ? -1 : 1
  keyed.sort((a, b) => {
    const byKey = compareKeys(a.key, b.key) * direction
    if (byKey !== 0) return byKey
    if (tieSalt === null) return a.record.id - b.record.id
    return hashNumber(a.record.id, tieSalt) - hashNumber(b.record.id, tieSalt)
  })
  return keyed.map((entry) => entry.record)
}

function compareKeys(a: number | string | null, b: number | string | null): number {
  if (a === b) return 0
  // Records without a value sort last in ascending order.
  if (a === null) return 1
  if (b === null) return -1
  return a < b ? -1 : 1
}

