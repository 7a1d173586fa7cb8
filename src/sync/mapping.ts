import { createHash } from 'node:crypto'

import type { LeadMappedFields } from '../db/leads.js'
import type { HubSpotContact } from '../hubspot/types.js'

/** A contact checked and cleaned for the leads table: typed columns, raw properties, hash. */
export interface MappedContact extends LeadMappedFields {
  contactId: number
  properties: Record<string, string | null>
  hubspotCreatedAt: Date | null
  hubspotUpdatedAt: Date
  contentHash: string
  /** Contact ids this contact absorbed in HubSpot merges (`hs_merged_object_ids`). */
  mergedContactIds: number[]
  archived: boolean
  nulCharactersRemoved: number
}

export type MappingResult =
  | { ok: true; contact: MappedContact }
  | { ok: false; contactId: string | null; reason: string }

// PostgreSQL text and jsonb reject U+0000, and jsonb rejects unpaired UTF-16 surrogates.
const nulPattern = /\u0000/g
const surrogatePattern = /[\uD800-\uDFFF]/
const loneSurrogatePattern = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * Properties that only carry HubSpot's modification time. They are left out of the content
 * hash because HubSpot also bumps them for changes to properties the sync does not read.
 */
const modificationTimeProperties = new Set(['lastmodifieddate', 'hs_lastmodifieddate'])

/**
 * Checks and maps one contact as HubSpot sends it. A contact that cannot be stored is
 * returned as a failure with its id (when it has one) and the reason, never thrown.
 */
export function mapContact(input: unknown): MappingResult {
  const contact = (input ?? {}) as Partial<HubSpotContact>
  const rawId = typeof contact.id === 'string' || typeof contact.id === 'number' ? String(contact.id) : null
  const contactId = parseContactId(rawId)
  if (contactId === null) return failure(rawId, rawId === null ? 'missing id' : 'invalid id')

  const cleaned = cleanProperties(contact.properties)
  if (!cleaned.ok) return failure(rawId, cleaned.reason)
  const properties = cleaned.properties

  const hubspotUpdatedAt =
    parseHubSpotTime(contact.updatedAt) ?? parseHubSpotTime(properties.lastmodifieddate)
  if (hubspotUpdatedAt === null) return failure(rawId, 'missing or invalid updatedAt')
  const hubspotCreatedAt =
    parseHubSpotTime(contact.createdAt) ?? parseHubSpotTime(properties.createdate)

  return {
    ok: true,
    contact: {
      contactId,
      ...mapColumns(properties),
      properties,
      hubspotCreatedAt,
      hubspotUpdatedAt,
      contentHash: hashProperties(properties),
      mergedContactIds: parseMergedIds(properties.hs_merged_object_ids, contactId),
      archived: contact.archived === true,
      nulCharactersRemoved: cleaned.nulCharactersRemoved,
    },
  }
}

function failure(contactId: string | null, reason: string): MappingResult {
  return { ok: false, contactId, reason }
}

/** Returns a positive id that fits a bigint and a JavaScript number exactly, else null. */
export function parseContactId(value: string | null | undefined): number | null {
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return null
  const id = Number(value)
  return id > 0 && Number.isSafeInteger(id) ? id : null
}

// A date-time without `Z` or an offset, which Date.parse would read in the local time zone.
const localDateTimePattern = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/

/**
 * Parses HubSpot's ISO 8601 strings and the epoch-millisecond strings some endpoints send.
 * Date-only values are UTC days (ECMA-262 reads them as UTC), and date-times without an
 * offset count as UTC too, so the result never depends on the server's time zone.
 */
export function parseHubSpotTime(value: unknown): Date | null {
  if (typeof value !== 'string' || value === '') return null
  if (/^\d{1,15}$/.test(value)) return new Date(Number(value))
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return null
  const local = localDateTimePattern.exec(value)
  const time = Date.parse(local ? `${local[1]}T${local[2]}Z` : value)
  return Number.isNaN(time) ? null : new Date(time)
}

type CleanedProperties =
  | { ok: true; properties: Record<string, string | null>; nulCharactersRemoved: number }
  | { ok: false; reason: string }

function cleanProperties(input: unknown): CleanedProperties {
  if (input === undefined || input === null) return { ok: true, properties: {}, nulCharactersRemoved: 0 }
  if (typeof input !== 'object' || Array.isArray(input)) return { ok: false, reason: 'invalid properties' }

  const entries: [string, string | null][] = []
  let nulCharactersRemoved = 0
  for (const [rawKey, rawValue] of Object.entries(input)) {
    const value = stringValue(rawValue)
    if (value === undefined) return { ok: false, reason: `invalid value for property ${rawKey}` }
    const key = cleanText(rawKey)
    nulCharactersRemoved += key.removed
    if (value === null) {
      entries.push([key.text, null])
      continue
    }
    const cleaned = cleanText(value)
    nulCharactersRemoved += cleaned.removed
    entries.push([key.text, cleaned.text])
  }
  // fromEntries defines own properties, so a property named __proto__ is kept as data
  // instead of replacing the object's prototype, as `properties[key] = value` would.
  return { ok: true, properties: Object.fromEntries(entries), nulCharactersRemoved }
}

/** HubSpot sends strings or null; numbers and booleans are kept as the strings they print. */
function stringValue(value: unknown): string | null | undefined {
  if (value === null || typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

function cleanText(value: string): { text: string; removed: number } {
  let removed = 0
  let text = value
  if (text.includes('\u0000')) {
    text = text.replace(nulPattern, () => {
      removed += 1
      return ''
    })
  }
  if (surrogatePattern.test(text)) text = text.replace(loneSurrogatePattern, '\uFFFD')
  return { text, removed }
}

function mapColumns(properties: Record<string, string | null>): LeadMappedFields {
  return {
    email: present(properties.email),
    firstName: present(properties.firstname),
    lastName: present(properties.lastname),
    phone: present(properties.phone) ?? present(properties.mobilephone),
    company: present(properties.company),
    jobTitle: present(properties.jobtitle),
    lifecycleStage: present(properties.lifecyclestage),
    hubspotOwnerId: present(properties.hubspot_owner_id),
  }
}

/** HubSpot clears a property to the empty string; the typed column stores that as null. */
function present(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : value
}

/** Hashes the properties in key order, without the modification-time properties. */
export function hashProperties(properties: Record<string, string | null>): string {
  const entries = Object.keys(properties)
    .filter((key) => !modificationTimeProperties.has(key))
    .sort()
    .map((key) => [key, properties[key]])
  return createHash('sha256').update(JSON.stringify(entries)).digest('base64url')
}

/** Parses `hs_merged_object_ids` ("101;102"), leaving out invalid ids and the survivor itself. */
export function parseMergedIds(value: string | null | undefined, survivorId: number): number[] {
  if (!value) return []
  const ids = new Set<number>()
  for (const part of value.split(';')) {
    const id = parseContactId(part.trim())
    if (id !== null && id !== survivorId) ids.add(id)
  }
  return [...ids]
}
