import type { ContactChange } from './contactChange.js'
import type { WebhookFaultOptions } from './options.js'
import { createRandom, type Random } from './random.js'
import {
  eventsForAssociation,
  eventsForChange,
  type AssociationChange,
  type EventContext,
  type WebhookEvent,
} from './webhookEvents.js'
import { sendBatch, type Batch, type DeliveryAttempt } from './webhookRequest.js'
import { resolveWebhookSettings, type ResolvedWebhookSettings, type WebhookSettings } from './webhookSettings.js'

/** At most 100 events per request. */
const maxEventsPerBatch = 100

/**
 * Delivers contact events to one target URL the way HubSpot does: JSON arrays of at most 100
 * events, signed with v1 and v3, retried on any non-2xx response, timeout or connection failure.
 */
export class WebhookSender {
  private settings: ResolvedWebhookSettings | null = null
  private pendingGroups: WebhookEvent[][] = []
  private readyBatches: Batch[] = []
  private inFlight = 0
  private scheduledRetries = new Set<NodeJS.Timeout>()
  private gatherTimer: NodeJS.Timeout | null = null
  private idleWaiters: (() => void)[] = []
  private nextBatchId = 1
  private eventIdCounter: number
  private readonly random: Random
  private lastEvent: WebhookEvent | null = null
  readonly attempts: DeliveryAttempt[] = []

  constructor(
    private readonly portalId: number,
    private readonly defaultAppId: number,
    private readonly faults: () => WebhookFaultOptions,
    seed: number,
  ) {
    this.random = createRandom(seed, 0x3eb)
    this.eventIdCounter = 1_000_000_000 + this.random.int(0, 1_000_000_000)
  }

  configure(settings: WebhookSettings): void {
    this.settings = resolveWebhookSettings(settings, this.defaultAppId)
  }

  get isConfigured(): boolean {
    return this.settings !== null
  }

  /** Queues the events of a contact change; does nothing until a target is configured. */
  enqueueChange(change: ContactChange): void {
    const context = this.eventContext()
    if (!context) return
    for (const group of eventsForChange(change, context)) if (group.length > 0) this.pendingGroups.push(group)
    this.scheduleGather()
  }

  /** Queues the two events of an association change. */
  enqueueAssociationChange(change: AssociationChange): void {
    const context = this.eventContext()
    if (!context) return
    this.pendingGroups.push(eventsForAssociation(change, context))
    this.scheduleGather()
  }

  /** Resolves once every queued event is delivered or has used up its retries. */
  flush(): Promise<void> {
    if (this.gatherTimer) {
      clearTimeout(this.gatherTimer)
      this.gatherTimer = null
      this.gather()
    }
    if (this.isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Stops every timer; queued and retrying deliveries are dropped. */
  close(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer)
    for (const timer of this.scheduledRetries) clearTimeout(timer)
    this.scheduledRetries.clear()
    this.pendingGroups = []
    this.readyBatches = []
    this.notifyIfIdle()
  }

  private eventContext(): EventContext | null {
    const settings = this.settings
    if (!settings) return null
    return {
      portalId: this.portalId,
      appId: settings.appId,
      format: settings.format,
      subscriptionTypes: new Set(settings.subscriptionTypes),
      subscribedProperties: new Set(settings.subscribedProperties),
      nextEventId: () => this.eventIdCounter++,
    }
  }

  private scheduleGather(): void {
    if (this.gatherTimer || !this.settings) return
    this.gatherTimer = setTimeout(() => {
      this.gatherTimer = null
      this.gather()
    }, this.settings.batchWindowMs)
  }

  /** Packs pending event groups into batches of at most 100 events and starts sending. */
  private gather(): void {
    const batches: Batch[] = []
    let current: WebhookEvent[] = []
    for (const group of this.pendingGroups) {
      if (current.length + group.length > maxEventsPerBatch && current.length > 0) {
        batches.push(this.newBatch(current))
        current = []
      }
      // Privacy deletions travel alone, so the paired deletion can arrive in another batch.
      const isPrivacy = group.some((event) => String(event.subscriptionType) === 'contact.privacyDeletion')
      for (let start = 0; start < group.length; start += maxEventsPerBatch) current.push(...group.slice(start, start + maxEventsPerBatch))
      if (isPrivacy || current.length >= maxEventsPerBatch) {
        batches.push(this.newBatch(current))
        current = []
      }
    }
    if (current.length > 0) batches.push(this.newBatch(current))
    this.pendingGroups = []

    const faults = this.faults()
    if (faults.reorder) batches.reverse()
    for (const batch of batches) {
      this.applyEventIdReuse(batch, faults)
      this.readyBatches.push(batch)
      if (this.random.chance(faults.duplicateRate)) this.readyBatches.push(this.newBatch(batch.events.map((event) => ({ ...event }))))
    }
    this.pump()
  }

  private newBatch(events: WebhookEvent[]): Batch {
    return { id: this.nextBatchId++, events: events.slice(0, maxEventsPerBatch), attempt: 0 }
  }

  /** Gives an event the eventId of an earlier, different event: HubSpot's eventId is not unique. */
  private applyEventIdReuse(batch: Batch, faults: WebhookFaultOptions): void {
    for (const event of batch.events) {
      if (this.lastEvent && this.lastEvent !== event && this.random.chance(faults.reusedEventIdRate)) {
        event.eventId = this.lastEvent.eventId
      }
      this.lastEvent = event
    }
  }

  private pump(): void {
    const settings = this.settings
    while (settings && this.inFlight < settings.maxConcurrentRequests && this.readyBatches.length > 0) {
      const batch = this.readyBatches.shift() as Batch
      this.inFlight++
      void this.deliver(batch).finally(() => {
        this.inFlight--
        this.pump()
        this.notifyIfIdle()
      })
    }
    this.notifyIfIdle()
  }

  private async deliver(batch: Batch): Promise<void> {
    const settings = this.settings
    if (!settings) return
    const attempt = await sendBatch(batch, settings, this.faults(), this.random)
    this.attempts.push(attempt)
    const succeeded = attempt.status !== null && attempt.status >= 200 && attempt.status < 300
    if (succeeded || batch.attempt >= settings.maxRetries) return
    this.scheduleRetry(batch, settings)
  }

  private scheduleRetry(batch: Batch, settings: ResolvedWebhookSettings): void {
    const baseMs = settings.retryDelaysMs[Math.min(batch.attempt, settings.retryDelaysMs.length - 1)] ?? 0
    // Jitter of +-20%, as HubSpot randomises its retry delays.
    const delayMs = Math.max(0, baseMs * settings.retryTimeScale * (0.8 + 0.4 * this.random.next()))
    const timer = setTimeout(() => {
      this.scheduledRetries.delete(timer)
      this.readyBatches.push({ ...batch, attempt: batch.attempt + 1 })
      this.pump()
    }, delayMs)
    this.scheduledRetries.add(timer)
  }

  private isIdle(): boolean {
    return (
      this.pendingGroups.length === 0 && this.readyBatches.length === 0 && this.inFlight === 0 &&
      this.scheduledRetries.size === 0 && this.gatherTimer === null
    )
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
