import type { PropertyValues } from './seedData.js'

/** A change to the contacts of the portal, as the webhook sender reports it. */
export type ContactChange =
  | { kind: 'creation'; id: number; occurredAtMs: number; changeSource: string; properties: PropertyValues }
  | { kind: 'propertyChange'; id: number; occurredAtMs: number; changeSource: string; properties: PropertyValues }
  | { kind: 'deletion' | 'restore' | 'privacyDeletion'; id: number; occurredAtMs: number; changeSource: string }
  | {
      kind: 'merge'
      id: number
      occurredAtMs: number
      changeSource: string
      primaryId: number
      mergedIds: number[]
      newId: number
      numberOfPropertiesMoved: number
    }

export interface WriteOptions {
  /** `changeSource` of the webhook events; defaults to CRM_UI in-process and API over HTTP. */
  changeSource?: string
  /** Overrides the clock for this write (e.g. to create history in the past). */
  atMs?: number
}
