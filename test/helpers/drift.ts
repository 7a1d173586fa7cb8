import type { Sql } from '../../src/db/connection.js'
import { registry } from '../../src/metrics.js'
import type { Simulator } from '../../src/simulator/server.js'

/** Reads hubspot_sync_drift_contacts_total for one `kind` label, 0 before the first count. */
export async function driftMetric(kind: string): Promise<number> {
  const metric = await registry.getSingleMetric('hubspot_sync_drift_contacts_total')!.get()
  return metric.values.find((value) => value.labels.kind === kind)?.value ?? 0
}

/** Returns the contact ids of the integration's leads that are not deleted, merged or purged, in order. */
export async function liveContactIds(sql: Sql, integrationId: number): Promise<number[]> {
  const rows = await sql<{ hubspot_contact_id: number }[]>`
    select hubspot_contact_id from leads
    where integration_id = ${integrationId}
      and deleted_at is null and merged_into_contact_id is null and purged_at is null
    order by hubspot_contact_id
  `
  return rows.map((row) => row.hubspot_contact_id)
}

/** Returns the ids of the simulator's contacts that are not archived, in the simulator's order. */
export function liveHubSpotIds(sim: Simulator): number[] {
  return sim.contacts
    .all()
    .filter((contact) => !contact.archived)
    .map((contact) => Number(contact.id))
}
