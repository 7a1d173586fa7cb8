import { datetimeProperties, enumerationProperties, numberProperties } from './contactRecord.js'
import { SimulatorError } from './simulatorError.js'

/** HubSpot documents at most 5 filter groups, 6 filters per group and 18 filters in all. */
export const maxFilterGroups = 5
export const maxFiltersPerGroup = 6
export const maxFiltersTotal = 18

const operators = new Set([
  'EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN',
  'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN',
])

/** A validated filter, ready to test values. */
export interface CompiledFilter {
  propertyName: string
  operator: string
  test: (value: string | null) => boolean
  /** Inclusive numeric bounds the filter implies, used to narrow scans of an index. */
  range: { low: number; high: number } | null
}

export type ValueGetter = (propertyName: string) => string | null

/** Validates `filterGroups` and compiles each filter. Throws HubSpot's 400 bodies for invalid input. */
export function compileFilterGroups(filterGroups: unknown): CompiledFilter[][] {
  if (filterGroups === undefined || filterGroups === null) return []
  if (!Array.isArray(filterGroups)) throw SimulatorError.badRequest()
  const total = filterGroups.reduce((sum: number, group) => sum + (Array.isArray(group?.filters) ? group.filters.length : 0), 0)
  const tooManyFilters = filterGroups.some((group) => Array.isArray(group?.filters) && group.filters.length > maxFiltersPerGroup)
  if (filterGroups.length > maxFilterGroups || total > maxFiltersTotal || tooManyFilters) {
    throw SimulatorError.validation(
      `Too many filters or filter groups. Use at most ${maxFilterGroups} filterGroups with up to ` +
        `${maxFiltersPerGroup} filters each, and at most ${maxFiltersTotal} filters in total.`,
    )
  }
  return filterGroups.map((group) => {
    const filters = Array.isArray(group?.filters) ? group.filters : []
    return filters.map((filter: unknown) => compileFilter(filter))
  })
}

function compileFilter(input: unknown): CompiledFilter {
  const filter = (input ?? {}) as Record<string, unknown>
  const propertyName = filter.propertyName
  const operator = filter.operator ?? 'EQ'
  if (typeof propertyName !== 'string' || typeof operator !== 'string') {
    throw new SimulatorError(400, {
      status: 'error',
      message:
        'Invalid input JSON on line 1, column 1: Cannot build Filter, some of required attributes are not set [propertyName, operator]',
    })
  }
  if (!operators.has(operator)) throw SimulatorError.validation(`Unknown operator: ${operator}`)

  const kind = propertyKind(propertyName)
  const value = normalizeValue(filter.value, kind)
  const highValue = normalizeValue(filter.highValue, kind)
  const values = Array.isArray(filter.values) ? filter.values.map((entry) => normalizeValue(entry, kind)) : []
  const test = buildTest(operator, kind, value, highValue, values)
  return { propertyName, operator, test, range: numericRange(operator, kind, value, highValue, values) }
}

type PropertyKind = 'datetime' | 'number' | 'enumeration' | 'string'

function propertyKind(name: string): PropertyKind {
  if (datetimeProperties.has(name)) return 'datetime'
  if (numberProperties.has(name)) return 'number'
  if (enumerationProperties.has(name)) return 'enumeration'
  return 'string'
}

function normalizeValue(raw: unknown, kind: PropertyKind): string | null {
  if (raw === undefined || raw === null) return null
  const value = String(raw)
  // Datetime filters take epoch-millisecond strings. HubSpot returns a generic 400 for a date like 2020-11-15.
  if (kind === 'datetime' && !/^-?\d+$/.test(value)) throw SimulatorError.badRequest()
  if (kind === 'number' && !Number.isFinite(Number(value))) throw SimulatorError.badRequest()
  return value
}

