import t from 'tap'

import { createTestDatabase } from '../helpers/database.js'
import { auth, buildAdminApp } from '../http/helpers.js'
import { rejectedAdminRequests, type AdminCase } from './corpus.js'

const adminBodyLimitBytes = 1024 * 1024

const { sql } = await createTestDatabase(t)
const app = await buildAdminApp(t, sql)

async function tablesFingerprint(): Promise<string> {
  const [row] = await sql<{ fingerprint: string }[]>`
    select md5(
      coalesce((select string_agg(i::text, ',' order by id) from integrations i), '') ||
      coalesce((select string_agg(w::text, ',' order by id) from webhook_events w), '') ||
      coalesce((select string_agg(r::text, ',' order by id) from sync_runs r), '')
    ) as fingerprint
  `
  return row.fingerprint
}

function send(testCase: AdminCase) {
  const headers: Record<string, string> = { ...auth }
  if (testCase.contentType !== null) headers['content-type'] = testCase.contentType ?? 'application/json'
  const payload = testCase.method === 'GET' || testCase.body === '' && testCase.contentType === null ? undefined : testCase.body
  return app.inject({ method: testCase.method, url: testCase.url, headers, payload })
}

t.test('hostile admin requests get 4xx and store nothing', async (t) => {
  const created = await app.inject({
    method: 'POST',
    url: '/integrations',
    headers: auth,
    payload: { portalId: 555, accessToken: 'pat-existing-0000' },
  })
  t.equal(created.statusCode, 201, 'integration 1 exists for the PATCH cases')

  for (const testCase of rejectedAdminRequests(adminBodyLimitBytes)) {
    const before = await tablesFingerprint()
    const response = await send(testCase)

    t.equal(response.statusCode, testCase.status, `${testCase.name}: status (${response.body.slice(0, 300)})`)
    const body = response.json()
    if (testCase.code) t.equal(body.code, testCase.code, `${testCase.name}: code`)
    if (testCase.mentions) {
      const fields = (body.details?.issues ?? []).map((issue: { field: string }) => issue.field)
      const named =
        String(body.message).includes(testCase.mentions) ||
        fields.some((field: string) => field.startsWith(testCase.mentions!))
      t.ok(named, `${testCase.name}: names ${testCase.mentions} (${body.message})`)
    }
    t.equal(await tablesFingerprint(), before, `${testCase.name}: nothing stored`)
    t.equal(({} as Record<string, unknown>).polluted, undefined, `${testCase.name}: Object.prototype not polluted`)
  }

  const good = await app.inject({
    method: 'POST',
    url: '/integrations',
    headers: auth,
    payload: { portalId: 556, name: 'after the corpus', accessToken: 'pat-after-0000' },
  })
  t.equal(good.statusCode, 201, 'a good request afterwards succeeds')
  const list = await app.inject({ method: 'GET', url: '/integrations', headers: auth })
  t.equal(list.json().integrations.length, 2, 'only the two good integrations exist')
})
