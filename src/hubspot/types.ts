import { z } from 'zod'

/**
 * A contact as HubSpot returns it from list, search, get and batch read. Property values are
 * strings or null; ids are numeric strings that can pass 2^31.
 */
export const hubSpotContactSchema = z.object({
  id: z.string().regex(/^\d+$/, 'expected a numeric id'),
  properties: z.record(z.string(), z.string().nullable()),
  createdAt: z.string(),
  updatedAt: z.string(),
  archived: z.boolean().optional(),
  archivedAt: z.string().optional(),
  url: z.string().optional(),
})

export type HubSpotContact = z.infer<typeof hubSpotContactSchema>

export const listPageSchema = z.object({
  results: z.array(z.unknown()),
  paging: z
    .object({ next: z.object({ after: z.string(), link: z.string().optional() }).optional() })
    .optional(),
})

export const searchPageSchema = z.object({
  total: z.number().optional(),
  results: z.array(z.unknown()),
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
})

export interface ContactPage {
  contacts: HubSpotContact[]
  /** Contacts in the page that did not match the schema, with the reason; never thrown. */
  invalid: { id: string | null; reason: string }[]
  nextAfter: string | null
  total?: number
}

/** Properties every sync reads: the mapped columns plus what the poll and merges need. */
export const syncedProperties = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'mobilephone',
  'company',
  'jobtitle',
  'lifecyclestage',
  'hubspot_owner_id',
  'hs_lead_status',
  'website',
  'city',
  'state',
  'country',
  'createdate',
  'lastmodifieddate',
  'hs_object_id',
  'hs_merged_object_ids',
] as const
