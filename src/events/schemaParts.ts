import { z } from 'zod'

import {
  mappedFieldNames,
  pickMappedFields,
  type LeadMappedFields,
  type MappedFieldName,
} from '../db/leads.js'

/** An id in event data. HubSpot ids pass 2^31, and `int()` accepts only safe integers. */
export const positiveId = z.number().int().positive()
export const isoTime = z.iso.datetime()

/** The ids that name the lead behind a lead event or an action event. */
export const leadIdsShape = {
  leadId: positiveId,
  integrationId: positiveId,
  portalId: positiveId,
  hubspotContactId: positiveId,
}

const mappedFieldsShape = Object.fromEntries(
  mappedFieldNames.map((name) => [name, z.string().nullable()]),
) as Record<MappedFieldName, z.ZodNullable<z.ZodString>>

/** A lead's mapped fields and HubSpot creation time, as lead and action events carry them. */
export const mappedLeadSchema = z.object({
  ...mappedFieldsShape,
  hubspotCreatedAt: isoTime.nullable(),
})
export type MappedLeadData = z.infer<typeof mappedLeadSchema>

export function mappedLeadData(
  lead: LeadMappedFields & { hubspotCreatedAt: Date | null },
): MappedLeadData {
  return {
    ...pickMappedFields(lead),
    hubspotCreatedAt: lead.hubspotCreatedAt?.toISOString() ?? null,
  }
}
