// A purge cannot be undone, so a lead is purged only when HubSpot has its contact neither
// live nor archived. Merged contacts whose survivor is in the recycle bin, and reads that
// return an error other than not found for an id, must leave the lead as it is or
// soft-delete it.
import t, { type Test } from 'tap'

import type { ContactsApi, HubSpotClients } from '../../src/hubspot/client.js'
import { parseBatchRead } from '../../src/hubspot/contactPages.js'
import { createLogger } from '../../src/logger.js'
import { refreshContacts } from '../../src/sync/contactRefresh.js'
import { runDriftCheck } from '../../src/sync/drift.js'
import { createSyncService } from '../../src/sync/runner.js'
import { lead, outboxSubjects } from '../webhooks/fixtures/leads.js'
import { apiToken, deliverAndDrain, startPipeline, type Pipeline } from '../webhooks/fixtures/pipeline.js'

const auth = { authorization: `Bearer ${apiToken}` }
const batchRead = 'POST /crm/v3/objects/contacts/batch/read'

async function runDrift(p: Pipeline) {
  const url = `/sync/${p.integration.id}?kind=drift&wait=true`
  const response = await p.app.inject({ method: 'POST', url, headers: auth })
  if (response.statusCode !== 200) throw new Error(`drift run returned ${response.statusCode}: ${response.body}`)
  return response.json()
}

t.test('merged contacts with an archived survivor are not purged', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false, withSync: true })
  const first = Number(p.sim.contacts.create({ email: 'first@example.com' }).id)
  const second = Number(p.sim.contacts.create({ email: 'second@example.com' }).id)
  await runDrift(p)

  const survivor = Number(p.sim.contacts.merge(first, second).id)
  p.sim.contacts.archive(survivor)
  const run = await runDrift(p)
  t.equal(run.status, 'succeeded', run.error ?? 'succeeded')
  t.equal(run.details.erasedInHubspot, 0, 'nothing counted as erased')
  for (const [id, email] of [[first, 'first@example.com'], [second, 'second@example.com']] as const) {
    const row = await lead(p.db.sql, p.integration.id, id)
    t.equal(row?.purgedAt, null, `lead ${id} not purged`)
    t.ok(row?.deletedAt, `lead ${id} soft-deleted`)
    t.equal(row?.email, email, `lead ${id} keeps its data`)
  }
  t.notOk((await outboxSubjects(p.db.sql, p.integration.id)).includes('leads.purged'), 'no leads.purged queued')
})

t.test('absorbed contact of an archived kept primary is not purged', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false, withSync: true })
  const absorbed = Number(p.sim.contacts.create({ email: 'absorbed@example.com' }).id)
  const primary = Number(p.sim.contacts.create({ email: 'primary@example.com' }).id)
  await runDrift(p)

  p.sim.contacts.merge(primary, absorbed, { keepPrimaryId: true })
  p.sim.contacts.archive(primary)
  const run = await runDrift(p)
  t.equal(run.details.erasedInHubspot, 0, 'nothing counted as erased')
  t.equal((await lead(p.db.sql, p.integration.id, absorbed))?.purgedAt, null, 'absorbed lead not purged')
  t.ok((await lead(p.db.sql, p.integration.id, primary))?.deletedAt, 'archived primary soft-deleted')
})

t.test('merge applied after its survivor was archived purges nothing', async (t) => {
  const p = await startPipeline(t)
  const first = Number(p.sim.contacts.create({ email: 'late-a@example.com' }).id)
  const second = Number(p.sim.contacts.create({ email: 'late-b@example.com' }).id)
  await deliverAndDrain(p)

  const survivor = Number(p.sim.contacts.merge(first, second).id)
  await p.sim.webhooks.flush()
  p.sim.contacts.archive(survivor)
  await p.worker.drain()
  for (const id of [first, second]) {
    t.equal((await lead(p.db.sql, p.integration.id, id))?.purgedAt, null, `lead ${id} not purged`)
  }
})

/**
 * Makes the archived reads, from the `fromRead`th on, return a 207 whose errors are of
 * `category` for every id. Earlier archived reads and every live read reach HubSpot.
 */
function archivedReadFails(api: ContactsApi, category: string, fromRead = 1): ContactsApi {
  let archivedReads = 0
  return {
    listContacts: (options) => api.listContacts(options),
    searchContacts: (request) => api.searchContacts(request),
    get stats() {
      return api.stats
    },
    async batchReadContacts(ids, options) {
      if (options?.archived !== true) return api.batchReadContacts(ids, options)
      archivedReads += 1
      if (archivedReads < fromRead) return api.batchReadContacts(ids, options)
      const error = { status: 'error', category, message: 'temporarily unavailable', context: { ids: [...ids] } }
      return parseBatchRead(JSON.stringify({ status: 'COMPLETE', results: [], numErrors: 1, errors: [error] }))
    },
  }
}

