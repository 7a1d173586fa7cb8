import { derivedProperties } from './contactRecord.js'
import type { PropertyValues } from './seedData.js'

/* Value rules of contact writes: cleaning the input, and merging the values of two contacts. */

/** Drops derived and unknown properties; HubSpot refuses unknown ones, the HTTP layer checks first. */
export function cleanProperties(properties: PropertyValues, keepCleared = false): PropertyValues {
  const values: PropertyValues = {}
  for (const [name, value] of Object.entries(properties)) {
    if (derivedProperties.has(name)) continue
    // On update, null and '' clear a property; on create they mean no value.
    if (value === null || value === '') {
      if (keepCleared) values[name] = ''
      continue
    }
    values[name] = String(value)
  }
  return values
}

export function mergeValues(primary: PropertyValues, merged: PropertyValues): { values: PropertyValues; moved: number } {
  const values: PropertyValues = { ...primary }
  let moved = 0
  for (const [name, value] of Object.entries(merged)) {
    if (name === 'email' || value === null || (values[name] ?? null) !== null) continue
    values[name] = value
    moved++
  }
  return { values, moved }
}

export function mergedIdList(primaryList: string | null | undefined, merged: PropertyValues, ...ids: number[]): string[] {
  const all = [primaryList, merged.hs_merged_object_ids, ...ids.map(String)]
  const unique = new Set(all.flatMap((entry) => (entry ? entry.split(';') : [])).filter(Boolean))
  return [...unique]
}
