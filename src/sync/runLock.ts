import { isConnectionError, type Sql } from '../db/connection.js'
import type { RunKind } from '../db/syncRuns.js'
import type { Logger } from '../logger.js'

type ReservedSql = Awaited<ReturnType<Sql['reserve']>>

/**
 * Per-integration run locks: PostgreSQL session advisory locks, all held on one reserved
 * connection of this process. A lock lives exactly as long as that session, so a killed
 * process releases its locks and another replica can take over at once.
 *
 * Advisory locks are re-entrant within a session, so two runs of one process would both get
 * the same lock. The runner therefore keeps its own map of active runs and never requests a
 * lock it already holds.
 */
export class RunLocks {
  private reserved: ReservedSql | null = null
  private reserving: Promise<ReservedSql> | null = null
  private readonly held = new Set<string>()

  constructor(
    private readonly sql: Sql,
    private readonly logger: Logger,
  ) {}

  /** Returns true when this process now holds the run lock of the integration and kind. */
  async tryAcquire(integrationId: number, kind: RunKind): Promise<boolean> {
    const name = lockName(integrationId, kind)
    let locked: boolean
    try {
      locked = await this.tryLock(name)
    } catch (error) {
      if (!isConnectionError(error)) throw error
      // The reserved session died, for example in a database restart since the last run.
      // Its locks died with it, so one try on a new session is safe; a second loss throws.
      this.forgetSession()
      try {
        locked = await this.tryLock(name)
      } catch (retryError) {
        if (isConnectionError(retryError)) this.forgetSession()
        throw retryError
      }
    }
    if (locked) this.held.add(name)
    return locked
  }

  private async tryLock(name: string): Promise<boolean> {
    const connection = await this.connection()
    const [row] = await connection<{ locked: boolean }[]>`
      select pg_try_advisory_lock(hashtextextended(${name}, 0)) as locked
    `
    return row.locked
  }

  async release(integrationId: number, kind: RunKind): Promise<void> {
    const name = lockName(integrationId, kind)
    if (!this.held.delete(name) || !this.reserved) return
    try {
      await this.reserved`select pg_advisory_unlock(hashtextextended(${name}, 0))`
    } catch (error) {
      // The session is gone, and the lock went with it.
      this.logger.warn({ err: error, integrationId, kind }, 'releasing run lock failed')
    }
  }

  /** Ends the lock session, which releases every lock still held. */
  async close(): Promise<void> {
    const reserved = this.reserved
    this.reserved = null
    this.reserving = null
    this.held.clear()
    if (!reserved) return
    await reserved`select pg_advisory_unlock_all()`.catch(() => {})
    reserved.release()
  }

  /**
   * Drops a lost lock session. Locks it held are gone on the server too.
   * NOTE: runs already going keep running without their lock until they finish, so another
   * replica may start the same integration meanwhile. The upsert's newer-wins rule keeps the
   * leads right, but both runs spend HubSpot calls.
   */
  private forgetSession(): void {
    if (this.held.size > 0) {
      this.logger.error({ heldLocks: this.held.size }, 'run lock session lost')
    }
    this.reserved?.release()
    this.reserved = null
    this.held.clear()
  }

  private async connection(): Promise<ReservedSql> {
    if (this.reserved) return this.reserved
    this.reserving ??= this.sql.reserve().then((reserved) => {
      this.reserved = reserved
      return reserved
    })
    try {
      return await this.reserving
    } finally {
      this.reserving = null
    }
  }
}

/** Names the lock of one integration and kind; PostgreSQL hashes it to the 64-bit key. */
function lockName(integrationId: number, kind: RunKind): string {
  return `hubspot-sync:run:${kind}:${integrationId}`
}
