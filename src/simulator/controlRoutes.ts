import { createContactsApi } from './contactsApi.js'
import type { RequestCounter, SimulatorCore } from './core.js'
import type { FaultInjector, QueuedFault } from './faults.js'
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
  const body = (context: RouteContext) => (context.json() ?? {}) as Record<string, unknown>
  const properties = (context: RouteContext) => (body(context).properties ?? {}) as PropertyValues
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
      faults.enqueue((body(context).faults ?? []) as QueuedFault[])
      return { status: 204 }
    }),
    control('GET', '/request-counts', () => ok(counter.snapshot(core.limiter.rejected))),
    control('DELETE', '/request-counts', () => {
      counter.reset()
      return { status: 204 }
    }),
    control('POST', '/contacts', (context) => ok(contacts.create(properties(context)), 201)),
    control('POST', '/contacts/bulk-update', (context) =>
      ok({ updatedAt: contacts.bulkUpdate((body(context).ids ?? []) as string[], properties(context)) }),
    ),
    control('POST', '/contacts/merge', (context) => {
      const input = body(context)
      return ok(contacts.merge(String(input.primaryObjectId), String(input.objectIdToMerge)))
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
      core.auth.expireAccessToken(String(body(context).accessToken ?? ''))
      return { status: 204 }
    }),
    control('POST', '/oauth/revoke', (context) => {
      core.auth.revokeRefreshToken(String(body(context).refreshToken ?? ''))
      return { status: 204 }
    }),
    control('POST', '/webhooks/configure', (context) => {
      core.webhooks.configure(body(context) as unknown as WebhookSettings)
      return { status: 204 }
    }),
    control('POST', '/webhooks/association-change', (context) => {
      const input = body(context)
      core.webhooks.enqueueAssociationChange({
        fromObjectId: Number(input.fromObjectId),
        toObjectId: Number(input.toObjectId),
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

function control(method: string, path: string, handle: Route['handle']): Route {
  return {
    method,
    pattern: new RegExp(`^/_simulator${path}$`),
    endpoint: `${method} /_simulator${path.replace('(\\d+)', '{id}')}`,
    kind: 'control',
    handle,
  }
}
