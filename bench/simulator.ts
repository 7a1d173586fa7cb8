/**
 * Throughput of the HubSpot simulator itself: list pages (100 contacts) and search pages
 * (200 contacts, lastmodifieddate window sorted ascending) over keep-alive HTTP, with rate
 * limits off. Run:
 *   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/simulator.ts [contacts] [seconds]
 */
import { cpus, totalmem } from 'node:os'
import { Agent, request } from 'undici'
import { startSimulator, type Simulator } from '../src/simulator/server.js'

const contactCount = Number(process.argv[2] ?? 1_000_000)
const durationMs = Number(process.argv[3] ?? 10) * 1000
const concurrency = 8

interface Result {
  name: string
  requests: number
  contacts: number
  seconds: number
  p50Ms: number
  p99Ms: number
}

async function measure(name: string, next: (worker: number) => Promise<number>): Promise<Result> {
  const latenciesMs: number[] = []
  let contacts = 0
  const startedMs = performance.now()
  const endMs = startedMs + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < endMs) {
        const requestStartedMs = performance.now()
        // Read the count first: `contacts += await ...` would lose concurrent updates.
        const pageContacts = await next(worker)
        contacts += pageContacts
        latenciesMs.push(performance.now() - requestStartedMs)
      }
    }),
  )
  const seconds = (performance.now() - startedMs) / 1000
  latenciesMs.sort((a, b) => a - b)
  const percentile = (p: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * p))]
  return { name, requests: latenciesMs.length, contacts, seconds, p50Ms: percentile(0.5), p99Ms: percentile(0.99) }
}

async function getJson(agent: Agent, sim: Simulator, method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await request(`${sim.url}${path}`, {
    method,
    dispatcher: agent,
    headers: { authorization: `Bearer ${sim.privateAppToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (response.statusCode !== 200) throw new Error(`${method} ${path}: ${response.statusCode}`)
  return (await response.body.json()) as { results: unknown[]; paging?: { next?: { after: string } } }
}

async function main(): Promise<void> {
  const seedStartedMs = performance.now()
  const sim = await startSimulator({ contacts: contactCount, seed: 1, options: { rateLimits: { enabled: false } } })
  const seedSeconds = (performance.now() - seedStartedMs) / 1000
  const heapMb = process.memoryUsage().heapUsed / 1e6
  const agent = new Agent({ connections: concurrency, pipelining: 1 })

  // Each worker walks the whole list from its own start, like a backfill would.
  const ids = sim.contacts.ids()
  const cursors = Array.from({ length: concurrency }, (_, worker) => ids[Math.floor((ids.length / concurrency) * worker)])
  const list = await measure('list pages (limit 100)', async (worker) => {
    const page = await getJson(agent, sim, 'GET', `/crm/v3/objects/contacts?limit=100&after=${cursors[worker]}&properties=email,firstname,lastname,phone,company,jobtitle,lifecyclestage`)
    cursors[worker] = page.paging?.next?.after ?? ids[0]
    return page.results.length
  })

  // A poll window of 10 days, paged 200 at a time up to the 10,000 cap.
  const windowStartMs = Date.UTC(2025, 6, 1)
  const offsets = new Array(concurrency).fill(0)
  let windowTotal = 0
  const search = await measure('search pages (limit 200, lastmodifieddate window)', async (worker) => {
    const page = await getJson(agent, sim, 'POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [
        { propertyName: 'lastmodifieddate', operator: 'GTE', value: String(windowStartMs) },
        { propertyName: 'lastmodifieddate', operator: 'LT', value: String(windowStartMs + 10 * 24 * 3600 * 1000) },
      ] }],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      properties: ['email', 'firstname', 'lastname', 'phone', 'company'],
      limit: 200,
      after: String(offsets[worker]),
    })
    windowTotal = (page as { total?: number }).total ?? 0
    offsets[worker] = page.paging?.next?.after && Number(page.paging.next.after) + 200 <= 10_000 ? Number(page.paging.next.after) : 0
    return page.results.length
  })

  await agent.close()
  await sim.close()
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1e9).toFixed(1)} GB RAM, Node ${process.version}`)
  console.log(`seeded ${contactCount} contacts in ${seedSeconds.toFixed(1)} s, heap used ${heapMb.toFixed(0)} MB; concurrency ${concurrency}, ${durationMs / 1000} s per case`)
  console.log(`search window matches ${windowTotal} contacts`)
  for (const result of [list, search]) {
    console.log(
      `${result.name}: ${(result.requests / result.seconds).toFixed(0)} requests/s, ` +
        `${(result.contacts / result.seconds).toFixed(0)} contacts/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms`,
    )
  }
}

await main()
