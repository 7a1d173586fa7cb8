import http from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'

import { Client } from '@hubspot/api-client'

import type { RawResponse } from './retry.js'

/** The part of the SDK's ResponseContext we read; each generated API module has its own class. */
interface SdkResponse {
  httpStatusCode: number
  headers: Record<string, string>
  body: { text(): Promise<string> }
}

/** A middleware that fits every generated API module of the SDK. */
interface CaptureMiddleware {
  pre<T>(context: T): Promise<T>
  post<T extends SdkResponse>(context: T): Promise<T>
}

/** Per-call options accepted by every `...WithHttpInfo` method of the SDK. */
export interface SdkCallOptions {
  middleware: CaptureMiddleware[]
  middlewareMergeStrategy: 'append'
}

/** The outcome of one HTTP exchange: a response of any status, or a failure before one arrived. */
export type SendOutcome =
  | { kind: 'response'; response: RawResponse }
  | { kind: 'failure'; error: unknown }

/** The error a socket silent for HUBSPOT_TIMEOUT_MS is destroyed with; it is retried like a reset. */
export class SocketTimeoutError extends Error {
  readonly code = 'HUBSPOT_SOCKET_TIMEOUT'

  constructor(timeoutMs: number) {
    super(`No data from HubSpot for ${timeoutMs} ms`)
    this.name = 'SocketTimeoutError'
  }
}

type AgentClass = typeof http.Agent

/**
 * Adds a request timeout to a keep-alive agent. Given an agent, the SDK (14.0.1) sends with
 * Node's http module and takes no timeout or abort signal. So the agent destroys any socket that
 * stays silent for `timeoutMs`, which rejects the pending request with SocketTimeoutError.
 * NOTE: this is an idle timeout; a server that keeps sending bytes slowly is not cut off.
 */
function withSocketTimeout<T extends AgentClass>(Base: T, timeoutMs: number): T {
  const Timed = class extends (Base as AgentClass) {
    createConnection(...args: Parameters<http.Agent['createConnection']>): Duplex {
      const socket = super.createConnection(...args) as Duplex & { setTimeout(ms: number): void }
      socket.setTimeout(timeoutMs)
      socket.on('timeout', () => socket.destroy(new SocketTimeoutError(timeoutMs)))
      return socket
    }

    // Node resets an idle socket's timeout to the server's keep-alive hint; a reused socket
    // gets the request timeout back.
    reuseSocket(
      socket: Duplex & { setTimeout(ms: number): void },
      request: http.ClientRequest,
    ): void {
      super.reuseSocket(socket, request)
      socket.setTimeout(timeoutMs)
    }
  }
  return Timed as unknown as T
}

/** Creates the keep-alive agent every HubSpot request of one factory goes through. */
export function createHubSpotAgent(apiUrl: string, timeoutMs: number): http.Agent {
  const options = { keepAlive: true, timeout: timeoutMs }
  if (new URL(apiUrl).protocol === 'https:') {
    const TimedHttpsAgent = withSocketTimeout(https.Agent as unknown as AgentClass, timeoutMs)
    return new TimedHttpsAgent(options)
  }
  const TimedHttpAgent = withSocketTimeout(http.Agent, timeoutMs)
  return new TimedHttpAgent(options)
}

/**
 * Creates an SDK client whose own retries and limiter stay off; our call loop does both. The
 * SDK keeps its decorators in a process-wide singleton that every `new Client` overwrites, and
 * with retries at 0 and no limiter options that list is always empty.
 */
export function createSdkClient(basePath: string, agent: http.Agent, accessToken?: string): Client {
  return new Client({ accessToken, basePath, numberOfApiCallRetries: 0, httpAgent: agent })
}

/**
 * Sends one SDK call and returns HubSpot's response as received. The SDK's `...WithHttpInfo`
 * methods and its ApiException do expose status, headers and body, but they deserialize
 * successful bodies into model classes (dates become Date objects), and a body that is not JSON
 * (e.g. the HTML of a 502 from HubSpot's proxy) makes them throw a plain Error without the
 * status. A per-call middleware therefore keeps the raw response, and the caller decides.
 */
export async function sendWithSdk(
  call: (options: SdkCallOptions) => Promise<unknown>,
): Promise<SendOutcome> {
  let captured: SdkResponse | null = null
  const capture: CaptureMiddleware = {
    pre: async (context) => context,
    post: async (context) => {
      captured = context
      return context
    },
  }

  let failure: unknown = null
  try {
    await call({ middleware: [capture], middlewareMergeStrategy: 'append' })
  } catch (error) {
    failure = error
  }
  const response = captured as SdkResponse | null
  if (!response) return { kind: 'failure', error: failure }

  const text = await readBodyText(response)
  if (text === null) {
    return {
      kind: 'failure',
      error: failure ?? new Error('Reading the HubSpot response body failed'),
    }
  }
  return {
    kind: 'response',
    response: { status: response.httpStatusCode, headers: response.headers, text },
  }
}

async function readBodyText(response: SdkResponse): Promise<string | null> {
  try {
    return await response.body.text()
  } catch {
    return null
  }
}
