import type { Queryable } from '../db/connection.js'
import { findPortalsWithIntegration } from '../db/webhookEvents.js'

/**
 * How long the receiver trusts that a portal has an integration before it looks again. A
 * portal whose integration was removed meanwhile only gets its events stored as pending,
 * and the inbox worker marks them ignored.
 */
export const knownPortalTtlMs = 30_000

/**
 * Remembers which portals have an integration, so the receiver's insert needs no lookup per
 * delivery. Only hits are cached: a portal without an integration is looked up again on
 * every delivery, so events of a newly added integration are never ignored.
 */
export class KnownPortals {
  private readonly expiresAtMs = new Map<number, number>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the subset of `portalIds` that has an integration. */
  async filterKnown(sql: Queryable, portalIds: number[]): Promise<Set<number>> {
    const nowMs = this.now()
    const known = new Set(portalIds.filter((portalId) => (this.expiresAtMs.get(portalId) ?? 0) > nowMs))
    const unknown = portalIds.filter((portalId) => !known.has(portalId))
    if (unknown.length === 0) return known

    for (const portalId of await findPortalsWithIntegration(sql, unknown)) {
      this.expiresAtMs.set(portalId, nowMs + knownPortalTtlMs)
      known.add(portalId)
    }
    return known
  }
}
