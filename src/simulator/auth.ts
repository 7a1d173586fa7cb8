import { randomBytes, randomUUID } from 'node:crypto'
import { isoString } from './render.js'
import { SimulatorError } from './simulatorError.js'

export type TokenKind = 'privateApp' | 'oauth'

export interface OAuthGrant {
  accessToken: string
  refreshToken: string
  expiresAt: Date
}

/** The token endpoint's JSON response, as `POST /oauth/v1/token` returns it. */
export interface TokenResponse {
  token_type: 'bearer'
  refresh_token: string
  access_token: string
  expires_in: number
}

interface AccessTokenEntry {
  refreshToken: string
  expiresAtMs: number
}

const authFailureHeaders = { 'x-hubspot-auth-failure': '401 Unauthorized' }
const invalidAuthenticationMessage =
  'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more ' +
  'details at https://developers.hubspot.com/docs/methods/auth/oauth-overview'

/**
 * Private-app and OAuth tokens of one simulated portal. Access tokens expire after the configured
 * lifetime (HubSpot: 1800 s); refresh tokens live until revoked.
 */
export class AuthRegistry {
  readonly clientId: string
  readonly clientSecret: string
  privateAppToken: string
  private readonly accessTokens = new Map<string, AccessTokenEntry>()
  private readonly refreshTokens = new Set<string>()

  constructor(
    private readonly nowMs: () => number,
    private readonly lifetimeSeconds: () => number,
    fixed: { privateAppToken?: string; clientId?: string; clientSecret?: string } = {},
  ) {
    this.privateAppToken = fixed.privateAppToken ?? `pat-na1-${randomUUID()}`
    this.clientId = fixed.clientId ?? randomUUID()
    this.clientSecret = fixed.clientSecret ?? randomUUID()
  }

  /** Creates a grant as the authorization-code exchange would. */
  issueGrant(): OAuthGrant {
    const refreshToken = `na1-${randomUUID()}`
    this.refreshTokens.add(refreshToken)
    return this.issueAccessToken(refreshToken)
  }

  /** Handles the refresh_token grant of `POST /oauth/v1/token`. */
  refresh(form: URLSearchParams): TokenResponse {
    if (form.get('grant_type') !== 'refresh_token') {
      throw oauthError('BAD_GRANT_TYPE', 'grant_type must be refresh_token or authorization_code')
    }
    if (form.get('client_id') !== this.clientId) throw oauthError('BAD_CLIENT_ID', 'missing or invalid client_id')
    if (form.get('client_secret') !== this.clientSecret) {
      throw oauthError('BAD_CLIENT_SECRET', 'missing or invalid client_secret')
    }
    const refreshToken = form.get('refresh_token') ?? ''
    if (!this.refreshTokens.has(refreshToken)) throw oauthError('BAD_REFRESH_TOKEN', 'missing or invalid refresh token')

    const grant = this.issueAccessToken(refreshToken)
    return {
      token_type: 'bearer',
      refresh_token: refreshToken,
      access_token: grant.accessToken,
      expires_in: this.lifetimeSeconds(),
    }
  }

  revokeRefreshToken(refreshToken: string): void {
    this.refreshTokens.delete(refreshToken)
    for (const [token, entry] of this.accessTokens) if (entry.refreshToken === refreshToken) this.accessTokens.delete(token)
  }

  /** Makes an access token expire now, so the next call with it gets EXPIRED_AUTHENTICATION. */
  expireAccessToken(accessToken: string): void {
    const entry = this.accessTokens.get(accessToken)
    if (entry) entry.expiresAtMs = this.nowMs() - 1
  }

  /** Replaces the private-app token; the old one stops working at once. */
  rotatePrivateAppToken(): string {
    this.privateAppToken = `pat-na1-${randomUUID()}`
    return this.privateAppToken
  }

  /** Checks an Authorization header; throws HubSpot's 401 bodies. */
  authenticate(header: string | undefined): { kind: TokenKind; token: string } {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
    if (!match) throw invalidAuthentication()
    const token = match[1]
    if (token === this.privateAppToken) return { kind: 'privateApp', token }

    const entry = this.accessTokens.get(token)
    if (!entry) throw invalidAuthentication()
    const expiredForMs = this.nowMs() - entry.expiresAtMs
    if (expiredForMs >= 0) {
      const seconds = Math.max(1, Math.floor(expiredForMs / 1000))
      throw new SimulatorError(
        401,
        {
          status: 'error',
          message: `The OAuth token used to make this call expired ${seconds} second(s) ago.`,
          category: 'EXPIRED_AUTHENTICATION',
          context: { 'expire time': [isoString(entry.expiresAtMs)] },
        },
        authFailureHeaders,
      )
    }
    return { kind: 'oauth', token }
  }

  /** Token metadata for `GET /oauth/v1/access-tokens/{token}`. */
  describeAccessToken(token: string, portalId: number, appId: number): Record<string, unknown> {
    const entry = this.accessTokens.get(token)
    if (!entry || entry.expiresAtMs <= this.nowMs()) {
      throw new SimulatorError(404, { status: 'error', message: 'access token not found or expired' })
    }
    return {
      token,
      user: 'simulator@example.com',
      hub_domain: `portal-${portalId}.example.com`,
      scopes: ['oauth', 'crm.objects.contacts.read', 'crm.objects.contacts.write'],
      hub_id: portalId,
      app_id: appId,
      expires_in: Math.floor((entry.expiresAtMs - this.nowMs()) / 1000),
      user_id: 1000001,
      token_type: 'access',
    }
  }

  private issueAccessToken(refreshToken: string): OAuthGrant {
    // Real access tokens are opaque base64url strings of a few hundred characters.
    const accessToken = `C${randomBytes(96).toString('base64url')}`
    const expiresAtMs = this.nowMs() + this.lifetimeSeconds() * 1000
    this.accessTokens.set(accessToken, { refreshToken, expiresAtMs })
    return { accessToken, refreshToken, expiresAt: new Date(expiresAtMs) }
  }
}

function invalidAuthentication(): SimulatorError {
  return new SimulatorError(
    401,
    { status: 'error', message: invalidAuthenticationMessage, category: 'INVALID_AUTHENTICATION' },
    authFailureHeaders,
  )
}

/** Token-endpoint errors carry the reason in `status`, e.g. BAD_REFRESH_TOKEN. */
function oauthError(status: string, message: string): SimulatorError {
  return new SimulatorError(400, { status, message })
}
