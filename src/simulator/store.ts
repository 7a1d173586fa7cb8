import { newContactRecord, storedProperties, type ContactRecord } from './contactRecord.js'
import type { ContactChange, WriteOptions } from './contactChange.js'
import { EmailIndex } from './emailIndex.js'
import { recordHistory } from './propertyHistory.js'
import { createRandom, type Random } from './random.js'
import { holdSearchView, indexAfterWrite, SearchIndex } from './searchIndex.js'
import { seedRecords, type SeedPlan } from './seeding.js'
import type { PropertyValues } from './seedData.js'
import { SimulatorError } from './simulatorError.js'
import { insertSorted, lowerBound, removeSorted } from './sortedIds.js'
import { cleanProperties, mergedIdList, mergeValues } from './writeValues.js'

export interface StoreSettings {
  seedPlan: SeedPlan
  nowMs: () => number
  indexLagMs: () => number
}

/** Records in the recycle bin can be restored for 90 days. */
const restoreWindowMs = 90 * 24 * 3600 * 1000

/**
 * All contacts of one simulated portal, with the lookups the HubSpot endpoints need. Every
 * write lands in the live state at once and in the search index after the index lag.
 */
export class ContactStore {
  readonly seed: number
  readonly searchIndex = new SearchIndex()
  private readonly records = new Map<number, ContactRecord>()
  /** Ids of unarchived contacts, ascending: the order of the list endpoint. */
  private activeIds: number[] = []
  private archivedIds: number[] = []
  private readonly mergedInto = new Map<number, number>()
  private readonly gdprDeletedIds = new Set<number>()
  private readonly emailIndex: EmailIndex
  private readonly idRandom: Random
  private lastId: number
  private readonly listeners: ((change: ContactChange) => void)[] = []

  constructor(private readonly settings: StoreSettings) {
    this.seed = settings.seedPlan.seed
    this.emailIndex = new EmailIndex(this.records, this.seed)
    this.idRandom = createRandom(this.seed, 0x51d)
    const seeded = seedRecords(settings.seedPlan)
    for (const record of seeded) this.records.set(record.id, record)
    this.activeIds = seeded.map((record) => record.id)
    this.lastId = seeded.length > 0 ? seeded[seeded.length - 1].id : settings.seedPlan.firstId - 1
    this.searchIndex.rebuild(seeded)
  }

  /** Registers a listener for every change (used by the webhook sender). */
  onChange(listener: (change: ContactChange) => void): void {
    this.listeners.push(listener)
  }

  get size(): number {
    return this.records.size
  }

  /** Returns the record stored under `id`, archived or not, without following merges. */
  find(id: number): ContactRecord | null {
    return this.records.get(id) ?? null
  }

  /** Follows merges: an id merged away resolves to the record that absorbed it. */
  resolve(id: number): ContactRecord | null {
    let current = id
    for (let hops = 0; hops < 64; hops++) {
      const record = this.records.get(current)
      if (record) return record
      const next = this.mergedInto.get(current)
      if (next === undefined) return null
      current = next
    }
    return null
  }

  findByEmail(email: string): ContactRecord | null {
    const id = this.emailIndex.findId(email)
    return id === undefined ? null : (this.records.get(id) ?? null)
  }

  isGdprDeleted(id: number): boolean {
    return this.gdprDeletedIds.has(id)
  }

  /** Returns up to `limit` records in id order from `afterId` (inclusive), and the id after them. */
  listPage(afterId: number, limit: number, archived: boolean): { records: ContactRecord[]; nextId: number | null } {
    const ids = archived ? this.archivedIds : this.activeIds
    const position = lowerBound(ids, afterId)
    const slice = ids.slice(position, position + limit + 1)
    const records = slice.slice(0, limit).map((id) => this.records.get(id) as ContactRecord)
    return { records, nextId: slice.length > limit ? slice[limit] : null }
  }

  all(): IterableIterator<ContactRecord> {
    return this.records.values()
  }

  /** Brings the search index up to date with every write whose index lag has passed. */
  refreshSearchIndex(): void {
    this.searchIndex.refresh(this.settings.nowMs(), () => this.records.values())
  }

