import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

import type { Test } from 'tap'

import { testConfig, type Config } from '../../src/config.js'
import type { Sql } from '../../src/db/connection.js'
import { insertIntegration, type Integration } from '../../src/db/integrations.js'
import {
  createHubSpotClients,
  type HubSpotClients,
  type HubSpotClientsDeps,
} from '../../src/hubspot/client.js'
import type { Clock } from '../../src/hubspot/clock.js'
import { createLogger, type Logger } from '../../src/logger.js'

export const silentLogger = createLogger('silent')

/** A clock whose `sleep` moves time forward at once and records every requested wait. */
export interface FakeClock extends Clock {
  sleeps: number[]
  advance(durationMs: number): void
}

export function fakeClock(startMs = Date.now()): FakeClock {
  let nowMs = startMs
  const sleeps: number[] = []
  return {
    sleeps,
    nowMs: () => nowMs,
    sleep: async (durationMs) => {
      sleeps.push(durationMs)
      nowMs += durationMs
    },
    advance: (durationMs) => {
      nowMs += durationMs
    },
  }
}

export interface RecordedRequest {
  method: string
  url: string
  path: string
  headers: IncomingMessage['headers']
  body: string
  receivedAtMs: number
}

export type FakeHandler = (
  request: RecordedRequest,
  response: ServerResponse,
  index: number,
) => void | Promise<void>

export interface FakeHubSpot {
  url: string
  requests: RecordedRequest[]
}

/** Starts a port-0 HTTP server that plays HubSpot with `handler`, closed when the test ends. */
export async function startFakeHubSpot(t: Test, handler: FakeHandler): Promise<FakeHubSpot> {
  const requests: RecordedRequest[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const url = request.url ?? '/'
      const recorded: RecordedRequest = {
        method: request.method ?? 'GET',
        url,
        path: new URL(url, 'http://fake.local').pathname,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAtMs: Date.now(),
      }
      requests.push(recorded)
      void handler(recorded, response, requests.length - 1)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, requests }
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json;charset=utf-8', ...headers })
  response.end(typeof body === 'string' ? body : JSON.stringify(body))
}

export function contactJson(
  id: string,
  properties: Record<string, string | null> = {},
): Record<string, unknown> {
  return {
    id,
    properties: { hs_object_id: id, email: `c${id}@example.com`, ...properties },
    createdAt: '2025-01-02T03:04:05.006Z',
    updatedAt: '2025-02-03T04:05:06.007Z',
    archived: false,
  }
}

export const testEncryptionKey = randomBytes(32)

export interface IntegrationInput {
  portalId?: number
  accessToken?: string
  oauth?: { accessToken: string; refreshToken: string; expiresAt: Date }
  burstPer10Seconds?: number | null
}

export async function addIntegration(sql: Sql, input: IntegrationInput): Promise<Integration> {
  const oauth = input.oauth
  return insertIntegration(sql, testEncryptionKey, {
    portalId: input.portalId ?? 12345678,
    name: 'test portal',
    authType: oauth ? 'oauth' : 'private_app',
    credentials: oauth
      ? { accessToken: oauth.accessToken, refreshToken: oauth.refreshToken }
      : { accessToken: input.accessToken ?? 'pat-test' },
    accessTokenExpiresAt: oauth ? oauth.expiresAt : null,
    actions: {},
    burstPer10Seconds: input.burstPer10Seconds ?? null,
    ownerUserId: null,
  })
}

export type ClientOptions = Omit<
  HubSpotClientsDeps,
  'config' | 'sql' | 'encryptionKey' | 'logger'
> & {
  env?: Record<string, string>
  logger?: Logger
}

/** Creates a client factory for `apiUrl`, closed when the test ends. */
export function clientsFor(
  t: Test,
  sql: Sql,
  apiUrl: string,
  options: ClientOptions = {},
): { clients: HubSpotClients; config: Config } {
  const { env, logger, ...rest } = options
  const config = testConfig({ HUBSPOT_API_URL: apiUrl, ...env })
  const clients = createHubSpotClients({
    config,
    sql,
    encryptionKey: testEncryptionKey,
    logger: logger ?? silentLogger,
    random: () => 0.5,
    ...rest,
  })
  t.teardown(() => clients.close())
  return { clients, config }
}
