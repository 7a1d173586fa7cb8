import { allContactSubscriptionTypes, defaultSubscribedProperties } from './webhookEvents.js'

/** HubSpot waits 5 s for a response before it counts a delivery as failed. */
const defaultTimeoutMs = 5000
/**
 * Delays before retries 1 to 10. HubSpot documents 10 retries over 24 hours with jitter, not the
 * exact schedule, so these delays (about 22 hours in all) are an assumption.
 */
export const defaultRetryDelaysMs: readonly number[] = [
  60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 21_600_000, 28_800_000,
]

/** Target and delivery behaviour of the webhook sender, as `sim.webhooks.configure` takes them. */
export interface WebhookSettings {
  targetUrl: string
  clientSecret: string
  appId?: number
  /** In-flight requests per portal; HubSpot's default is 10. */
  maxConcurrentRequests?: number
  /** Number of retries after the first attempt (HubSpot: 10). */
  maxRetries?: number
  /** Multiplies every retry delay: 0.0001 turns the 22-hour schedule into about 8 seconds. */
  retryTimeScale?: number
  /** Replaces the retry schedule, one delay per retry in milliseconds. */
  retryDelaysMs?: readonly number[]
  /** Response deadline per request (HubSpot: 5000 ms). */
  timeoutMs?: number
  /** Milliseconds to gather events into batches before sending (default 0: next tick). */
  batchWindowMs?: number
  /** `legacy` sends contact.* types, `generic` sends object.* with objectTypeId 0-1. */
  format?: 'legacy' | 'generic'
  subscriptionTypes?: readonly string[]
  subscribedProperties?: readonly string[]
}

/** Webhook settings with every default filled in. */
export type ResolvedWebhookSettings = Required<Omit<WebhookSettings, 'retryDelaysMs'>> & { retryDelaysMs: readonly number[] }

/** Fills in HubSpot's defaults and checks the concurrency limit. */
export function resolveWebhookSettings(settings: WebhookSettings, defaultAppId: number): ResolvedWebhookSettings {
  const maxConcurrentRequests = settings.maxConcurrentRequests ?? 10
  if (!(maxConcurrentRequests >= 1)) throw new RangeError('maxConcurrentRequests must be at least 1')
  return {
    appId: defaultAppId,
    maxRetries: 10,
    retryTimeScale: 1,
    timeoutMs: defaultTimeoutMs,
    batchWindowMs: 0,
    format: 'legacy',
    subscriptionTypes: allContactSubscriptionTypes,
    subscribedProperties: defaultSubscribedProperties,
    ...settings,
    maxConcurrentRequests,
    retryDelaysMs: settings.retryDelaysMs ?? defaultRetryDelaysMs,
  }
}
