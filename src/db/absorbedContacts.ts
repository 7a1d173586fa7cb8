import type { Queryable } from './connection.js'
import type { AbsorbedContactRow } from './leadImport.js'

/**
 * Records contact ids that HubSpot merged into another contact. An id already recorded
 * keeps its first survivor and is not written again, so reading the same survivor twice
 * writes nothing. The import reads these rows back with `readImportStates`.
 */
export async function recordAbsorbedContacts(
  sql: Queryable,
  integrationId: number,
  rows: AbsorbedContactRow[],
): Promise<void> {
  if (rows.length === 0) return
  await sql`
    insert into absorbed_contacts (
      integration_id,
      absorbed_contact_id,
      survivor_contact_id
    )
    select
      ${integrationId}::bigint,
      x.absorbed_contact_id,
      x.survivor_contact_id
    from jsonb_to_recordset(${rows as never}::jsonb) as x (
      absorbed_contact_id bigint,
      survivor_contact_id bigint
    )
    order by x.absorbed_contact_id
    on conflict (integration_id, absorbed_contact_id) do nothing
  `
}