t.test('archived read without an answer purges nothing', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email: 'binned@example.com' }).id)
  const api = p.clients.forIntegration(p.integration)
  const request = { sql: p.db.sql, integration: p.integration, origin: 'poll' as const, contactIds: [id] }
  await refreshContacts({ ...request, api })
  p.sim.contacts.archive(id)

  const result = await refreshContacts({ ...request, api: archivedReadFails(api, 'INTERNAL_ERROR') })
  t.equal(result.purgedAsErased, 0, 'nothing purged')
  t.equal(result.deletedAsMissing, 0, 'nothing soft-deleted either')
  const row = await lead(p.db.sql, p.integration.id, id)
  t.equal(row?.purgedAt, null, 'lead not purged')
  t.equal(row?.email, 'binned@example.com', 'lead keeps its data')
})

t.test('later archived read without an answer purges nothing', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email: 'erased@example.com' }).id)
  const api = p.clients.forIntegration(p.integration)
  const request = { sql: p.db.sql, integration: p.integration, origin: 'webhook' as const, contactIds: [id] }
  await refreshContacts({ ...request, api })
  p.sim.contacts.gdprDelete(id)

  const result = await refreshContacts({ ...request, api: archivedReadFails(api, 'INTERNAL_ERROR', 2) })
  t.equal(result.purgedAsErased, 0, 'nothing purged')
  t.equal(result.deletedAsMissing, 0, 'nothing soft-deleted')
  t.ok((await lead(p.db.sql, p.integration.id, id))?.email, 'lead keeps its data')
})

t.test('soft-deleted leads are looked up 100 a read', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false, withSync: true })
  const ids: number[] = []
  for (let i = 0; i < 350; i++) ids.push(Number(p.sim.contacts.create({ email: `page${i}@example.com` }).id))
  await runDrift(p)
  const archived = ids.filter((_, index) => index % 3 === 1)
  for (const id of archived) p.sim.contacts.archive(id)
  const repaired = await runDrift(p)
  t.equal(repaired.counts.deleted, archived.length, 'every archived contact soft-deleted')

  p.sim.resetRequestCounts()
  const quiet = await runDrift(p)
  t.equal(quiet.details.erasedInHubspot, 0, 'nothing erased')
  const reads = p.sim.requestCounts().byEndpoint[batchRead]?.total ?? 0
  t.equal(reads, Math.ceil(archived.length / 100), `${archived.length} soft-deleted leads over several list pages`)
})

type ReadKind = 'list' | 'archivedRead' | 'liveRead'

/** Wraps a client so that `afterResponse` runs after each HubSpot response, before the caller gets it. */
function withResponseHook(api: ContactsApi, afterResponse: (kind: ReadKind) => void): ContactsApi {
  return {
    async listContacts(options) {
      const page = await api.listContacts(options)
      afterResponse('list')
      return page
    },
    searchContacts: (request) => api.searchContacts(request),
    get stats() {
      return api.stats
    },
    async batchReadContacts(ids, options) {
      const read = await api.batchReadContacts(ids, options)
      afterResponse(options?.archived === true ? 'archivedRead' : 'liveRead')
      return read
    },
  }
}

/**
 * Runs each change once, in order, after the next response of its kind. `done` counts the
 * changes made.
 */
function scriptedChanges(steps: { after: ReadKind; change: () => void }[]) {
  let done = 0
  const afterResponse = (kind: ReadKind) => {
    const step = steps[done]
    if (step === undefined || step.after !== kind) return
    step.change()
    done += 1
  }
  return { afterResponse, done: () => done }
}

/** Runs a drift check whose HubSpot calls go through `afterResponse`. */
async function runHookedDrift(t: Test, p: Pipeline, afterResponse: (kind: ReadKind) => void) {
  const clients: HubSpotClients = {
    forIntegration: (integration) => withResponseHook(p.clients.forIntegration(integration), afterResponse),
    stop: () => p.clients.stop(),
    close: () => p.clients.close(),
  }
  const sync = createSyncService({ config: p.config, sql: p.db.sql, logger: createLogger('silent'), clients, runners: { drift: runDriftCheck } })
  t.teardown(() => sync.stop())
  const run = await sync.startRun(p.integration.id, 'manual', { kind: 'drift' })
  return run.done
}

