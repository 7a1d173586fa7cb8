import { setTimeout as delay } from 'node:timers/promises'

/**
 * Time source of the HubSpot client. Rate-limit waits, retry backoff and token expiry all read
 * it, so tests can pass a clock whose `sleep` advances `nowMs` instead of waiting.
 */
export interface Clock {
  nowMs(): number
  sleep(durationMs: number): Promise<void>
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  sleep: (durationMs) => delay(durationMs),
}
