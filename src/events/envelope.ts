import { randomUUID } from 'node:crypto'

/** CloudEvents 1.0 JSON envelope, as every subject carries it. */
export interface CloudEvent<Data = Record<string, unknown>> {
  specversion: '1.0'
  id: string
  source: string
  type: string
  time: string
  subject?: string
  datacontenttype: 'application/json'
  data: Data
}

export interface NewEvent<Data = Record<string, unknown>> {
  type: string
  subject?: string
  data: Data
  /** A deterministic id makes a repeated effect publish the same message, which JetStream drops. */
  id?: string
  /** Defaults to now. */
  time?: Date
  /** Defaults to `hubspot-sync`; lead events use `hubspot-sync/portal/<portalId>`. */
  source?: string
}

export function buildEvent<Data>(event: NewEvent<Data>): CloudEvent<Data> {
  const envelope: CloudEvent<Data> = {
    specversion: '1.0',
    id: event.id ?? randomUUID(),
    source: event.source ?? 'hubspot-sync',
    type: event.type,
    time: (event.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    data: event.data,
  }
  if (event.subject !== undefined) envelope.subject = event.subject
  return envelope
}

export function portalSource(portalId: number): string {
  return `hubspot-sync/portal/${portalId}`
}