  create(properties: PropertyValues, options: WriteOptions = {}): ContactRecord {
    const values = cleanProperties(properties)
    const email = values.email?.toLowerCase()
    if (email) this.emailIndex.assertEmailFree(email)
    const nowMs = options.atMs ?? this.settings.nowMs()
    const record = newContactRecord(this.nextId(), values, nowMs, nowMs)
    this.records.set(record.id, record)
    this.activeIds.push(record.id)
    if (email) this.emailIndex.set(email, record.id)
    this.afterWrite(record, nowMs)

    const changeSource = options.changeSource ?? 'CRM_UI'
    this.emit({ kind: 'creation', id: record.id, occurredAtMs: nowMs, changeSource, properties: values })
    return record
  }

  update(id: number, properties: PropertyValues, options: WriteOptions = {}): ContactRecord {
    const nowMs = options.atMs ?? this.settings.nowMs()
    const record = this.requireActive(id)
    const changed = this.applyProperties(record, cleanProperties(properties, true), nowMs, options.changeSource ?? 'CRM_UI')
    this.emitPropertyChanges(record, changed, nowMs, options.changeSource ?? 'CRM_UI')
    return record
  }

  /** Updates many contacts stamping all of them with one shared lastmodifieddate, as HubSpot bulk jobs do. */
  bulkUpdate(ids: readonly number[], properties: PropertyValues, options: WriteOptions = {}): number {
    const nowMs = options.atMs ?? this.settings.nowMs()
    const changeSource = options.changeSource ?? 'CRM_UI_BULK_ACTION'
    const values = cleanProperties(properties, true)
    for (const id of ids) {
      const record = this.requireActive(id)
      const changed = this.applyProperties(record, values, nowMs, changeSource)
      this.emitPropertyChanges(record, changed, nowMs, changeSource)
    }
    return nowMs
  }

  /** Moves a contact to the recycle bin (`DELETE /crm/v3/objects/contacts/{id}`). */
  archive(id: number, options: WriteOptions = {}): ContactRecord {
    const nowMs = options.atMs ?? this.settings.nowMs()
    const record = this.requireActive(id)
    this.beforeWrite(record)
    record.archivedAtMs = nowMs
    removeSorted(this.activeIds, id)
    insertSorted(this.archivedIds, id)
    this.afterWrite(record, nowMs)
    this.emit({ kind: 'deletion', id, occurredAtMs: nowMs, changeSource: options.changeSource ?? 'CRM_UI' })
    return record
  }

  /** Takes a contact out of the recycle bin; HubSpot allows this for 90 days. */
  restore(id: number, options: WriteOptions = {}): ContactRecord {
    const nowMs = options.atMs ?? this.settings.nowMs()
    const record = this.records.get(id)
    if (!record || record.archivedAtMs === null) throw SimulatorError.notFound(id)
    if (nowMs - record.archivedAtMs > restoreWindowMs) throw SimulatorError.notFound(id)
    this.beforeWrite(record)
    record.archivedAtMs = null
    record.updatedAtMs = nowMs
    removeSorted(this.archivedIds, id)
    insertSorted(this.activeIds, id)
    this.afterWrite(record, nowMs)
    this.emit({ kind: 'restore', id, occurredAtMs: nowMs, changeSource: options.changeSource ?? 'CRM_UI' })
    return record
  }

  /**
   * Merges `mergedId` into `primaryId`. As HubSpot now does, the result is a new record with a new
   * id; both old ids redirect to it and `hs_merged_object_ids` lists them. Values come from the
   * primary; the merged contact only fills properties the primary leaves empty.
   */
  merge(primaryId: number, mergedId: number, options: WriteOptions & { keepPrimaryId?: boolean } = {}): ContactRecord {
    if (primaryId === mergedId) throw SimulatorError.validation('Cannot merge a contact into itself.')
    const nowMs = options.atMs ?? this.settings.nowMs()
    const primary = this.requireActive(primaryId)
    const merged = this.requireActive(mergedId)
    const { values, moved } = mergeValues(storedProperties(primary, this.seed), storedProperties(merged, this.seed))
    const absorbed = mergedIdList(values.hs_merged_object_ids, storedProperties(merged, this.seed), primaryId, mergedId)
    values.hs_merged_object_ids = absorbed.join(';')
    values.hs_calculated_merged_vids = absorbed.map((id) => `${id}:${nowMs}`).join(';')

    this.dropRecord(primary)
    this.dropRecord(merged)
    const survivor = this.insertMerged(options.keepPrimaryId ? primaryId : this.nextId(), values, primary, merged, nowMs)
    for (const id of [primaryId, mergedId]) if (id !== survivor.id) this.mergedInto.set(id, survivor.id)

    this.emit({
      kind: 'merge', id: primaryId, occurredAtMs: nowMs, changeSource: options.changeSource ?? 'CRM_UI',
      primaryId, mergedIds: [mergedId], newId: survivor.id, numberOfPropertiesMoved: moved,
    })
    return survivor
  }

