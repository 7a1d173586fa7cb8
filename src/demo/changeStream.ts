import { setTimeout as delay } from 'node:timers/promises'

import { createRandom, type Random } from '../simulator/random.js'
import { generateSeededProperties } from '../simulator/seedData.js'
import type { Simulator } from '../simulator/server.js'
import type { PrintLine } from './leadEventPrinter.js'

/** The repeating order of changes: mostly creations and edits, now and then a merge and a deletion. */
const changeCycle = ['create', 'update', 'create', 'update', 'merge', 'create', 'update', 'delete'] as const
type ChangeKind = (typeof changeCycle)[number]

const jobTitles = ['Head of Sales', 'CTO', 'Procurement Manager', 'Marketing Lead', 'Founder', 'Office Manager']
const lifecycleStages = ['lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer']

export interface ChangeStreamOptions {
  sim: Simulator
  seed: number
  /** Seed index of the first new contact; later ones count up, so emails stay unique. */
  firstSeedIndex: number
  intervalMs: number
  /** The stream stops at this instant (epoch ms) or when `signal` aborts, whichever comes first. */
  untilMs: number
  signal: AbortSignal
  print: PrintLine
}

/**
 * Changes contacts in the simulator at a steady pace. Each write makes the simulator's webhook
 * sender post signed events to the service, which imports the contacts and publishes lead
 * events. Returns how many changes were made.
 */
export async function runChangeStream(options: ChangeStreamOptions): Promise<number> {
  const random = createRandom(options.seed, 0xde70)
  const activeIds = options.sim.contacts.ids()
  let changes = 0

  while (Date.now() + options.intervalMs <= options.untilMs && !options.signal.aborted) {
    const isAborted = await delay(options.intervalMs, false, { signal: options.signal }).catch(() => true)
    if (isAborted) break

    const kind = changeCycle[changes % changeCycle.length]
    const line = applyChange(kind, options, random, activeIds, options.firstSeedIndex + changes)
    options.print(`> ${line}`)
    changes++
  }
  return changes
}

function applyChange(kind: ChangeKind, options: ChangeStreamOptions, random: Random, activeIds: string[], seedIndex: number): string {
  const { contacts } = options.sim
  if (kind === 'create') {
    const created = contacts.create(generateSeededProperties(options.seed, seedIndex))
    activeIds.push(created.id)
    return `HubSpot: created contact ${created.id} ${describe(created.properties)}`
  }
  if (kind === 'update') {
    const id = random.pick(activeIds)
    const properties = { jobtitle: random.pick(jobTitles), lifecyclestage: random.pick(lifecycleStages) }
    contacts.update(id, properties)
    return `HubSpot: contact ${id} is now ${properties.jobtitle}, ${properties.lifecyclestage}`
  }
  if (kind === 'merge') return mergeTwo(options.sim, random, activeIds)

  const id = takeRandom(random, activeIds)
  contacts.archive(id)
  return `HubSpot: deleted (archived) contact ${id}`
}

function mergeTwo(sim: Simulator, random: Random, activeIds: string[]): string {
  const primaryId = takeRandom(random, activeIds)
  const mergedId = takeRandom(random, activeIds)
  const survivor = sim.contacts.merge(primaryId, mergedId)
  activeIds.push(survivor.id)
  return `HubSpot: merged contact ${mergedId} into ${primaryId}; the merged contact has the new id ${survivor.id}`
}

function takeRandom(random: Random, ids: string[]): string {
  const index = random.int(0, ids.length - 1)
  return ids.splice(index, 1)[0]
}

function describe(properties: Record<string, string | null>): string {
  const name = [properties.firstname, properties.lastname].filter(Boolean).join(' ')
  return properties.email ? `${name} <${properties.email}>` : name
}
