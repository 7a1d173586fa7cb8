import type { PublicObjectSearchRequest } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js'

import { runCall, type CallLoopDeps, type CallSpec } from './callLoop.js'
import type {
  BatchReadOptions,
  ContactsApi,
  ContactsApiStats,
  ListContactsOptions,
  SearchRequest,
} from './client.js'
import {
  listPageIds,
  parseBatchRead,
  parseListPage,
  parseSearchPage,
  ResponseShapeError,
  type BatchReadResult,
} from './contactPages.js'
import { hubspotErrors } from './hubspotErrors.js'
import type { RawResponse } from './retry.js'
import { syncedProperties, type ContactPage, type HubSpotContact } from './types.js'

export const endpoints = {
  list: 'GET /crm/v3/objects/contacts',
  search: 'POST /crm/v3/objects/contacts/search',
  batchRead: 'POST /crm/v3/objects/contacts/batch/read',
} as const

const listPath = '/crm/v3/objects/contacts'
/** HubSpot's batch endpoints take at most 100 inputs. */
const maxBatchInputs = 100
const defaultListLimit = 100

export interface ContactsApiOptions {
  apiUrl: string
  maxUrlLength: number
}

type Parse<T> = (text: string) => T

/** The ContactsApi of one integration; every call goes through `runCall`. */
export class HubSpotContactsApi implements ContactsApi {
  constructor(
    private readonly loop: CallLoopDeps,
    private readonly options: ContactsApiOptions,
  ) {}

  get stats(): ContactsApiStats {
    return this.loop.stats
  }

  async listContacts(opts: ListContactsOptions): Promise<ContactPage> {
    const properties = [...(opts.properties ?? syncedProperties)]
    const query = {
      limit: opts.limit ?? defaultListLimit,
      after: opts.after ?? undefined,
      archived: opts.archived ?? false,
    }
    if (listUrlLength(this.options.apiUrl, query, properties) <= this.options.maxUrlLength) {
      return this.request(this.listSpec(query, properties), parseListPage)
    }

    // A long property list would make the URL long enough for HubSpot to reject it with 414, so the
    // page is listed by id and its properties are read with batch read, which takes a body.
    const page = await this.request(this.listSpec(query, ['hs_object_id']), listPageIds)
    const read = await this.batchReadContacts(page.ids, { properties, archived: query.archived })
    return {
      contacts: inListOrder(page.ids, read.contacts),
      invalid: read.invalid,
      nextAfter: page.nextAfter,
    }
  }

  async searchContacts(request: SearchRequest): Promise<ContactPage> {
    const { after, ...rest } = request
    const body = {
      ...rest,
      properties: [...(request.properties ?? syncedProperties)],
      // HubSpot documents `after` as a string, so a null cursor is left out rather than sent.
      ...(after === null || after === undefined ? {} : { after }),
    }
    return this.request(
      {
        endpoint: endpoints.search,
        budget: 'search',
        // The SDK types `sorts` as strings, but passes objects through unchanged; HubSpot only
        // honours the object form.
        send: (client, options) =>
          client.crm.contacts.searchApi.doSearchWithHttpInfo(
            body as PublicObjectSearchRequest,
            options,
          ),
      },
      parseSearchPage,
    )
  }

  async batchReadContacts(
    ids: readonly string[],
    opts: BatchReadOptions = {},
  ): Promise<BatchReadResult> {
    const unique = [...new Set(ids)]
    const properties = [...(opts.properties ?? syncedProperties)]
    const result: BatchReadResult = { contacts: [], missingIds: [], invalid: [] }
    for (let start = 0; start < unique.length; start += maxBatchInputs) {
      const chunk = unique.slice(start, start + maxBatchInputs)
      const read = await this.request(
        this.batchReadSpec(chunk, properties, opts.archived ?? false),
        parseBatchRead,
      )
      result.contacts.push(...read.contacts)
      result.missingIds.push(...read.missingIds)
      result.invalid.push(...read.invalid)
    }
    return result
  }

  private listSpec(query: ListQuery, properties: string[]): CallSpec {
    return {
      endpoint: endpoints.list,
      budget: 'burst',
      send: (client, options) =>
        client.crm.contacts.basicApi.getPageWithHttpInfo(
          query.limit,
          query.after,
          properties,
          undefined,
          undefined,
          query.archived,
          options,
        ),
    }
  }

  private batchReadSpec(ids: string[], properties: string[], archived: boolean): CallSpec {
    const input = { inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: [] }
    return {
      endpoint: endpoints.batchRead,
      budget: 'burst',
      send: (client, options) =>
        client.crm.contacts.batchApi.readWithHttpInfo(input, archived, options),
    }
  }

  private async request<T>(spec: CallSpec, parse: Parse<T>): Promise<T> {
    const response = await runCall(this.loop, spec)
    return parseOrThrow(this.loop, spec.endpoint, response, parse)
  }
}

interface ListQuery {
  limit: number
  after: string | undefined
  archived: boolean
}

function parseOrThrow<T>(
  loop: CallLoopDeps,
  endpoint: string,
  response: RawResponse,
  parse: Parse<T>,
): T {
  try {
    return parse(response.text)
  } catch (error) {
    if (!(error instanceof ResponseShapeError)) throw error
    const call = {
      integrationId: loop.integration.id,
      portalId: loop.integration.portalId,
      endpoint,
    }
    throw hubspotErrors.badResponse(
      call,
      error.message,
      response.status,
      response.headers['x-hubspot-correlation-id'],
    )
  }
}

/** Builds the list URL as the SDK does (one `properties` parameter per name) and measures it. */
export function listUrlLength(
  apiUrl: string,
  query: ListQuery,
  properties: readonly string[],
): number {
  const url = new URL(apiUrl.replace(/\/+$/, '') + listPath)
  url.searchParams.append('limit', String(query.limit))
  if (query.after !== undefined) url.searchParams.append('after', query.after)
  for (const name of properties) url.searchParams.append('properties', name)
  url.searchParams.append('archived', String(query.archived))
  return url.href.length
}

/**
 * Orders batch-read contacts as the list page listed them. A merged id comes back under the
 * surviving record's id, so contacts matching no listed id keep their place at the end.
 */
function inListOrder(ids: readonly string[], contacts: HubSpotContact[]): HubSpotContact[] {
  const byId = new Map(contacts.map((contact) => [contact.id, contact]))
  const ordered = ids.flatMap((id) => byId.get(id) ?? [])
  const listed = new Set(ids)
  return [...ordered, ...contacts.filter((contact) => !listed.has(contact.id))]
}