function buildTest(
  operator: string,
  kind: PropertyKind,
  value: string | null,
  highValue: string | null,
  values: (string | null)[],
): (stored: string | null) => boolean {
  const compare = comparator(kind)
  switch (operator) {
    case 'HAS_PROPERTY':
      return (stored) => stored !== null && stored !== ''
    case 'NOT_HAS_PROPERTY':
      return (stored) => stored === null || stored === ''
    case 'EQ':
      return (stored) => stored !== null && value !== null && compare(stored, value) === 0
    case 'NEQ':
      return (stored) => stored === null || value === null || compare(stored, value) !== 0
    case 'LT':
      return (stored) => stored !== null && value !== null && compare(stored, value) < 0
    case 'LTE':
      return (stored) => stored !== null && value !== null && compare(stored, value) <= 0
    case 'GT':
      return (stored) => stored !== null && value !== null && compare(stored, value) > 0
    case 'GTE':
      return (stored) => stored !== null && value !== null && compare(stored, value) >= 0
    case 'BETWEEN':
      return (stored) =>
        stored !== null && value !== null && highValue !== null && compare(stored, value) >= 0 && compare(stored, highValue) <= 0
    case 'IN':
      return (stored) => stored !== null && values.some((entry) => entry !== null && inMatches(kind, stored, entry))
    case 'NOT_IN':
      return (stored) => stored === null || !values.some((entry) => entry !== null && inMatches(kind, stored, entry))
    case 'CONTAINS_TOKEN':
      return containsToken(value)
    default: {
      const contains = containsToken(value)
      return (stored) => !contains(stored)
    }
  }
}

function comparator(kind: PropertyKind): (stored: string, value: string) => number {
  if (kind === 'datetime' || kind === 'number') return (stored, value) => Number(stored) - Number(value)
  // String filters ignore case, but enumeration values must match exactly.
  if (kind === 'enumeration') return compareStrings
  return (stored, value) => compareStrings(stored.toLowerCase(), value.toLowerCase())
}

/** Compares two strings by UTF-16 code units, as the `<` operator does. */
function compareStrings(left: string, right: string): number {
  if (left < right) return -1
  if (left > right) return 1
  return 0
}

/** IN and NOT_IN on strings compare with the stored value lower-cased, so upper-case values never match. */
function inMatches(kind: PropertyKind, stored: string, value: string): boolean {
  if (kind === 'datetime' || kind === 'number') return Number(stored) === Number(value)
  if (kind === 'enumeration') return stored === value
  return stored.toLowerCase() === value
}

function containsToken(value: string | null): (stored: string | null) => boolean {
  if (value === null) return () => false
  const needle = value.toLowerCase()
  if (needle.includes('*')) {
    const pattern = new RegExp(`^${needle.split('*').map(escapeRegExp).join('.*')}$`, 's')
    return (stored) => stored !== null && pattern.test(stored.toLowerCase())
  }
  return (stored) => stored !== null && tokens(stored).includes(needle)
}

/** Splits a value into lower-case tokens at anything that is not a letter or digit. */
export function tokens(value: string): string[] {
  return value.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean)
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
}

function numericRange(
  operator: string,
  kind: PropertyKind,
  value: string | null,
  highValue: string | null,
  values: (string | null)[],
): { low: number; high: number } | null {
  if (kind !== 'datetime' && kind !== 'number') return null
  const number = value === null ? NaN : Number(value)
  switch (operator) {
    case 'EQ':
      return { low: number, high: number }
    case 'GT':
    case 'GTE':
      return { low: number, high: Infinity }
    case 'LT':
    case 'LTE':
      return { low: -Infinity, high: number }
    case 'BETWEEN':
      return { low: number, high: highValue === null ? NaN : Number(highValue) }
    case 'IN': {
      const numbers = values.map(Number)
      return { low: Math.min(...numbers), high: Math.max(...numbers) }
    }
    default:
      return null
  }
}

/** True when every filter of one group accepts the contact. */
export function matchesGroup(group: CompiledFilter[], valueOf: ValueGetter): boolean {
  for (const filter of group) if (!filter.test(valueOf(filter.propertyName))) return false
  return true
}
