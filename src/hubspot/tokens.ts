import type { Config } from '../config.js'
import type { Sql, TransactionSql } from '../db/connection.js'
import {
  findStoredCredentials,
  lockStoredCredentials,
  type StoredCredentials,
} from '../db/credentials.js'
import { markNeedsReauth, replaceCredentials, type Integration } from '../db/integrations.js'
import type { Logger } from '../logger.js'
import { hubspotErrors } from './hubspotErrors.js'
import { refreshAccessToken, type RefreshDeps } from './oauthRefresh.js'

export type TokenIntegration = Pick<Integration, 'id' | 'portalId' | 'authType'>

export interface AccessTokensDeps {
  config: Config
  sql: Sql
  encryptionKey: Buffer
  logger: Logger
  refresh: RefreshDeps
  /** Refresh an OAuth access token once less than this is left of its life (default 5 minutes). */
  refreshAheadMs: number
}

interface CachedToken {
  accessToken: string
  /** Null for private-app tokens, which do not expire. */
  expiresAtMs: number | null
}

type LockedOutcome = { kind: 'token'; token: CachedToken } | { kind: 'reauth'; reason: string }

/**
 * Access tokens of the integrations of one HubSpotClients factory. Private-app tokens are read
 * once; OAuth access tokens are refreshed ahead of expiry, one refresh at a time per
 * integration: in this process through a shared promise, across replicas through a row lock.
 */
export class AccessTokens {
  private readonly cache = new Map<number, CachedToken>()
  private readonly refreshes = new Map<number, Promise<CachedToken>>()

  constructor(private readonly deps: AccessTokensDeps) {}

  /** Returns a usable access token, refreshing an OAuth token that expires soon. */
  async current(integration: TokenIntegration): Promise<string> {
    const cached = this.cache.get(integration.id)
    if (cached && this.isFresh(cached)) return cached.accessToken
    if (integration.authType === 'oauth') this.requireOAuthClient(integration)

    const stored = await findStoredCredentials(
      this.deps.sql,
      this.deps.encryptionKey,
      integration.id,
    )
    const token = toCachedToken(integration, stored)
    if (this.isFresh(token)) {
      this.cache.set(integration.id, token)
      return token.accessToken
    }
    return (await this.refreshOnce(integration, null)).accessToken
  }

  /** Refreshes after HubSpot rejected `rejectedToken` with 401, unless another caller already did. */
  async renewAfterRejection(integration: TokenIntegration, rejectedToken: string): Promise<string> {
    this.requireOAuthClient(integration)
    return (await this.refreshOnce(integration, rejectedToken)).accessToken
  }

  forget(integrationId: number): void {
    this.cache.delete(integrationId)
  }

  private isFresh(token: CachedToken): boolean {
    if (token.expiresAtMs === null) return true
    return token.expiresAtMs - this.deps.refresh.clock.nowMs() > this.deps.refreshAheadMs
  }

  private requireOAuthClient(integration: TokenIntegration): void {
    const { HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET } = this.deps.config
    if (!HUBSPOT_CLIENT_ID || !HUBSPOT_CLIENT_SECRET) {
      throw hubspotErrors.oauthClientMissing(integration.id)
    }
  }

  private refreshOnce(
    integration: TokenIntegration,
    rejectedToken: string | null,
  ): Promise<CachedToken> {
    const running = this.refreshes.get(integration.id)
    if (running) return running

    const refresh = this.refreshLocked(integration, rejectedToken).finally(() =>
      this.refreshes.delete(integration.id),
    )
    this.refreshes.set(integration.id, refresh)
    return refresh
  }

  private async refreshLocked(
    integration: TokenIntegration,
    rejectedToken: string | null,
  ): Promise<CachedToken> {
    const outcome = await this.deps.sql.begin((tx) =>
      this.refreshInTransaction(tx, integration, rejectedToken),
    )
    if (outcome.kind === 'reauth') {
      this.cache.delete(integration.id)
      throw hubspotErrors.reauthRequired(integration.id, outcome.reason)
    }
    this.cache.set(integration.id, outcome.token)
    return outcome.token
  }

  /**
   * Runs with the integration row locked. Another replica may have refreshed while this one
   * waited for the lock, so the stored token is checked again before calling HubSpot.
   */
  private async refreshInTransaction(
    tx: TransactionSql,
    integration: TokenIntegration,
    rejectedToken: string | null,
  ): Promise<LockedOutcome> {
    const stored = await lockStoredCredentials(tx, this.deps.encryptionKey, integration.id)
    if (stored.status === 'needs_reauth') {
      return {
        kind: 'reauth',
        reason: stored.statusReason ?? 'the integration is marked needs_reauth',
      }
    }
    const storedToken = toCachedToken(integration, stored)
    if (storedToken.accessToken !== rejectedToken && this.isFresh(storedToken)) {
      return { kind: 'token', token: storedToken }
    }

    const refreshToken = stored.credentials.refreshToken
    if (!refreshToken) {
      return this.markReauth(
        tx,
        integration,
        'the integration has no OAuth refresh token; reinstall the app',
      )
    }
    return this.exchange(tx, integration, refreshToken)
  }

  /** Exchanges the refresh token and stores the new tokens in the locked row. */
  private async exchange(
    tx: TransactionSql,
    integration: TokenIntegration,
    refreshToken: string,
  ): Promise<LockedOutcome> {
    const result = await refreshAccessToken(this.deps.refresh, {
      integrationId: integration.id,
      portalId: integration.portalId,
      refreshToken,
      clientId: this.deps.config.HUBSPOT_CLIENT_ID ?? '',
      clientSecret: this.deps.config.HUBSPOT_CLIENT_SECRET ?? '',
    })
    if (result.kind === 'revoked') return this.markReauth(tx, integration, result.reason)

    const expiresAtMs = this.deps.refresh.clock.nowMs() + result.expiresInSeconds * 1000
    // HubSpot returns the same refresh token today; a rotated one replaces it.
    const credentials = {
      accessToken: result.accessToken,
      refreshToken: result.refreshToken ?? refreshToken,
    }
    const expiresAt = new Date(expiresAtMs)
    await replaceCredentials(tx, this.deps.encryptionKey, integration, credentials, expiresAt)
    this.deps.logger.info(
      { integrationId: integration.id, portalId: integration.portalId },
      'refreshed OAuth access token',
    )
    return { kind: 'token', token: { accessToken: result.accessToken, expiresAtMs } }
  }

  private async markReauth(
    tx: TransactionSql,
    integration: TokenIntegration,
    reason: string,
  ): Promise<LockedOutcome> {
    await markNeedsReauth(tx, integration.id, reason)
    this.deps.logger.warn(
      { integrationId: integration.id, portalId: integration.portalId, reason },
      'marked integration needs_reauth',
    )
    return { kind: 'reauth', reason }
  }
}

function toCachedToken(integration: TokenIntegration, stored: StoredCredentials): CachedToken {
  const accessToken = stored.credentials.accessToken ?? ''
  if (stored.authType === 'private_app') {
    if (!accessToken) throw hubspotErrors.missingAccessToken(integration.id)
    return { accessToken, expiresAtMs: null }
  }
  // An OAuth integration stored without an access token or expiry is refreshed before first use.
  return { accessToken, expiresAtMs: stored.accessTokenExpiresAt?.getTime() ?? 0 }
}
