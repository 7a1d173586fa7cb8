import { definedProperties, derivedProperties, storedProperties } from './contactRecord.js'
import type { SimulatorCore } from './core.js'
import { renderRecord } from './crmReadRoutes.js'
import { parseNumericId, type Route, type RouteContext, type RouteResult } from './http.js'
import type { PropertyValues } from './seedData.js'
import { SimulatorError } from './simulatorError.js'

const contactsPath = '/crm/v3/objects/(?:contacts|0-1)'
/** Webhook `changeSource` of writes made through the public API. */
const apiChangeSource = 'INTEGRATION'

/** Builds the write endpoints of the CRM contacts API that tests use to make history. */
export function crmWriteRoutes(core: SimulatorCore): Route[] {
  return [
    route('POST', `${contactsPath}/?`, 'POST /crm/v3/objects/contacts', (context) => createContact(core, context)),
    route('POST', `${contactsPath}/merge`, 'POST /crm/v3/objects/contacts/merge', (context) => mergeContacts(core, context)),
    route('POST', `${contactsPath}/gdpr-delete`, 'POST /crm/v3/objects/contacts/gdpr-delete', (context) => gdprDelete(core, context)),
    route('PATCH', `${contactsPath}/([^/]+)`, 'PATCH /crm/v3/objects/contacts/{id}', (context) => updateContact(core, context)),
    route('DELETE', `${contactsPath}/([^/]+)`, 'DELETE /crm/v3/objects/contacts/{id}', (context) => archiveContact(core, context)),
  ]
}

function route(method: string, path: string, endpoint: string, handle: Route['handle']): Route {
  return { method, pattern: new RegExp(`^${path}$`), endpoint, kind: 'hubspot', handle }
}

function createContact(core: SimulatorCore, context: RouteContext): RouteResult {
  const properties = parseProperties(context.json())
  const record = core.store.create(properties, { changeSource: apiChangeSource })
  return { status: 201, body: renderRecord(core, record, writtenNames(core, record.id)) }
}

function updateContact(core: SimulatorCore, context: RouteContext): RouteResult {
  const id = requireNumericId(context.params[0])
  const properties = parseProperties(context.json())
  const record = core.store.update(id, properties, { changeSource: apiChangeSource })
  return { status: 200, body: renderRecord(core, record, writtenNames(core, record.id)) }
}

function archiveContact(core: SimulatorCore, context: RouteContext): RouteResult {
  const id = requireNumericId(context.params[0])
  const record = core.store.find(id)
  // Archiving a contact that is missing or already archived still returns 204.
  if (record && record.archivedAtMs === null) core.store.archive(id, { changeSource: apiChangeSource })
  return { status: 204 }
}

function mergeContacts(core: SimulatorCore, context: RouteContext): RouteResult {
  const body = (context.json() ?? {}) as Record<string, unknown>
  const primaryId = parseNumericId(String(body.primaryObjectId ?? ''))
  const mergedId = parseNumericId(String(body.objectIdToMerge ?? ''))
  if (primaryId === null || mergedId === null) {
    throw SimulatorError.validation('primaryObjectId and objectIdToMerge must be numeric ids.')
  }
  const survivor = core.store.merge(primaryId, mergedId, { changeSource: apiChangeSource })
  return { status: 200, body: renderRecord(core, survivor, writtenNames(core, survivor.id)) }
}

function gdprDelete(core: SimulatorCore, context: RouteContext): RouteResult {
  const body = (context.json() ?? {}) as Record<string, unknown>
  const objectId = String(body.objectId ?? '')
  if (body.idProperty === 'email') {
    core.store.gdprDelete({ email: objectId }, { changeSource: apiChangeSource })
    return { status: 204 }
  }
  core.store.gdprDelete({ id: requireNumericId(objectId) }, { changeSource: apiChangeSource })
  return { status: 204 }
}

/** Validates `{ properties }`: values must be strings, names must exist on the portal. */
export function parseProperties(body: unknown): PropertyValues {
  const properties = (body as { properties?: unknown } | null)?.properties
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    throw SimulatorError.validation('properties must be an object of property names to values.')
  }
  const values: PropertyValues = {}
  const unknown: string[] = []
  for (const [name, value] of Object.entries(properties)) {
    if (!definedProperties.has(name) || derivedProperties.has(name)) unknown.push(name)
    else values[name] = value === null ? null : String(value)
  }
  if (unknown.length > 0) {
    throw SimulatorError.validation(`Property values were not valid: ${unknown.map((name) => `Property "${name}" does not exist`).join(', ')}`, {
      errors: unknown.map((name) => ({ message: `Property "${name}" does not exist`, code: 'PROPERTY_DOESNT_EXIST', context: { propertyName: [name] } })),
    })
  }
  return values
}

function requireNumericId(raw: string): number {
  const id = parseNumericId(raw)
  if (id === null) throw SimulatorError.notFoundNonNumeric(raw)
  return id
}

/** Write responses carry every property the contact has a value for, plus the default ones. */
function writtenNames(core: SimulatorCore, id: number): string[] {
  const record = core.store.find(id)
  const stored = record ? Object.keys(storedProperties(record, core.store.seed)) : []
  return [...new Set([...stored, 'createdate', 'hs_object_id', 'lastmodifieddate'])].sort()
}
