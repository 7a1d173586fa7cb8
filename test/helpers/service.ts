import { testConfig } from '../../src/config.js'
import { startService, type ServiceHandles, type ServiceOverrides } from '../../src/server.js'
import type { Simulator } from '../../src/simulator/server.js'
import { clientSecret, signV3 } from '../webhooks/fixtures/delivery.js'
import { natsUrl as sharedNatsUrl } from './nats.js'
import type { Teardown } from './teardown.js'

export const serviceApiToken = 'service-admin-token-0123456789abcdef'
export const serviceEncryptionKey = 'c7'.repeat(32)
export { clientSecret }

export interface ServiceEnvOptions {
  databaseUrl: string
  hubspotUrl: string
  subjectPrefix: string
  /** NATS server; the shared test server by default. */
  natsUrl?: string
  /** HTTP port; 0 (a free one) by default. */
  port?: number
  /** The URL webhooks are signed for; unset, the webhook route returns 503. */
  webhookPublicUrl?: string
}

/**
 * Returns the environment of a service under test: its own database, subject prefix and
 * HubSpot, no scheduler and no actions consumer, and polls that read every change at once
 * (no settle delay, no overlap). `overrides` go on top.
 */
export function serviceEnv(options: ServiceEnvOptions, overrides: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PORT: String(options.port ?? 0),
    DATABASE_URL: options.databaseUrl,
    ENCRYPTION_KEY: serviceEncryptionKey,
    API_TOKEN: serviceApiToken,
    NATS_URL: options.natsUrl ?? sharedNatsUrl,
    NATS_SUBJECT_PREFIX: options.subjectPrefix,
    HUBSPOT_API_URL: options.hubspotUrl,
    SCHEDULER_ENABLED: 'false',
    ACTIONS_ENABLED: 'false',
    POLL_SETTLE_SECONDS: '0',
    POLL_OVERLAP_SECONDS: '0',
  }
  if (options.webhookPublicUrl) {
    env.HUBSPOT_CLIENT_SECRET = clientSecret
    env.WEBHOOK_PUBLIC_URL = options.webhookPublicUrl
  }
  return { ...env, ...overrides }
}

/** Starts the whole service in this process with `env`; it is stopped at teardown. */
export async function startTestService(
  t: Teardown,
  env: Record<string, string>,
  overrides: ServiceOverrides = {},
): Promise<ServiceHandles> {
  const service = await startService(testConfig(env), overrides)
  t.teardown(() => service.stop())
  return service
}

export interface AdminResponse {
  status: number
  body: Record<string, any>
}

/** Starts the service in this process with `env` and registers the portal of `sim` on it. */
export async function startServiceForPortal(
  t: Teardown,
  env: Record<string, string>,
  sim: Simulator,
): Promise<{ service: ServiceHandles; integrationId: number }> {
  const service = await startTestService(t, env)
  const integrationId = await registerPortal(service.url, sim.portalId, sim.privateAppToken)
  return { service, integrationId }
}

/** Sends an admin request with the test token over HTTP; returns status and parsed body. */
export async function callAdmin(baseUrl: string, method: string, route: string, body?: unknown): Promise<AdminResponse> {
  const headers: Record<string, string> = { authorization: `Bearer ${serviceApiToken}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${baseUrl}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, any> }
}

/** Registers a portal with its private-app token; returns the integration id. */
export async function registerPortal(baseUrl: string, portalId: number, token: string): Promise<number> {
  const created = await callAdmin(baseUrl, 'POST', '/integrations', { portalId, accessToken: token })
  if (created.status !== 201) throw new Error(`registering the portal failed: ${JSON.stringify(created.body)}`)
  return created.body.id as number
}

/** Runs a contacts sync over HTTP and waits for it; returns the finished run. */
export async function syncAndWait(baseUrl: string, integrationId: number): Promise<Record<string, any>> {
  const run = await callAdmin(baseUrl, 'POST', `/sync/${integrationId}?wait=true`)
  return run.body
}

/** Posts `body` to `targetUrl` over HTTP, signed with v3 for `publicUrl` as HubSpot signs it. */
export async function postSignedWebhook(targetUrl: string, publicUrl: string, body: string) {
  const response = await fetch(targetUrl, {
    method: 'POST',
    headers: signV3({ body, signedUri: publicUrl }),
    body,
  })
  return { status: response.status, body: await response.text() }
}
