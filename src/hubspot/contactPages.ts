import { z } from 'zod'

import {
  hubSpotContactSchema,
  listPageSchema,
  searchPageSchema,
  type ContactPage,
  type HubSpotContact,
} from './types.js'

/** A contact that failed validation: its id when one could be read, and why it failed. */
export interface InvalidContact {
  id: string | null
  reason: string
}

export interface BatchReadResult {
  contacts: HubSpotContact[]
  missingIds: string[]
  invalid: InvalidContact[]
}

/** Thrown when a 2xx body is not JSON or not the expected envelope; callers add the call ids. */
export class ResponseShapeError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'ResponseShapeError'
  }
}

const batchErrorSchema = z.looseObject({
  category: z.string().optional(),
  message: z.string().optional(),
  context: z.looseObject({ ids: z.array(z.string()).optional() }).optional(),
})

const batchResponseSchema = z.object({
  results: z.array(z.unknown()),
  errors: z.array(batchErrorSchema).optional(),
})

export function parseListPage(text: string): ContactPage {
  const page = parseEnvelope(text, listPageSchema, 'list page')
  return { ...validateContacts(page.results), nextAfter: page.paging?.next?.after ?? null }
}

export function parseSearchPage(text: string): ContactPage {
  const page = parseEnvelope(text, searchPageSchema, 'search page')
  const parsed: ContactPage = {
    ...validateContacts(page.results),
    nextAfter: page.paging?.next?.after ?? null,
  }
  if (page.total !== undefined) parsed.total = page.total
  return parsed
}

/**
 * Parses a batch read response (200, or 207 with `errors`). Ids in OBJECT_NOT_FOUND errors are
 * missing; ids in other errors are reported as invalid with HubSpot's message.
 */
export function parseBatchRead(text: string): BatchReadResult {
  const batch = parseEnvelope(text, batchResponseSchema, 'batch read response')
  const result: BatchReadResult = { ...validateContacts(batch.results), missingIds: [] }
  for (const error of batch.errors ?? []) {
    const ids = error.context?.ids ?? []
    if (error.category === 'OBJECT_NOT_FOUND') result.missingIds.push(...ids)
    else {
      for (const id of ids)
        result.invalid.push({ id, reason: error.message ?? error.category ?? 'batch read error' })
    }
  }
  return result
}

/** Reads the ids of a list page without validating the contacts (used before a batch read). */
export function listPageIds(text: string): { ids: string[]; nextAfter: string | null } {
  const page = parseEnvelope(text, listPageSchema, 'list page')
  const ids = page.results
    .map((row) => (row as { id?: unknown } | null)?.id)
    .filter((id) => typeof id === 'string')
  return { ids, nextAfter: page.paging?.next?.after ?? null }
}

function parseEnvelope<T>(text: string, schema: z.ZodType<T>, what: string): T {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ResponseShapeError(`${what} is not valid JSON`)
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    throw new ResponseShapeError(`${what} has an unexpected shape: ${summarise(parsed.error)}`)
  }
  return parsed.data
}

function validateContacts(rows: unknown[]): {
  contacts: HubSpotContact[]
  invalid: InvalidContact[]
} {
  const contacts: HubSpotContact[] = []
  const invalid: InvalidContact[] = []
  for (const row of rows) {
    const parsed = hubSpotContactSchema.safeParse(row)
    if (parsed.success) contacts.push(parsed.data)
    else invalid.push({ id: readId(row), reason: summarise(parsed.error) })
  }
  return { contacts, invalid }
}

function readId(row: unknown): string | null {
  const id = (row as { id?: unknown } | null)?.id
  if (typeof id === 'string') return id
  return typeof id === 'number' ? String(id) : null
}

/** Names the failing paths without echoing values, which may hold personal data. */
function summarise(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ')
}
