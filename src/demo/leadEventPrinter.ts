import { setTimeout as delay } from 'node:timers/promises'

import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node'

import type { CloudEvent } from '../events/envelope.js'
import { prefixedSubject } from '../events/subjects.js'

/** Writes one line of demo output. */
export type PrintLine = (line: string) => void

/** Counts of the events the printer received, by unprefixed subject. */
export type EventCounts = Record<string, number>

export interface LeadEventPrinter {
  counts: EventCounts
  /** While quiet, events are counted but not printed (used during the first sync). */
  setQuiet(isQuiet: boolean): void
  /** Resolves once `count` events of `subject` have arrived, or after `timeoutMs`; returns true when they did. */
  waitFor(subject: string, count: number, timeoutMs: number): Promise<boolean>
  /** Resolves once no event has arrived for `quietMs` since the call, or after `timeoutMs`. */
  waitForQuiet(quietMs: number, timeoutMs: number): Promise<void>
  close(): Promise<void>
}

/**
 * Subscribes to every lead and sync subject under the prefix with a plain NATS subscription
 * (JetStream publishes reach core subscribers too) and prints each CloudEvent as it arrives.
 */
export async function startLeadEventPrinter(natsUrl: string, prefix: string, print: PrintLine): Promise<LeadEventPrinter> {
  const connection = await connect({ servers: natsUrl, name: 'hubspot-sync-demo' })
  const counts: EventCounts = {}
  const waiters = new Set<() => void>()
  let isQuiet = false
  let lastEventAtMs = Date.now()

  const onEvent = (event: CloudEvent) => {
    lastEventAtMs = Date.now()
    counts[event.type] = (counts[event.type] ?? 0) + 1
    if (!isQuiet) print(formatEvent(event))
    for (const check of waiters) check()
  }
  const subscriptions = [
    subscribe(connection, prefixedSubject(prefix, 'leads.>'), onEvent, print),
    subscribe(connection, prefixedSubject(prefix, 'hubspot.sync.>'), onEvent, print),
  ]
  await connection.flush()

  return {
    counts,
    setQuiet: (value) => {
      isQuiet = value
    },
    waitFor: (subject, count, timeoutMs) => waitForCount(counts, waiters, subject, count, timeoutMs),
    waitForQuiet: (quietMs, timeoutMs) => waitForQuiet(() => lastEventAtMs, quietMs, timeoutMs),
    close: () => closeConnection(connection, subscriptions),
  }
}

function subscribe(
  connection: NatsConnection,
  subject: string,
  onEvent: (event: CloudEvent) => void,
  print: PrintLine,
): Subscription {
  return connection.subscribe(subject, {
    callback: (error, message) => {
      if (error) {
        print(`  ! subscription to ${subject} failed: ${error.message}`)
        return
      }
      onEvent(message.json<CloudEvent>())
    },
  })
}

function waitForCount(
  counts: EventCounts,
  waiters: Set<() => void>,
  subject: string,
  count: number,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (isDone: boolean) => {
      clearTimeout(timer)
      waiters.delete(check)
      resolve(isDone)
    }
    const check = () => {
      if ((counts[subject] ?? 0) >= count) finish(true)
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    waiters.add(check)
    check()
  })
}

async function waitForQuiet(lastEventAtMs: () => number, quietMs: number, timeoutMs: number): Promise<void> {
  const startedAtMs = Date.now()
  const deadlineMs = startedAtMs + timeoutMs
  while (Date.now() < deadlineMs) {
    const quietForMs = Date.now() - Math.max(lastEventAtMs(), startedAtMs)
    if (quietForMs >= quietMs) return
    await delay(Math.min(quietMs - quietForMs, deadlineMs - Date.now()))
  }
}

async function closeConnection(connection: NatsConnection, subscriptions: Subscription[]): Promise<void> {
  for (const subscription of subscriptions) subscription.unsubscribe()
  await connection.close()
}

/** Formats one event as a single line: subject, lead, contact, name and origin. */
export function formatEvent(event: CloudEvent): string {
  const data = event.data as Record<string, unknown>
  const time = event.time.slice(11, 23)
  if (event.type.startsWith('hubspot.sync.')) {
    const counts = JSON.stringify(data.counts)
    return `  ${time}  ${event.type.padEnd(16)} run ${String(data.runId)} ${String(data.status)} ${counts}`
  }
  const name = [data.firstName, data.lastName].filter((part) => typeof part === 'string' && part !== '').join(' ')
  const email = typeof data.email === 'string' ? ` <${data.email}>` : ''
  const extra = describeExtra(event.type, data)
  const who = `${name}${email}`.trim() || '(no name)'
  return `  ${time}  ${event.type.padEnd(16)} lead ${String(data.leadId)}  contact ${String(data.hubspotContactId)}  ${who}${extra}`
}

function describeExtra(type: string, data: Record<string, unknown>): string {
  if (type === 'leads.merged') return `  absorbed contacts ${JSON.stringify(data.mergedContactIds)}`
  if (type === 'leads.updated') return `  job title: ${String(data.jobTitle)}, stage: ${String(data.lifecycleStage)}`
  if (type === 'leads.purged') return '  personal data erased'
  return typeof data.origin === 'string' ? `  (${data.origin})` : ''
}
