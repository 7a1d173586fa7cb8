import { generateSeededProperties, type PropertyValues } from './seedData.js'

/** One entry of a property's history, as `propertiesWithHistory` returns it. */
export interface PropertyHistoryEntry {
  value: string
  timestamp: number
  sourceType: string
  sourceId?: string
}

/** Copy of a contact that search reads while a write waits out the index lag. */
export interface SearchView {
  properties: PropertyValues
  createdAtMs: number
  updatedAtMs: number
  archived: boolean
}

/**
 * One stored contact. Seeded contacts keep `properties` null until their first write and
 * regenerate their values from (seed, seedIndex), so a million of them fit in little memory.
 */
export interface ContactRecord {
  id: number
  seedIndex: number
  properties: PropertyValues | null
  history: Record<string, PropertyHistoryEntry[]> | null
  createdAtMs: number
  updatedAtMs: number
  archivedAtMs: number | null
  /**
   * Search's copy while a write is not yet indexed. Undefined means search reads the live record,
   * and null means search does not return the record at all (created, not yet indexed).
   */
  searchView: SearchView | null | undefined
  /** Key under which the record sits in the search index (lastmodified ms), or null when absent. */
  indexedModifiedMs: number | null
  /** Set when a merge or GDPR delete removed the record, so a pending index change cannot revive it. */
  removed?: boolean
}

/** Returns a new record with its own property values (created, not yet indexed). */
export function newContactRecord(
  id: number,
  properties: PropertyValues,
  createdAtMs: number,
  updatedAtMs: number,
): ContactRecord {
  return {
    id,
    seedIndex: -1,
    properties,
    history: null,
    createdAtMs,
    updatedAtMs,
    archivedAtMs: null,
    searchView: null,
    indexedModifiedMs: null,
  }
}

/** Properties whose values the store derives from record fields rather than storing them. */
export const derivedProperties = new Set(['createdate', 'lastmodifieddate', 'hs_object_id'])

/** Properties typed as datetimes: filter values are epoch ms, responses show ISO strings. */
export const datetimeProperties = new Set([
  'createdate',
  'lastmodifieddate',
  'hs_lastmodifieddate',
  'closedate',
  'hs_lifecyclestage_lead_date',
])

/** Properties typed as numbers for sorting and range filters. */
export const numberProperties = new Set(['hs_object_id', 'hubspot_owner_id', 'annualrevenue', 'num_employees'])

/** Enumeration properties match case-sensitively in search. */
export const enumerationProperties = new Set(['lifecyclestage', 'hs_lead_status'])

/** The contact properties this portal defines. Any other name is unknown and dropped. */
export const definedProperties = new Set([
  'firstname', 'lastname', 'email', 'phone', 'mobilephone', 'company', 'website', 'jobtitle',
  'lifecyclestage', 'hs_lead_status', 'hubspot_owner_id', 'city', 'state', 'country', 'zip',
  'address', 'industry', 'annualrevenue', 'num_employees', 'fax', 'message', 'salutation',
  'createdate', 'lastmodifieddate', 'hs_lastmodifieddate', 'hs_object_id', 'hs_merged_object_ids',
  'hs_calculated_merged_vids', 'hs_email_domain', 'closedate', 'hs_lifecyclestage_lead_date',
])

/** Returns the stored (non-derived) properties of a record, generating seeded ones on demand. */
export function storedProperties(record: ContactRecord, seed: number): PropertyValues {
  return record.properties ?? generateSeededProperties(seed, record.seedIndex)
}

/** Returns a property value as search and responses see it: derived values included, ms for datetimes. */
export function rawPropertyValue(
  name: string,
  properties: PropertyValues,
  id: number,
  createdAtMs: number,
  updatedAtMs: number,
): string | null {
  switch (name) {
    case 'createdate':
      return String(createdAtMs)
    case 'lastmodifieddate':
      return String(updatedAtMs)
    case 'hs_object_id':
      return String(id)
    case 'hs_lastmodifieddate':
      // NOTE: for contacts HubSpot keeps this property stale, so filters on it return wrong or
      // empty results. The simulator pins it to the creation time to reproduce that.
      return String(createdAtMs)
    case 'hs_email_domain': {
      const email = properties.email
      return email ? (email.split('@')[1] ?? null) : null
    }
    default:
      return properties[name] ?? null
  }
}
