import { z } from 'zod'

import { actionsConfigSchema, toFieldIssues } from '../../actions/config.js'
import type { Config } from '../../config.js'
import type { AuthType, Credentials, IntegrationPatch, NewIntegration } from '../../db/integrations.js'
import { AppError, ErrorCode, errors, type FieldIssue } from '../../errors.js'

const actionsSchema = actionsConfigSchema

const oauthSchema = z.strictObject({
  refreshToken: z.string().min(1, 'must not be empty'),
  accessToken: z.string().min(1, 'must not be empty').optional(),
  expiresAt: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date-time' }).optional(),
})

const credentialFields = {
  accessToken: z.string().min(1, 'must not be empty').optional(),
  oauth: oauthSchema.optional(),
}

const burstSchema = z.number().int().positive().max(10_000)
const ownerSchema = z.number().int().positive()

const newIntegrationSchema = z.strictObject({
  portalId: z.number({ error: 'expected a positive integer' }).int().positive().max(Number.MAX_SAFE_INTEGER),
  name: z.string().trim().min(1, 'must not be empty').max(200).optional(),
  ...credentialFields,
  actions: actionsSchema.optional(),
  burstPer10Seconds: burstSchema.optional(),
  ownerUserId: ownerSchema.optional(),
})

const integrationPatchSchema = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200).optional(),
  status: z.enum(['active', 'paused'], { error: 'expected active or paused' }).optional(),
  ...credentialFields,
  actions: actionsSchema.optional(),
  burstPer10Seconds: burstSchema.nullable().optional(),
  ownerUserId: ownerSchema.nullable().optional(),
})

export type NewIntegrationInput = z.infer<typeof newIntegrationSchema>
export type IntegrationPatchInput = z.infer<typeof integrationPatchSchema>

/** New credentials given by a create or patch request, ready to be sealed. */
export interface CredentialsInput {
  authType: AuthType
  credentials: Credentials
  accessTokenExpiresAt: Date | null
}

/** Validates a `POST /integrations` body; throws VALIDATION_FAILED naming every bad field. */
export function parseNewIntegration(body: unknown, config: Config): NewIntegration {
  const input = parseWith(newIntegrationSchema, body)
  const credentials = toCredentials(input, config)
  if (!credentials) throw errors.validation([missingCredentials], 'integration')

  return {
    portalId: input.portalId,
    name: input.name ?? `Portal ${input.portalId}`,
    ...credentials,
    actions: input.actions ?? {},
    burstPer10Seconds: input.burstPer10Seconds ?? null,
    ownerUserId: input.ownerUserId ?? null,
  }
}

/** Validates a `PATCH /integrations/:id` body into field changes and optional new credentials. */
export function parseIntegrationPatch(
  body: unknown,
  config: Config,
): { patch: IntegrationPatch; credentials: CredentialsInput | null } {
  const input = parseWith(integrationPatchSchema, body)
  if (Object.keys(input).length === 0) {
    throw errors.validation([{ field: 'body', reason: 'expected at least one field to change' }], 'integration')
  }
  const { accessToken: _token, oauth: _oauth, ...patch } = input
  return { patch, credentials: toCredentials(input, config) }
}

const missingCredentials: FieldIssue = {
  field: 'accessToken',
  reason: 'required: give accessToken (private app) or oauth.refreshToken',
}

function toCredentials(
  input: { accessToken?: string; oauth?: z.infer<typeof oauthSchema> },
  config: Config,
): CredentialsInput | null {
  if (input.accessToken !== undefined && input.oauth !== undefined) {
    throw errors.validation([{ field: 'oauth', reason: 'give either accessToken or oauth, not both' }], 'integration')
  }
  if (input.accessToken !== undefined) {
    return { authType: 'private_app', credentials: { accessToken: input.accessToken }, accessTokenExpiresAt: null }
  }
  if (input.oauth === undefined) return null

  checkOAuthConfigured(config)
  const { refreshToken, accessToken, expiresAt } = input.oauth
  // Without a known expiry the access token counts as expired, so the client refreshes it
  // before its first call instead of failing with 401.
  const knownExpiry = accessToken !== undefined && expiresAt !== undefined
  return {
    authType: 'oauth',
    credentials: accessToken === undefined ? { refreshToken } : { refreshToken, accessToken },
    accessTokenExpiresAt: knownExpiry ? new Date(expiresAt) : new Date(0),
  }
}

function checkOAuthConfigured(config: Config): void {
  if (config.HUBSPOT_CLIENT_ID && config.HUBSPOT_CLIENT_SECRET) return
  throw new AppError(
    ErrorCode.VALIDATION_FAILED,
    'OAuth integrations need HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET set on the service to refresh tokens',
    { statusCode: 400, context: { issues: [{ field: 'oauth', reason: 'OAuth app credentials are not configured' }] } },
  )
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const input = body ?? {}
  const parsed = schema.safeParse(input)
  if (parsed.success) return parsed.data

  const issues = toFieldIssues(parsed.error, input, '').map((issue) => ({ ...issue, field: issue.field || 'body' }))
  throw errors.validation(issues, 'integration')
}
