import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'

import type { Teardown } from './teardown.js'

/** What the proxy does to a request instead of forwarding it as is. */
export type ProxyFault =
  | {
      kind: 'rateLimit'
      policy: 'SECONDLY' | 'TEN_SECONDLY_ROLLING' | 'DAILY' | null
      retryAfterSeconds?: number
      /**
       * Whether a TEN_SECONDLY_ROLLING 429 carries the X-HubSpot-RateLimit headers (budget
       * used up, 10-second interval); default true. Without them only Retry-After sets the wait.
       */
      budgetHeaders?: boolean
    }
  | { kind: 'status'; status: number }
  | { kind: 'hang'; delayMs: number }
  | { kind: 'reset' }
  | { kind: 'truncate' }
  | { kind: 'body'; status: number; text: string }

export interface FaultRule {
  /** Substring of `METHOD /path` the rule applies to, e.g. `GET /crm/v3/objects/contacts`. */
  match: string
  fault: ProxyFault
  /** Matching requests forwarded untouched before the fault starts; default 0. */
  skip?: number
  /** Matching requests the fault applies to; default 1, Infinity for the whole run. */
  count?: number
  /** Applies the fault to one matching request in `every`, forwarding the others; default 1. */
  every?: number
}

export interface FaultProxy {
  url: string
  setRules(rules: FaultRule[]): void
  /** Faults applied so far, by kind. */
  applied(): Record<string, number>
}

const hopHeaders = new Set(['connection', 'transfer-encoding', 'content-length', 'keep-alive'])

/**
 * Starts an HTTP proxy on a free port in front of the simulator. It replaces the responses
 * to chosen HubSpot requests with faults the simulator cannot produce: 429 bodies of each
 * policy, hung responses, connection resets, truncated or invalid JSON and bodies of the
 * wrong shape.
 */
export async function startFaultProxy(t: Teardown, targetUrl: string): Promise<FaultProxy> {
  let rules: (Required<FaultRule> & { seen: number })[] = []
  // Hung responses end at teardown, so their timers cannot keep the test process alive.
  const pendingHangs = new Set<() => void>()
  const hold = (delayMs: number) =>
    new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer)
        pendingHangs.delete(release)
        resolve()
      }
      const timer = setTimeout(release, delayMs)
      pendingHangs.add(release)
    })
  const applied: Record<string, number> = {}
  const server = createServer((request, response) => {
    void handle(request, response).catch(() => response.destroy())
  })

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const body = await readBody(request)
    const rule = pickRule(`${request.method} ${request.url}`)
    if (rule) {
      rule.count--
      applied[rule.fault.kind] = (applied[rule.fault.kind] ?? 0) + 1
      if (await applyFault(rule.fault, request, body, response)) return
    }
    const upstream = await forward(request, body)
    response.writeHead(upstream.status, upstream.headers)
    response.end(upstream.body)
  }

  /**
   * Returns the rule whose fault this request gets, or null to forward it. Rules are checked in
   * order: one still skipping forwards the request, one that passes it on leaves it to the next.
   */
  function pickRule(key: string) {
    for (const rule of rules) {
      if (!key.includes(rule.match) || rule.count <= 0) continue
      if (rule.skip > 0) {
        rule.skip--
        return null
      }
      if (rule.seen++ % rule.every === 0) return rule
    }
    return null
  }

  async function forward(request: IncomingMessage, body: Buffer) {
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string' && name !== 'host' && !hopHeaders.has(name)) headers[name] = value
    }
    const upstream = await fetch(`${targetUrl}${request.url}`, {
      method: request.method,
      headers,
      body: request.method === 'GET' || request.method === 'HEAD' ? undefined : body,
    })
    const responseHeaders: Record<string, string> = {}
    upstream.headers.forEach((value, name) => {
      if (!hopHeaders.has(name) && name !== 'content-encoding') responseHeaders[name] = value
    })
    return { status: upstream.status, headers: responseHeaders, body: Buffer.from(await upstream.arrayBuffer()) }
  }

  /** Returns true when the fault sent the response itself. */
  async function applyFault(fault: ProxyFault, request: IncomingMessage, body: Buffer, response: ServerResponse) {
    switch (fault.kind) {
      case 'rateLimit':
        sendRateLimit(response, fault)
        return true
      case 'status':
        sendJson(response, fault.status, { status: 'error', message: 'internal error', category: 'INTERNAL_ERROR' })
        return true
      case 'hang':
        await hold(fault.delayMs)
        response.destroy()
        return true
      case 'reset':
        request.socket.destroy()
        return true
      case 'truncate': {
        const upstream = await forward(request, body)
        response.writeHead(upstream.status, { 'content-type': 'application/json' })
        response.end(upstream.body.subarray(0, Math.floor(upstream.body.length / 2)))
        return true
      }
      case 'body':
        response.writeHead(fault.status, { 'content-type': 'application/json' })
        response.end(fault.text)
        return true
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const release of pendingHangs) release()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return {
    url: `http://127.0.0.1:${port}`,
    setRules: (next) => {
      rules = next.map((rule) => ({ skip: 0, count: 1, every: 1, ...rule, seen: 0 }))
    },
    applied: () => ({ ...applied }),
  }
}

function sendRateLimit(response: ServerResponse, fault: Extract<ProxyFault, { kind: 'rateLimit' }>) {
  const { policy, retryAfterSeconds, budgetHeaders = true } = fault
  const headers: Record<string, string> = {}
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds)
  if (policy === 'TEN_SECONDLY_ROLLING' && budgetHeaders) {
    Object.assign(headers, {
      'x-hubspot-ratelimit-max': '190',
      'x-hubspot-ratelimit-remaining': '0',
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
    })
  }
  const body: Record<string, unknown> = {
    status: 'error',
    message: 'You have reached your limit.',
    errorType: 'RATE_LIMIT',
    correlationId: '00000000-0000-4000-8000-000000000000',
  }
  if (policy) body.policyName = policy
  sendJson(response, 429, body, headers)
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers })
  response.end(JSON.stringify(body))
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
