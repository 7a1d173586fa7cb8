import { parseArgs } from 'node:util'
import type { SimulatorOptionsPatch } from './options.js'
import { startSimulator, type Simulator } from './server.js'

const usage = `Usage: hubspot-sync simulator [options]

Starts a local HubSpot (CRM contacts, OAuth, webhooks) for demos, tests and benchmarks.

  --contacts N             seeded contacts (default 1000)
  --seed S                 seed of the generated data (default 1)
  --port P                 port (default 4010; 0 picks a free one)
  --host H                 interface (default 127.0.0.1)
  --portal-id ID           portal id (default 12345678)
  --token TOKEN            private-app token to accept (default: random per start)
  --client-id ID           OAuth client id (default: random per start)
  --client-secret SECRET   OAuth client secret (default: random per start)
  --defaults NAME          knob set: realistic (default) or test
  --index-lag-ms MS        delay before writes reach search (realistic: 3000)
  --tie-order MODE         id, seeded or random order of equal sort values
  --out-of-range-rate R    share of search pages with one stray record
  --error-rate R           share of API requests failing with 500/502/503/504/423
  --slow-rate R            share of slow API responses
  --slow-ms MS             delay of a slow response
  --drop-rate R            share of API requests whose connection is dropped
  --no-rate-limits         turn off every rate limit
  --search-per-second N    search limit per portal (default 5)
  --burst-per-10s N        private-app budget per 10 seconds (default 190)
  --daily-limit N          private-app daily budget (default 625000; 0 disables)
  --retry-after S          send Retry-After: S on 429 responses
  --webhook-url URL        deliver webhook events to URL
  --webhook-secret SECRET  app client secret used to sign them (default: the simulator's)
  --webhook-retry-scale F  multiply the 22-hour retry schedule by F (e.g. 0.001)
  --options JSON           any other knobs as JSON (see src/simulator/options.ts)
  --help                   show this text
`

const argumentSpec = {
  contacts: { type: 'string' },
  seed: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'portal-id': { type: 'string' },
  token: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  defaults: { type: 'string' },
  'index-lag-ms': { type: 'string' },
  'tie-order': { type: 'string' },
  'out-of-range-rate': { type: 'string' },
  'error-rate': { type: 'string' },
  'slow-rate': { type: 'string' },
  'slow-ms': { type: 'string' },
  'drop-rate': { type: 'string' },
  'no-rate-limits': { type: 'boolean' },
  'search-per-second': { type: 'string' },
  'burst-per-10s': { type: 'string' },
  'daily-limit': { type: 'string' },
  'retry-after': { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-secret': { type: 'string' },
  'webhook-retry-scale': { type: 'string' },
  options: { type: 'string' },
  help: { type: 'boolean' },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof argumentSpec }>>['values']

/** Runs `hubspot-sync simulator`: starts the simulator and serves until SIGINT or SIGTERM. */
export async function runSimulatorCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: argumentSpec, allowPositionals: false })
  if (values.help) {
    process.stdout.write(usage)
    return
  }
  const defaults = values.defaults ?? 'realistic'
  if (defaults !== 'realistic' && defaults !== 'test') throw new Error(`--defaults must be realistic or test, got ${defaults}`)
  const webhookUrl = values['webhook-url']
  if (webhookUrl !== undefined && !isHttpUrl(webhookUrl)) {
    throw new Error(`--webhook-url must be an http or https URL, got ${webhookUrl}`)
  }

  const sim = await startSimulator({
    contacts: integer(values.contacts, 'contacts', 1000),
    seed: integer(values.seed, 'seed', 1),
    port: integer(values.port, 'port', 4010),
    host: values.host ?? '127.0.0.1',
    portalId: integer(values['portal-id'], 'portal-id', 12345678),
    defaults,
    privateAppToken: values.token,
    clientId: values['client-id'],
    clientSecret: values['client-secret'],
    options: optionsFrom(values),
  })
  let webhooks: WebhookTarget | null
  try {
    webhooks = configureWebhooks(sim, values)
  } catch (error) {
    await sim.close()
    throw error
  }
  process.stdout.write(formatBanner(sim, webhooks))
  await waitForSignal()
  await sim.close()
}

