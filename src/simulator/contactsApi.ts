import { storedProperties, type ContactRecord } from './contactRecord.js'
import type { SimulatorCore } from './core.js'
import { liveState, renderContact, type SimplePublicObject } from './render.js'
import type { PropertyValues } from './seedData.js'
import type { WriteOptions } from './contactChange.js'

/** A contact with every property it has a value for, as the in-process API returns it. */
export type SimulatorContact = SimplePublicObject

export type ContactId = number | string

/**
 * In-process writes and reads for tests. Writes behave like the HubSpot endpoints: they bump
 * lastmodifieddate, reach search after the index lag and queue webhook events.
 */
export interface SimulatorContactsApi {
  create(properties: PropertyValues, options?: WriteOptions): SimulatorContact
  update(id: ContactId, properties: PropertyValues, options?: WriteOptions): SimulatorContact
  archive(id: ContactId, options?: WriteOptions): SimulatorContact
  restore(id: ContactId, options?: WriteOptions): SimulatorContact
  /** Merges `mergedId` into `primaryId`; the survivor gets a new id unless `keepPrimaryId` is set. */
  merge(primaryId: ContactId, mergedId: ContactId, options?: WriteOptions & { keepPrimaryId?: boolean }): SimulatorContact
  gdprDelete(target: ContactId | { email: string }, options?: WriteOptions): void
  /** Updates every listed contact with one shared lastmodifieddate; returns it as ISO. */
  bulkUpdate(ids: readonly ContactId[], properties: PropertyValues, options?: WriteOptions): string
  /** The contact stored under `id` (archived included); merged-away ids give null. */
  get(id: ContactId): SimulatorContact | null
  /** The contact that a HubSpot read of `id` returns, following merges. */
  resolve(id: ContactId): SimulatorContact | null
  /** Every stored contact in id order, archived ones included. */
  all(): SimulatorContact[]
  /** Ids of every stored contact in id order, as strings. */
  ids(): string[]
  count(): number
}

export function createContactsApi(core: SimulatorCore): SimulatorContactsApi {
  const { store } = core
  const render = (record: ContactRecord) => renderFull(core, record)
  return {
    create: (properties, options) => render(store.create(properties, options)),
    update: (id, properties, options) => render(store.update(Number(id), properties, options)),
    archive: (id, options) => render(store.archive(Number(id), options)),
    restore: (id, options) => render(store.restore(Number(id), options)),
    merge: (primaryId, mergedId, options) => render(store.merge(Number(primaryId), Number(mergedId), options)),
    gdprDelete: (target, options) => {
      store.gdprDelete(typeof target === 'object' ? { email: target.email } : { id: Number(target) }, options)
    },
    bulkUpdate: (ids, properties, options) =>
      new Date(store.bulkUpdate(ids.map(Number), properties, options)).toISOString(),
    get: (id) => {
      const record = store.find(Number(id))
      return record ? render(record) : null
    },
    resolve: (id) => {
      const record = store.resolve(Number(id))
      return record ? render(record) : null
    },
    all: () => sortedRecords(core).map(render),
    ids: () => sortedRecords(core).map((record) => String(record.id)),
    count: () => store.size,
  }
}

function sortedRecords(core: SimulatorCore): ContactRecord[] {
  return [...core.store.all()].sort((a, b) => a.id - b.id)
}

function renderFull(core: SimulatorCore, record: ContactRecord): SimulatorContact {
  const context = core.renderContext()
  const names = [...Object.keys(storedProperties(record, context.seed)), 'createdate', 'hs_object_id', 'lastmodifieddate']
  return renderContact(liveState(record, context.seed), [...new Set(names)].sort(), context)
}
