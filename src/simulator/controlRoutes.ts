import { accountRoutes } from './accountRoutes.js'
import { createContactsApi } from './contactsApi.js'
import type { RequestCounter, SimulatorCore } from './core.js'
import { crmReadRoutes } from './crmReadRoutes.js'
import { crmWriteRoutes } from './crmWriteRoutes.js'
import { invalidFaultsError, type FaultInjector, type QueuedFault } from './faults.js'
import type { Route, RouteContext, RouteResult } from './http.js'
import type { SimulatorOptionsPatch } from './options.js'
import type { PropertyValues } from './seedData.js'
import { SimulatorError } from './simulatorError.js'
import type { WebhookSettings } from './webhookSettings.js'

/**
 * The control API under `/_simulator/`: the in-process operations over HTTP, for the CLI and for
 * tests in other processes. It needs no token and is never rate limited or faulted.
 */
export function controlRoutes(core: SimulatorCore, counter: RequestCounter, faults: FaultInjector): Route[] {
  const contacts = createContactsApi(core)
  const endpoints = faultableEndpoints(core)
  const properties = (context: RouteContext) => requireProperties(body(context))
  const ok = (value: unknown, status = 200): RouteResult => ({ status, body: value })
  const found = (value: unknown): RouteResult => {
    if (value === null) throw SimulatorError.notFound(0)
    return ok(value)
  }

  return [
    control('GET', '/state', () =>
      ok({
        portalId: core.portalId,
        appId: core.appId,
        contacts: core.store.size,
        privateAppToken: core.auth.privateAppToken,
        oauth: { clientId: core.auth.clientId, clientSecret: core.auth.clientSecret },
        pendingIndexWrites: core.store.searchIndex.pendingCount,
      }),
    ),
    control('GET', '/options', () => ok(core.options())),
    control('POST', '/options', (context) => ok(core.setOptions(body(context) as SimulatorOptionsPatch))),
    control('POST', '/faults', (context) => {
      faults.enqueue(requireFaults(body(context)), endpoints)
      return { status: 204 }
    }),
    control('GET', '/request-counts', () => ok(counter.snapshot(core.limiter.rejected))),
    control('DELETE', '/request-counts', () => {
      counter.reset()
      return { status: 204 }
    }),
    control('POST', '/contacts', (context) => ok(contacts.create(properties(context)), 201)),
    control('POST', '/contacts/bulk-update', (context) =>
      ok({ updatedAt: contacts.bulkUpdate(requireIds(body(context)), properties(context)) }),
    ),
    control('POST', '/contacts/merge', (context) => {
      const input = body(context)
      return ok(contacts.merge(requireId(input, 'primaryObjectId'), requireId(input, 'objectIdToMerge')))
    }),
    control('GET', '/contacts/(\\d+)', (context) => found(contacts.get(context.params[0]))),
    control('PATCH', '/contacts/(\\d+)', (context) => ok(contacts.update(context.params[0], properties(context)))),
    control('DELETE', '/contacts/(\\d+)', (context) => ok(contacts.archive(context.params[0]))),
    control('POST', '/contacts/(\\d+)/restore', (context) => ok(contacts.restore(context.params[0]))),
    control('POST', '/contacts/(\\d+)/gdpr-delete', (context) => {
      contacts.gdprDelete(context.params[0])
      return { status: 204 }
    }),
    control('POST', '/oauth/grants', () => ok(core.auth.issueGrant(), 201)),
    control('POST', '/oauth/expire', (context) => {
      core.auth.expireAccessToken(requireString(body(context), 'accessToken'))
      return { status: 204 }
    }),
    control('POST', '/oauth/revoke', (context) => {
      core.auth.revokeRefreshToken(requireString(body(context), 'refreshToken'))
      return { status: 204 }
    }),
    control('POST', '/webhooks/configure', (context) => {
      const input = body(context)
      requireString(input, 'targetUrl')
      requireString(input, 'clientSecret')
      core.webhooks.configure(input as unknown as WebhookSettings)
      return { status: 204 }
    }),
    control('POST', '/webhooks/association-change', (context) => {
      const input = body(context)
      core.webhooks.enqueueAssociationChange({
        fromObjectId: Number(requireId(input, 'fromObjectId')),
        toObjectId: Number(requireId(input, 'toObjectId')),
        associationType: String(input.associationType ?? 'CONTACT_TO_COMPANY'),
        associationRemoved: input.associationRemoved === true,
        isPrimaryAssociation: input.isPrimaryAssociation === true,
        occurredAtMs: core.nowMs(),
      })
      return { status: 204 }
    }),
    control('POST', '/webhooks/flush', async () => {
      await core.webhooks.flush()
      return { status: 204 }
    }),
    control('GET', '/webhooks/deliveries', () => ok(core.webhooks.attempts)),
  ]
}

/** Lists the endpoints faults can target: the HubSpot API routes, as request counts name them. */
function faultableEndpoints(core: SimulatorCore): string[] {
  const routes = [...accountRoutes(core), ...crmReadRoutes(core), ...crmWriteRoutes(core)]
  return routes.filter((route) => route.kind === 'hubspot').map((route) => route.endpoint)
}

/** Parses the JSON body. An empty body counts as `{}`, and anything but an object gets 400. */
function body(context: RouteContext): Record<string, unknown> {
  const parsed = context.json() ?? {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw SimulatorError.validation('The request body must be a JSON object.')
  }
  return parsed as Record<string, unknown>
}

function requireFaults(input: Record<string, unknown>): QueuedFault[] {
  if (input.faults === undefined) {
    const message =
      'faults is missing; send {"faults": [{"kind": "status", "status": 503}]} ' +
      'with kind status, drop or slow'
    throw invalidFaultsError([{ field: 'faults', message }])
  }
  return input.faults as QueuedFault[]
}

/**
 * Reads `{ properties }` as HubSpot's write endpoints take it: numbers and booleans become
 * strings, null clears a property, and nested objects or arrays are rejected.
 */
function requireProperties(input: Record<string, unknown>): PropertyValues {
  const value = input.properties
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value)
  const entries = isObject ? Object.entries(value) : []
  if (!isObject || entries.some(([, entry]) => entry !== null && typeof entry === 'object')) {
    const expected =
      'an object of property names to values, such as {"properties": {"email": "a@example.com"}}'
    throw invalidField('properties', expected)
  }
  return Object.fromEntries(entries.map(([name, entry]) => [name, entry === null ? null : String(entry)]))
}

function requireIds(input: Record<string, unknown>): string[] {
  const ids = input.ids
  if (!Array.isArray(ids) || ids.some((id) => !isContactId(id))) {
    throw invalidField('ids', 'an array of contact ids, such as ["2147483749"]')
  }
  return ids.map(String)
}

function requireId(input: Record<string, unknown>, field: string): string {
  if (!isContactId(input[field])) throw invalidField(field, 'a contact id, such as "2147483749"')
  return String(input[field])
}

function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field]
  if (typeof value !== 'string' || value === '') throw invalidField(field, 'a non-empty string')
  return value
}

function isContactId(value: unknown): boolean {
  if (typeof value === 'string') return /^\d+$/.test(value)
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

function invalidField(field: string, expected: string): SimulatorError {
  const message = `${field} must be ${expected}`
  return SimulatorError.validation(message, { errors: [{ field, message }] })
}

function control(method: string, path: string, handle: Route['handle']): Route {
  return {
    method,
    pattern: new RegExp(`^/_simulator${path}$`),
    endpoint: `${method} /_simulator${path.replace('(\\d+)', '{id}')}`,
    kind: 'control',
    handle,
  }
}