  /** Deletes a contact for good (GDPR). An unknown email is blocklisted, as HubSpot does. */
  gdprDelete(target: { id?: number; email?: string }, options: WriteOptions = {}): number | null {
    const nowMs = options.atMs ?? this.settings.nowMs()
    const record = target.email !== undefined ? this.findByEmail(target.email) : this.resolve(target.id ?? -1)
    if (!record) {
      if (target.email !== undefined) {
        this.emailIndex.block(target.email)
        return null
      }
      throw SimulatorError.notFound(target.id ?? -1)
    }
    const email = storedProperties(record, this.seed).email
    if (email) this.emailIndex.block(email)
    this.dropRecord(record)
    this.gdprDeletedIds.add(record.id)

    const changeSource = options.changeSource ?? 'CRM_UI'
    this.emit({ kind: 'privacyDeletion', id: record.id, occurredAtMs: nowMs, changeSource })
    this.emit({ kind: 'deletion', id: record.id, occurredAtMs: nowMs, changeSource })
    return record.id
  }

  private insertMerged(
    id: number,
    values: PropertyValues,
    primary: ContactRecord,
    merged: ContactRecord,
    nowMs: number,
  ): ContactRecord {
    const record = newContactRecord(id, values, Math.min(primary.createdAtMs, merged.createdAtMs), nowMs)
    this.records.set(id, record)
    insertSorted(this.activeIds, id)
    if (values.email) this.emailIndex.set(values.email.toLowerCase(), id)
    this.afterWrite(record, nowMs)
    return record
  }

  private dropRecord(record: ContactRecord): void {
    this.emailIndex.forget(record)
    this.records.delete(record.id)
    record.removed = true
    removeSorted(record.archivedAtMs === null ? this.activeIds : this.archivedIds, record.id)
    this.searchIndex.remove(record)
  }

  private applyProperties(record: ContactRecord, values: PropertyValues, nowMs: number, sourceType: string): string[] {
    this.beforeWrite(record)
    const current = this.materialize(record)
    const changed: string[] = []
    for (const [name, value] of Object.entries(values)) {
      const normalized = value === '' ? null : value
      if ((current[name] ?? null) === normalized) continue
      if (name === 'email' && normalized) this.emailIndex.moveEmail(record, current.email ?? null, normalized)
      if (normalized === null) delete current[name]
      else current[name] = normalized
      recordHistory(record, name, normalized ?? '', nowMs, sourceType, this.seed)
      changed.push(name)
    }
    // HubSpot bumps lastmodifieddate on every accepted write, even one that changes nothing.
    record.updatedAtMs = nowMs
    this.afterWrite(record, nowMs)
    return changed
  }

  private emitPropertyChanges(record: ContactRecord, changed: string[], nowMs: number, changeSource: string): void {
    if (changed.length === 0) return
    const current = storedProperties(record, this.seed)
    const properties: PropertyValues = {}
    for (const name of changed) properties[name] = current[name] ?? null
    this.emit({ kind: 'propertyChange', id: record.id, occurredAtMs: nowMs, changeSource, properties })
  }

  private materialize(record: ContactRecord): PropertyValues {
    record.properties ??= storedProperties(record, this.seed)
    return record.properties
  }

  private beforeWrite(record: ContactRecord): void {
    holdSearchView(record, this.settings.indexLagMs(), this.seed)
  }

  private afterWrite(record: ContactRecord, nowMs: number): void {
    const writtenAtMs = () => Math.max(nowMs, this.settings.nowMs())
    indexAfterWrite(this.searchIndex, record, this.settings.indexLagMs(), writtenAtMs)
  }

  private requireActive(id: number): ContactRecord {
    const record = this.records.get(id)
    if (!record || record.archivedAtMs !== null) throw SimulatorError.notFound(id)
    return record
  }

  private nextId(): number {
    this.lastId += this.idRandom.int(1, 50)
    return this.lastId
  }

  private emit(change: ContactChange): void {
    for (const listener of this.listeners) listener(change)
  }
}

