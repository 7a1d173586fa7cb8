import t from 'tap'

import type { TransactionSql } from '../../src/db/connection.js'
import { recordAbsorbedContacts } from '../../src/db/absorbedContacts.js'
import { markLeadsMerged, readImportStates, readLeadsByContacts } from '../../src/db/leadImport.js'
import { importContacts } from '../../src/sync/import.js'
import { createTestDatabase } from '../helpers/database.js'
import { contact, createIntegration } from '../events/support.js'

const { sql } = await createTestDatabase(t)
const integration = await createIntegration(sql, 333)

// Statistics taken while leads was empty, as after a first deploy or a truncate, and kept
// stale because autovacuum had no reason to analyze again yet.
await sql`vacuum analyze leads`
const contactIds = Array.from({ length: 3000 }, (_, index) => 5_000_000_000 + index)
for (let start = 0; start < contactIds.length; start += 200) {
  const contacts = contactIds
    .slice(start, start + 200)
    .map((id) => contact(id, { email: `${id}@example.com` }, '2024-05-01T00:00:00.000Z'))
  await importContacts(sql, { integration, origin: 'backfill', contacts })
}
const wanted = contactIds.slice(1000, 1100)

/** Index entries of the (integration_id, hubspot_contact_id) key read in this transaction. */
async function uniqueIndexTuplesRead(tx: TransactionSql): Promise<number> {
  const [row] = await tx<{ tuples: number }[]>`
    select pg_stat_get_xact_tuples_returned(
      'leads_integration_id_hubspot_contact_id_key'::regclass
    )::int as tuples
  `
  return row.tuples
}

t.test('state read looks up each id despite stale statistics', async (t) => {
  await sql.begin(async (tx) => {
    const before = await uniqueIndexTuplesRead(tx)
    const states = await readImportStates(tx, integration.id, wanted)
    t.equal(states.leads.length, 100)
    t.equal((await uniqueIndexTuplesRead(tx)) - before, 100, 'one index entry per id, not 3000')
  })
})

t.test('lead read for events looks up each id', async (t) => {
  await sql.begin(async (tx) => {
    const before = await uniqueIndexTuplesRead(tx)
    const leads = await readLeadsByContacts(tx, integration.id, wanted)
    t.equal(leads.length, 100)
    t.equal((await uniqueIndexTuplesRead(tx)) - before, 100)
  })
})

t.test('merge marking looks up each absorbed id', async (t) => {
  await sql.begin(async (tx) => {
    const before = await uniqueIndexTuplesRead(tx)
    const marks = wanted.slice(0, 5).map((id) => ({ absorbedContactId: id, survivorContactId: 1 }))
    const marked = await markLeadsMerged(tx, integration.id, marks)
    t.equal(marked.length, 5)
    t.equal((await uniqueIndexTuplesRead(tx)) - before, 5)
  })
})

t.test('state read returns absorbed ids with and without leads', async (t) => {
  const absorbed = [wanted[0], 9_000_000_001].map((id) => ({
    absorbed_contact_id: id,
    survivor_contact_id: 42,
  }))
  await recordAbsorbedContacts(sql, integration.id, absorbed)
  const states = await readImportStates(sql, integration.id, [wanted[0], 9_000_000_001, 9_000_000_002])
  t.same(states.leads.map((row) => row.hubspot_contact_id), [wanted[0]])
  t.same(states.absorbed, absorbed)
})
