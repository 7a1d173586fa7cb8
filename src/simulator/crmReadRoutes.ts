import type { ContactRecord } from './contactRecord.js'
import type { SimulatorCore } from './core.js'
import { booleanParam, listParam, parseNumericId, type Route, type RouteContext, type RouteResult } from './http.js'
import { defaultObjectProperties, isoString, liveState, renderContact, requestedProperties } from './render.js'
import { SimulatorError } from './simulatorError.js'

/** List pages hold at most 100 contacts, or 50 when property history is requested. */
const maxListLimit = 100
const maxListLimitWithHistory = 50
/** Batch endpoints take at most 100 inputs. */
export const maxBatchInputs = 100
const contactsPath = '/crm/v3/objects/(?:contacts|0-1)'

/** Builds the read endpoints of the CRM contacts API. */
export function crmReadRoutes(core: SimulatorCore): Route[] {
  return [
    route('GET', `${contactsPath}/?`, 'GET /crm/v3/objects/contacts', (context) => listContacts(core, context)),
    route('POST', `${contactsPath}/search`, 'POST /crm/v3/objects/contacts/search', (context) => ({
      status: 200,
      body: core.search.search(context.json()),
    }), true),
    route('POST', `${contactsPath}/batch/read`, 'POST /crm/v3/objects/contacts/batch/read', (context) => batchRead(core, context)),
    route('GET', `${contactsPath}/([^/]+)`, 'GET /crm/v3/objects/contacts/{id}', (context) => getContact(core, context)),
  ]
}

function route(method: string, path: string, endpoint: string, handle: Route['handle'], isSearch = false): Route {
  return { method, pattern: new RegExp(`^${path}$`), endpoint, kind: 'hubspot', isSearch, handle }
}

function listContacts(core: SimulatorCore, context: RouteContext): RouteResult {
  const { url } = context
  const history = listParam(url, 'propertiesWithHistory')
  const maxLimit = history.length > 0 ? maxListLimitWithHistory : maxListLimit
  const limit = parseLimit(url.searchParams.get('limit'), maxLimit)
  const afterParam = url.searchParams.get('after')
  const afterId = afterParam === null || afterParam === '' ? 0 : parseNumericId(afterParam)
  if (afterId === null) throw SimulatorError.badRequest()

  const archived = booleanParam(url, 'archived')
  const page = core.store.listPage(afterId, limit, archived)
  const names = requestedProperties(listParam(url, 'properties'), defaultObjectProperties)
  const results = page.records.map((record) => renderRecord(core, record, names, history))
  if (page.nextId === null) return { status: 200, body: { results } }

  const after = String(page.nextId)
  const link = new URL(url.pathname, core.baseUrl())
  for (const [key, value] of url.searchParams) if (key !== 'after') link.searchParams.append(key, value)
  link.searchParams.set('after', after)
  return { status: 200, body: { results, paging: { next: { after, link: link.toString() } } } }
}

function parseLimit(raw: string | null, maxLimit: number): number {
  if (raw === null || raw === '') return 10
  const limit = Number(raw)
  if (!Number.isInteger(limit) || limit < 1) throw SimulatorError.badRequest()
  // NOTE: HubSpot documents the maximum but not the response past it, so the simulator rejects with 400.
  if (limit > maxLimit) throw SimulatorError.validation(`limit must be at most ${maxLimit}, got ${limit}`)
  return limit
}

function getContact(core: SimulatorCore, context: RouteContext): RouteResult {
  const { url } = context
  const rawId = decodeURIComponent(context.params[0])
  const archived = booleanParam(url, 'archived')
  const record = url.searchParams.get('idProperty') === 'email' ? core.store.findByEmail(rawId) : findById(core, rawId)
  if (!record || (record.archivedAtMs !== null) !== archived) throw SimulatorError.notFound(rawId)

  const names = requestedProperties(listParam(url, 'properties'), defaultObjectProperties)
  return { status: 200, body: renderRecord(core, record, names, listParam(url, 'propertiesWithHistory')) }
}

function findById(core: SimulatorCore, rawId: string): ContactRecord | null {
  const id = parseNumericId(rawId)
  if (id === null) throw SimulatorError.notFoundNonNumeric(rawId)
  // A merged-away id resolves to the surviving record, which carries a different id.
  return core.store.resolve(id)
}

function batchRead(core: SimulatorCore, context: RouteContext): RouteResult {
  const startedAt = isoString(core.nowMs())
  const body = (context.json() ?? {}) as Record<string, unknown>
  const inputs = Array.isArray(body.inputs) ? body.inputs : null
  if (!inputs) throw SimulatorError.validation('inputs must be an array of objects with an id.')
  if (inputs.length > maxBatchInputs) {
    throw SimulatorError.validation(`Batch input limit exceeded: ${inputs.length} inputs, at most ${maxBatchInputs} allowed.`)
  }
  const archived = booleanParam(context.url, 'archived')
  const byEmail = body.idProperty === 'email'
  const names = requestedProperties(stringList(body.properties), defaultObjectProperties)
  const history = stringList(body.propertiesWithHistory)

  const results = new Map<number, unknown>()
  const missing: string[] = []
  for (const input of inputs) {
    const rawId = String((input as { id?: unknown })?.id ?? '')
    const record = byEmail ? core.store.findByEmail(rawId) : lookupQuietly(core, rawId)
    if (!record || (record.archivedAtMs !== null) !== archived) missing.push(rawId)
    else if (!results.has(record.id)) results.set(record.id, renderRecord(core, record, names, history))
  }
  const response: Record<string, unknown> = { status: 'COMPLETE', results: [...results.values()], startedAt, completedAt: isoString(core.nowMs()) }
  if (missing.length === 0) return { status: 200, body: response }

  response.numErrors = 1
  response.errors = [
    {
      status: 'error',
      category: 'OBJECT_NOT_FOUND',
      message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
      context: { ids: missing },
      // HubSpot's spec marks both as required in StandardError.
      errors: [],
      links: {},
    },
  ]
  return { status: 207, body: response }
}

function lookupQuietly(core: SimulatorCore, rawId: string): ContactRecord | null {
  const id = parseNumericId(rawId)
  return id === null ? null : core.store.resolve(id)
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : []
}

export function renderRecord(core: SimulatorCore, record: ContactRecord, names: readonly string[], history: readonly string[] = []) {
  const context = core.renderContext()
  const historyRequest = history.length > 0 ? { names: history, record } : undefined
  return renderContact(liveState(record, context.seed), names, context, historyRequest)
}
