import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { accountRoutes } from './accountRoutes.js'
import { AuthRegistry, type OAuthGrant } from './auth.js'
import { controlRoutes } from './controlRoutes.js'
import { RequestCounter, type RequestCounts, type SimulatorCore } from './core.js'
import { crmReadRoutes } from './crmReadRoutes.js'
import { crmWriteRoutes } from './crmWriteRoutes.js'
import { FaultInjector, faultBody, type QueuedFault } from './faults.js'
import { parseJson, readBody, sendJson, type Route, type RouteContext, type RouteResult } from './http.js'
import { mergeOptions, realisticDefaults, testDefaults, type SimulatorOptions, type SimulatorOptionsPatch } from './options.js'
import { createRandom } from './random.js'
import { RateLimiter } from './rateLimits.js'
import { SearchEngine } from './search.js'
import { SimulatorError, withCorrelationId } from './simulatorError.js'
import { ContactStore } from './store.js'
import { createContactsApi, type SimulatorContactsApi } from './contactsApi.js'
import { WebhookSender } from './webhooks.js'
import type { DeliveryAttempt } from './webhookRequest.js'
import type { WebhookSettings } from './webhookSettings.js'
import { isUriTooLong, maxHeaderBytes, uriTooLongPage } from './uriLength.js'
import type { AssociationChange } from './webhookEvents.js'

export interface StartSimulatorParams {
  /** TCP port; 0 picks a free one (default 0). */
  port?: number
  /** Interface to listen on (default 127.0.0.1). */
  host?: string
  /** Seed of the generated contacts (default 1). */
  seed?: number
  /** Number of seeded contacts (default 100). */
  contacts?: number
  portalId?: number
  appId?: number
  /** First seeded id; the default 2^31 + 101 makes every id pass 2^31. */
  firstId?: number
  /** Seeded contacts are created in the three years before this instant (default 2026-01-01T00:00:00Z). */
  seedAnchorMs?: number
  /** Share of seeded contacts stamped by shared bulk-job timestamps (default 0.1). */
  bulkStampShare?: number
  /** Default knob set to start from: `test` (default) or `realistic` (the CLI's). */
  defaults?: 'test' | 'realistic'
  options?: SimulatorOptionsPatch
  /** Fixed credentials (default: random per start). */
  privateAppToken?: string
  clientId?: string
  clientSecret?: string
  /** Clock of the simulated portal in epoch ms (default Date.now); tests can move time. */
  now?: () => number
}

export interface Simulator {
  url: string
  portalId: number
  appId: number
  readonly privateAppToken: string
  oauth: {
    clientId: string
    clientSecret: string
    issueGrant(): OAuthGrant
    revokeRefreshToken(token: string): void
    expireAccessToken(token: string): void
    rotatePrivateAppToken(): string
  }
  contacts: SimulatorContactsApi
  options(): SimulatorOptions
  setOptions(patch: SimulatorOptionsPatch): SimulatorOptions
  /** Queues exact faults for the next matching HubSpot API requests. */
  queueFaults(faults: QueuedFault[]): void
  requestCounts(): RequestCounts
  resetRequestCounts(): void
  webhooks: {
    configure(settings: WebhookSettings): void
    flush(): Promise<void>
    sendAssociationChange(change: Omit<AssociationChange, 'occurredAtMs'> & { occurredAtMs?: number }): void
    deliveries(): DeliveryAttempt[]
  }
  close(): Promise<void>
}

/** Starts a simulated HubSpot portal on a local HTTP server. */
export async function startSimulator(params: StartSimulatorParams = {}): Promise<Simulator> {
  const core = createCore(params)
  const counter = new RequestCounter()
  const faults = new FaultInjector(() => core.options().faults, createRandom(params.seed ?? 1, 0xfa17))
  const routes = [...controlRoutes(core, counter, faults), ...accountRoutes(core), ...crmReadRoutes(core), ...crmWriteRoutes(core)]
  const server = createServer({ maxHeaderSize: maxHeaderBytes }, (request, response) => {
    void handleRequest(core, routes, counter, faults, request, response)
  })
  server.keepAliveTimeout = 5000
  const address = await listen(server, params.port ?? 0, params.host ?? '127.0.0.1')
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  ;(core as { baseUrl: () => string }).baseUrl = () => url
  return buildSimulator(core, server, counter, faults, url)
}

function createCore(params: StartSimulatorParams): SimulatorCore {
  const seed = params.seed ?? 1
  const portalId = params.portalId ?? 12345678
  const appId = params.appId ?? 4210286
  const nowMs = params.now ?? Date.now
  let options = mergeOptions(params.defaults === 'realistic' ? realisticDefaults : testDefaults, params.options)
  const store = new ContactStore({
    seedPlan: {
      seed,
      contacts: params.contacts ?? 100,
      firstId: params.firstId ?? 2 ** 31 + 101,
      anchorMs: params.seedAnchorMs ?? Date.UTC(2026, 0, 1),
      bulkStampShare: params.bulkStampShare ?? 0.1,
    },
    nowMs,
    indexLagMs: () => options.search.indexLagMs,
  })
  const core: SimulatorCore = {
    store,
    portalId,
    appId,
    nowMs,
    options: () => options,
    setOptions: (patch) => (options = mergeOptions(options, patch)),
    renderContext: () => ({ seed, portalId, appHost: options.appHost }),
    baseUrl: () => '',
    auth: new AuthRegistry(nowMs, () => options.accessTokenLifetimeSeconds, params),
    limiter: new RateLimiter(() => options.rateLimits, portalId),
    webhooks: new WebhookSender(portalId, appId, () => options.webhookFaults, seed),
    search: undefined as unknown as SearchEngine,
  }
  core.search = new SearchEngine(store, () => options.search, core.renderContext)
  store.onChange((change) => core.webhooks.enqueueChange(change))
  return core
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server.address() as AddressInfo))
  })
}

