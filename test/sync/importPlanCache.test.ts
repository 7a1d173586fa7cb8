import t from 'tap'

import { connect } from '../../src/db/connection.js'
import { importContacts } from '../../src/sync/import.js'
import { contact, createIntegration } from '../events/support.js'
import { createTestDatabase } from '../helpers/database.js'

// postgres.js prepares every statement, and after five executions PostgreSQL may keep a
// generic plan of it. For the state lookup a generic plan made from an empty table's
// statistics reads every lead of the integration for each id, so the import must plan each
// execution afresh. One connection makes every page run on the session whose
// pg_prepared_statements is read at the end.
t.test('the import plans its state lookup for each page', async (t) => {
  const { url, sql: admin } = await createTestDatabase(t)
  const integration = await createIntegration(admin)
  await admin`vacuum analyze leads`
  const sql = connect(url, { maxConnections: 1 })
  t.teardown(() => sql.end({ timeout: 1 }))

  const pages = 8
  for (let page = 0; page < pages; page++) {
    const contacts = Array.from({ length: 20 }, (_, index) =>
      contact(3_000_000_000 + page * 100 + index, { email: `p${page}-${index}@example.com` }, '2024-06-01T00:00:00.000Z'),
    )
    const result = await importContacts(sql, { integration, origin: 'poll', contacts })
    t.equal(result.created, 20, `page ${page + 1} created its 20 leads`)
  }

  const plans = await sql<{ generic_plans: number; custom_plans: number }[]>`
    select generic_plans::int, custom_plans::int
    from pg_prepared_statements
    where statement like '%from unnest(%'
      and statement like '%absorbed_contacts%'
      and statement not like '%pg_prepared_statements%'
  `
  t.equal(plans.length, 1, 'the state lookup is one prepared statement')
  t.equal(plans[0].generic_plans, 0, 'no page ran it with a cached generic plan')
  t.ok(plans[0].custom_plans >= pages, `each page planned it afresh (${plans[0].custom_plans} plans)`)
})