function optionsFrom(values: Values): SimulatorOptionsPatch {
  const patch: SimulatorOptionsPatch = values.options ? (JSON.parse(values.options) as SimulatorOptionsPatch) : {}
  const search = { ...patch.search }
  const faults = { ...patch.faults }
  const rateLimits = { ...patch.rateLimits }
  if (values['index-lag-ms'] !== undefined) search.indexLagMs = number(values['index-lag-ms'], 'index-lag-ms')
  if (values['tie-order'] !== undefined) search.tieOrder = values['tie-order'] as 'id' | 'seeded' | 'random'
  if (values['out-of-range-rate'] !== undefined) search.outOfRangeRate = number(values['out-of-range-rate'], 'out-of-range-rate')
  if (values['error-rate'] !== undefined) faults.errorRate = number(values['error-rate'], 'error-rate')
  if (values['slow-rate'] !== undefined) faults.slowRate = number(values['slow-rate'], 'slow-rate')
  if (values['slow-ms'] !== undefined) faults.slowResponseMs = number(values['slow-ms'], 'slow-ms')
  if (values['drop-rate'] !== undefined) faults.dropRate = number(values['drop-rate'], 'drop-rate')
  if (values['no-rate-limits']) rateLimits.enabled = false
  if (values['search-per-second'] !== undefined) rateLimits.searchPerSecond = number(values['search-per-second'], 'search-per-second')
  if (values['burst-per-10s'] !== undefined) rateLimits.privateAppPer10Seconds = number(values['burst-per-10s'], 'burst-per-10s')
  if (values['daily-limit'] !== undefined) {
    const limit = number(values['daily-limit'], 'daily-limit')
    rateLimits.dailyLimit = limit === 0 ? null : limit
  }
  if (values['retry-after'] !== undefined) rateLimits.retryAfterSeconds = number(values['retry-after'], 'retry-after')
  return { ...patch, search, faults, rateLimits }
}

/** Webhook target URL and signing secret, as the banner prints them. */
export interface WebhookTarget {
  targetUrl: string
  clientSecret: string
}

function configureWebhooks(sim: Simulator, values: Values): WebhookTarget | null {
  const targetUrl = values['webhook-url']
  if (!targetUrl) return null
  const target = { targetUrl, clientSecret: values['webhook-secret'] ?? sim.oauth.clientSecret }
  sim.webhooks.configure({
    ...target,
    retryTimeScale: values['webhook-retry-scale'] === undefined ? 1 : number(values['webhook-retry-scale'], 'webhook-retry-scale'),
  })
  return target
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text)
    return protocol === 'http:' || protocol === 'https:'
  } catch {
    return false
  }
}

/** Builds the start-up text: address, credentials, how to point the service at it, and webhooks. */
export function formatBanner(sim: Simulator, webhooks: WebhookTarget | null): string {
  const grant = sim.oauth.issueGrant()
  const lines = [
    `HubSpot simulator listening on ${sim.url} (portal ${sim.portalId}, ${sim.contacts.count()} contacts)`,
    ``,
    `Private-app token:   ${sim.privateAppToken}`,
    `OAuth client id:     ${sim.oauth.clientId}`,
    `OAuth client secret: ${sim.oauth.clientSecret}`,
    `OAuth refresh token: ${grant.refreshToken}`,
    ``,
    `Point the service at it:`,
    `  HUBSPOT_API_URL=${sim.url} HUBSPOT_CLIENT_ID=${sim.oauth.clientId} HUBSPOT_CLIENT_SECRET=${sim.oauth.clientSecret}`,
    `Try it:`,
    `  curl -H 'Authorization: Bearer ${sim.privateAppToken}' '${sim.url}/crm/v3/objects/contacts?limit=2'`,
    ...webhookLines(webhooks, sim.oauth.clientSecret),
    `Control API: ${sim.url}/_simulator/state (see docs/simulator.md). Ctrl-C stops it.`,
    ``,
  ]
  return lines.join('\n')
}

function webhookLines(webhooks: WebhookTarget | null, oauthClientSecret: string): string[] {
  if (!webhooks) {
    return ['Webhooks: off; start with --webhook-url URL to send contact changes to the service.']
  }
  const { targetUrl, clientSecret } = webhooks
  const lines = [
    `Webhooks: every contact change is sent to ${targetUrl}, signed with ${clientSecret}.`,
    `  The service verifies them with:`,
    `  WEBHOOK_PUBLIC_URL=${targetUrl} HUBSPOT_CLIENT_SECRET=${clientSecret}`,
  ]
  if (clientSecret !== oauthClientSecret) {
    // The service has one HUBSPOT_CLIENT_SECRET for token refreshes and webhook signatures.
    lines.push('  This secret differs from the OAuth client secret, so OAuth token refreshes fail with it.')
  }
  return lines
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

function integer(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`)
  return value
}

function number(raw: string, name: string): number {
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, got ${raw}`)
  return value
}
