import { setTimeout as delay } from 'node:timers/promises'

/**
 * Time source of the HubSpot client. Rate-limit waits, retry backoff and token expiry all read
 * it, so tests can pass a clock whose `sleep` advances `nowMs` instead of waiting.
 */
export interface Clock {
  nowMs(): number
  /** Waits `durationMs`, or rejects with an AbortError as soon as `signal` aborts. */
  sleep(durationMs: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  sleep: (durationMs, signal) => delay(durationMs, undefined, { signal }),
}

/**
 * Returns a clock whose every sleep ends, rejected, once `signal` aborts. The HubSpot clients
 * wrap their clock with it, so rate-limit pauses, retry backoff and token-refresh backoff all
 * end at shutdown instead of holding it for up to a Retry-After.
 */
export function stoppableClock(clock: Clock, signal: AbortSignal): Clock {
  return {
    nowMs: () => clock.nowMs(),
    sleep: (durationMs) => {
      if (signal.aborted) return Promise.reject(signal.reason)
      return clock.sleep(durationMs, signal)
    },
  }
}