t.test('contact restored and archived again during a drift run is not purged', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email: 'binned@example.com' }).id)
  await runHookedDrift(t, p, () => {})
  p.sim.contacts.archive(id)
  await runHookedDrift(t, p, () => {})
  t.ok((await lead(p.db.sql, p.integration.id, id))?.deletedAt, 'lead soft-deleted')

  // The contact is restored after the list page is read and archived again right after the
  // first archived read, so it ends in the recycle bin.
  const race = scriptedChanges([
    { after: 'list', change: () => p.sim.contacts.restore(id) },
    { after: 'archivedRead', change: () => p.sim.contacts.archive(id) },
  ])
  const run = await runHookedDrift(t, p, race.afterResponse)
  t.equal(race.done(), 2, 'both changes happened')
  t.equal(run.details.erasedInHubspot, 0, 'nothing counted as erased')
  const row = await lead(p.db.sql, p.integration.id, id)
  t.equal(row?.purgedAt, null, 'lead not purged')
  t.equal(row?.email, 'binned@example.com', 'lead keeps its data')
})

type Move = { after: ReadKind; to: 'live' | 'archived' }

/**
 * Imports a contact, archives it, and refreshes it while `moves` restore or archive it
 * after the given responses. Returns the refresh result, the moves made and the lead.
 */
async function refreshDuringMoves(t: Test, email: string, moves: Move[]) {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email }).id)
  const request = { sql: p.db.sql, integration: p.integration, origin: 'webhook' as const, contactIds: [id] }
  await refreshContacts({ ...request, api: p.clients.forIntegration(p.integration) })
  p.sim.contacts.archive(id)

  const race = scriptedChanges(
    moves.map((move) => ({
      after: move.after,
      change: () => (move.to === 'live' ? p.sim.contacts.restore(id) : p.sim.contacts.archive(id)),
    })),
  )
  const api = withResponseHook(p.clients.forIntegration(p.integration), race.afterResponse)
  const result = await refreshContacts({ ...request, api })
  return { result, moved: race.done(), row: await lead(p.db.sql, p.integration.id, id) }
}

t.test('contact restored and archived again between reads is not purged', async (t) => {
  const { result, moved, row } = await refreshDuringMoves(t, 'twice@example.com', [
    { after: 'liveRead', to: 'live' },
    { after: 'archivedRead', to: 'archived' },
  ])
  t.equal(moved, 2, 'both moves happened')
  t.equal(result.purgedAsErased, 0, 'nothing purged')
  t.equal(result.deletedAsMissing, 1, 'lead soft-deleted')
  t.equal(row?.purgedAt, null, 'lead not purged')
})

t.test('contact restored, archived and restored between reads stays', async (t) => {
  const { result, moved, row } = await refreshDuringMoves(t, 'thrice@example.com', [
    { after: 'liveRead', to: 'live' },
    { after: 'archivedRead', to: 'archived' },
    { after: 'liveRead', to: 'live' },
  ])
  t.equal(moved, 3, 'all three moves happened')
  t.equal(result.purgedAsErased, 0, 'nothing purged')
  t.equal(row?.purgedAt, null, 'lead not purged')
  t.equal(row?.deletedAt, null, 'lead live, as its contact is')
  t.equal(row?.email, 'thrice@example.com', 'lead keeps its data')
})

t.test('drift run leaves a contact that ends live', async (t) => {
  const p = await startPipeline(t, { sendWebhooks: false })
  const id = Number(p.sim.contacts.create({ email: 'returns@example.com' }).id)
  await runHookedDrift(t, p, () => {})
  p.sim.contacts.archive(id)
  await runHookedDrift(t, p, () => {})

  const race = scriptedChanges([
    { after: 'list', change: () => p.sim.contacts.restore(id) },
    { after: 'archivedRead', change: () => p.sim.contacts.archive(id) },
    { after: 'liveRead', change: () => p.sim.contacts.restore(id) },
  ])
  const run = await runHookedDrift(t, p, race.afterResponse)
  t.equal(race.done(), 3, 'all three changes happened')
  t.equal(run.details.erasedInHubspot, 0, 'nothing counted as erased')
  t.equal((await lead(p.db.sql, p.integration.id, id))?.purgedAt, null, 'lead not purged')
  const next = await runHookedDrift(t, p, () => {})
  t.equal(next.details.deletedLocally, 1, 'the next run finds the restored contact')
  t.equal((await lead(p.db.sql, p.integration.id, id))?.deletedAt, null, 'and revives its lead')
})
