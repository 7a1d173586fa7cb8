import type { ContactRecord } from './contactRecord.js'
import { createRandom } from './random.js'

export interface SeedPlan {
  seed: number
  contacts: number
  /** Id of the first seeded contact; later ids grow by seeded gaps of 1 to 50, as HubSpot's do. */
  firstId: number
  /** Seeded contacts are created during the three years before this instant. */
  anchorMs: number
  /** Share (0..1) of contacts whose lastmodifieddate is one of a few bulk-job stamps shared by many. */
  bulkStampShare: number
}

const dayMs = 24 * 3600 * 1000
const seedSpanMs = 3 * 365 * dayMs
/** Average number of contacts stamped by one simulated bulk job. */
const contactsPerBulkStamp = 400

/**
 * Creates the seeded records: ascending ids, creation times ascending with the id, modification
 * times after creation, and groups of contacts sharing one millisecond as bulk jobs leave them.
 */
export function seedRecords(plan: SeedPlan): ContactRecord[] {
  const random = createRandom(plan.seed, 0x5eed)
  const startMs = plan.anchorMs - seedSpanMs
  const stepMs = plan.contacts > 0 ? (seedSpanMs - dayMs) / plan.contacts : 0
  const bulkStamps = createBulkStamps(plan, startMs)
  const records: ContactRecord[] = new Array(plan.contacts)
  let id = plan.firstId

  for (let index = 0; index < plan.contacts; index++) {
    const createdAtMs = Math.floor(startMs + index * stepMs + random.next() * stepMs)
    let updatedAtMs = createdAtMs + random.int(0, 5000)
    if (random.chance(0.6)) updatedAtMs = createdAtMs + Math.floor(random.next() * (plan.anchorMs - createdAtMs))
    if (bulkStamps.length > 0 && random.chance(plan.bulkStampShare)) {
      const stamp = bulkStamps[random.int(0, bulkStamps.length - 1)]
      if (stamp > createdAtMs) updatedAtMs = stamp
    }
    records[index] = {
      id,
      seedIndex: index,
      properties: null,
      history: null,
      createdAtMs,
      updatedAtMs,
      archivedAtMs: null,
      searchView: undefined,
      indexedModifiedMs: null,
    }
    id += random.int(1, 50)
  }
  return records
}

function createBulkStamps(plan: SeedPlan, startMs: number): number[] {
  const random = createRandom(plan.seed, 0xb01c)
  const count = Math.max(1, Math.round((plan.contacts * plan.bulkStampShare) / contactsPerBulkStamp))
  if (plan.bulkStampShare <= 0) return []
  // Bulk jobs run late in the seeded span, so most contacts exist when they run.
  return Array.from({ length: count }, () => Math.floor(startMs + seedSpanMs * (0.5 + 0.5 * random.next())))
}