async function handleRequest(
  core: SimulatorCore,
  routes: Route[],
  counter: RequestCounter,
  faults: FaultInjector,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const correlationId = randomUUID()
  const headers: Record<string, string> = { 'x-hubspot-correlation-id': correlationId }
  const url = new URL(request.url ?? '/', 'http://simulator.local')
  const match = findRoute(routes, request.method ?? 'GET', url.pathname)
  const endpoint = match ? match.route.endpoint : `${request.method} (unknown path)`
  try {
    const rawBody = await readBody(request)
    // HubSpot's front end rejects long URIs before routing, authentication and rate limits.
    // The control API is exempt.
    if (match?.route.kind !== 'control' && isUriTooLong(request.url ?? '', core.options().maxUriLength)) {
      counter.record(endpoint, 414)
      sendJson(response, 414, uriTooLongPage, headers)
      return
    }
    if (!match) throw new SimulatorError(404, { status: 'error', message: 'resource not found' })
    const { route, params } = match
    if (route.kind === 'hubspot') {
      const auth = core.auth.authenticate(request.headers.authorization)
      Object.assign(headers, core.limiter.take(auth.kind, route.isSearch === true, core.nowMs()))
      if (await applyFaults(faults, endpoint, response, headers, counter)) return
    }
    const context = routeContext(request, url, params, rawBody, correlationId)
    const result: RouteResult = await route.handle(context)
    counter.record(endpoint, result.status)
    sendJson(response, result.status, result.body, { ...headers, ...result.headers })
  } catch (error) {
    const failure = error instanceof SimulatorError ? error : internalError(error)
    counter.record(endpoint, failure.statusCode)
    sendJson(response, failure.statusCode, withCorrelationId(failure.body, correlationId), { ...headers, ...failure.headers })
  }
}

/** Applies injected faults; returns true when one of them responded to (or dropped) the request. */
async function applyFaults(
  faults: FaultInjector,
  endpoint: string,
  response: ServerResponse,
  headers: Record<string, string>,
  counter: RequestCounter,
): Promise<boolean> {
  for (const decision of faults.decide(endpoint)) {
    if (decision.kind === 'slow') await delay(decision.delayMs)
    if (decision.kind === 'drop') {
      counter.record(endpoint, 'dropped')
      response.socket?.destroy()
      return true
    }
    if (decision.kind === 'status') {
      counter.record(endpoint, decision.status)
      const { body, isJson } = faultBody(decision.status)
      const payload = isJson ? withCorrelationId(body as never, headers['x-hubspot-correlation-id']) : body
      sendJson(response, decision.status, payload, headers)
      return true
    }
  }
  return false
}

function findRoute(routes: Route[], method: string, pathname: string): { route: Route; params: string[] } | null {
  for (const route of routes) {
    if (route.method !== method) continue
    const match = route.pattern.exec(pathname)
    if (match) return { route, params: match.slice(1) }
  }
  return null
}

function routeContext(request: IncomingMessage, url: URL, params: string[], rawBody: string, correlationId: string): RouteContext {
  let parsed: unknown
  let hasParsed = false
  return {
    request,
    url,
    params,
    rawBody,
    correlationId,
    json: () => {
      if (!hasParsed) {
        parsed = parseJson(rawBody)
        hasParsed = true
      }
      return parsed
    },
    form: () => new URLSearchParams(rawBody),
  }
}

function internalError(error: unknown): SimulatorError {
  const message = error instanceof RangeError ? error.message : 'internal error'
  const status = error instanceof RangeError ? 400 : 500
  if (status === 500) console.error('simulator: unexpected error', error)
  return new SimulatorError(status, { status: 'error', message })
}

function buildSimulator(
  core: SimulatorCore,
  server: Server,
  counter: RequestCounter,
  faults: FaultInjector,
  url: string,
): Simulator {
  const { auth, webhooks } = core
  return {
    url,
    portalId: core.portalId,
    appId: core.appId,
    get privateAppToken() {
      return auth.privateAppToken
    },
    oauth: {
      clientId: auth.clientId,
      clientSecret: auth.clientSecret,
      issueGrant: () => auth.issueGrant(),
      revokeRefreshToken: (token) => auth.revokeRefreshToken(token),
      expireAccessToken: (token) => auth.expireAccessToken(token),
      rotatePrivateAppToken: () => auth.rotatePrivateAppToken(),
    },
    contacts: createContactsApi(core),
    options: () => core.options(),
    setOptions: (patch) => core.setOptions(patch),
    queueFaults: (list) => faults.enqueue(list),
    requestCounts: () => counter.snapshot(core.limiter.rejected),
    resetRequestCounts: () => counter.reset(),
    webhooks: {
      configure: (settings) => webhooks.configure(settings),
      flush: () => webhooks.flush(),
      sendAssociationChange: (change) => webhooks.enqueueAssociationChange({ occurredAtMs: core.nowMs(), ...change }),
      deliveries: () => [...webhooks.attempts],
    },
    close: () => closeServer(server, webhooks),
  }
}

function closeServer(server: Server, webhooks: WebhookSender): Promise<void> {
  webhooks.close()
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()))
    server.closeAllConnections()
  })
}
