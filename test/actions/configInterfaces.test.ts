import t from 'tap'

import { runIntegrationsCommand } from '../../src/cli/integrationsCommand.js'
import { createTestDatabase } from '../helpers/database.js'
import { adminConfig, auth, buildAdminApp } from '../http/helpers.js'
import { allActions } from './support.js'

// Covers the three ways to set an integration's actions: POST and PATCH /integrations and
// the `integrations add --actions` command. Each stores valid settings as given and rejects
// invalid ones with the field named, storing nothing.
const { url, sql } = await createTestDatabase(t)
const app = await buildAdminApp(t, sql)

let portalId = 7_600_000

interface Issue {
  field: string
  reason: string
}

async function storedActions(id: number): Promise<unknown> {
  const [row] = await sql<{ actions: unknown }[]>`select actions from integrations where id = ${id}`
  return row.actions
}

/** Sends POST /integrations for the next unused portal id. */
function postIntegration(accessToken: string, actions: unknown) {
  return app.inject({
    method: 'POST',
    url: '/integrations',
    headers: auth,
    payload: { portalId: portalId++, accessToken, actions },
  })
}

function buffer() {
  const chunks: string[] = []
  return { write: (text: string) => chunks.push(text), text: () => chunks.join('') }
}

const invalidActions: [string, unknown, Issue][] = [
  [
    'empty user list',
    { assign: { enabled: true, strategy: 'round_robin', userIds: [] } },
    {
      field: 'actions.assign.userIds',
      reason: 'expected a non-empty array of distinct positive integers (at most 1000)',
    },
  ],
  [
    'owner map with a name as key',
    { assign: { enabled: true, strategy: 'hubspot_owner', ownerMap: { alice: 3 } } },
    { field: 'actions.assign.ownerMap.alice', reason: 'expected a HubSpot owner id (digits) as key' },
  ],
  [
    'second recipient a number',
    { notify: { enabled: true, channel: 'email', recipients: ['a@example.com', 7] } },
    { field: 'actions.notify.recipients[1]', reason: 'expected a string' },
  ],
  [
    'condition on an unknown field',
    { analyze: { enabled: true, when: { field: 'mood', equals: 'x' } } },
    {
      field: 'actions.analyze.when.field',
      reason:
        'expected one of email, firstName, lastName, phone, company, jobTitle, lifecycleStage, hubspotOwnerId or properties.<HubSpot property name>',
    },
  ],
  [
    'the old mode key',
    { assign: { enabled: true, mode: 'round_robin', strategy: 'round_robin', userIds: [1] } },
    { field: 'actions.assign.mode', reason: 'unknown key; expected enabled, strategy, userIds, when' },
  ],
]

t.test('POST /integrations stores actions', async (t) => {
  const response = await postIntegration('pat-post', allActions)
  t.equal(response.statusCode, 201)
  t.same(response.json().actions, allActions, 'returned as stored')
  t.same(await storedActions(response.json().id), allActions, 'stored in the integration row')
})

t.test('POST /integrations names the bad actions field', async (t) => {
  for (const [name, actions, issue] of invalidActions) {
    const response = await postIntegration('pat-post', actions)
    t.equal(response.statusCode, 400, `${name}: status`)
    t.equal(response.json().code, 'VALIDATION_FAILED', `${name}: code`)
    t.same(response.json().details.issues, [issue], `${name}: issue`)
  }
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from integrations`
  t.equal(row.count, 1, 'no integration stored for a rejected body')
})

t.test('PATCH /integrations/:id replaces or keeps actions', async (t) => {
  const created = await postIntegration('pat-patch', allActions)
  const id = created.json().id as number
  const patch = (payload: object) =>
    app.inject({ method: 'PATCH', url: `/integrations/${id}`, headers: auth, payload })

  for (const [name, actions, issue] of invalidActions) {
    const response = await patch({ actions })
    t.equal(response.statusCode, 400, `${name}: status`)
    t.same(response.json().details.issues, [issue], `${name}: issue`)
  }
  t.same(await storedActions(id), allActions, 'rejected patches change nothing')

  const replaced = { sequence: { enabled: true, sequenceId: 'welcome', when: { field: 'company', present: true } } }
  const response = await patch({ actions: replaced })
  t.equal(response.statusCode, 200)
  t.same(response.json().actions, replaced)
  t.same(await storedActions(id), replaced, 'the new settings replace the old ones')

  const renamed = await patch({ name: 'renamed' })
  t.equal(renamed.statusCode, 200)
  t.same(await storedActions(id), replaced, 'a patch without actions keeps them')
})

t.test('integrations add --actions stores or rejects actions', async (t) => {
  const config = adminConfig({ DATABASE_URL: url })
  const add = async (args: string[]) => {
    const stdout = buffer()
    const stderr = buffer()
    const code = await runIntegrationsCommand(['add', ...args], config, { stdout, stderr })
    return { code, stdout: stdout.text(), stderr: stderr.text() }
  }

  const cliPortal = portalId++
  const added = await add(['--portal-id', String(cliPortal), '--token', 'pat-cli', '--actions', JSON.stringify(allActions)])
  t.equal(added.code, 0, added.stderr)
  const [row] = await sql<{ actions: unknown }[]>`select actions from integrations where portal_id = ${cliPortal}`
  t.same(row?.actions, allActions, 'stored as given')

  const invalid = await add([
    '--portal-id',
    String(portalId++),
    '--token',
    'pat-cli',
    '--actions',
    JSON.stringify(invalidActions[0][1]),
  ])
  t.equal(invalid.code, 2, 'invalid settings exit with 2')
  t.match(invalid.stderr, 'actions.assign.userIds: expected a non-empty array of distinct positive integers')

  const notJson = await add(['--portal-id', String(portalId++), '--token', 'pat-cli', '--actions', '{assign'])
  t.equal(notJson.code, 2, 'invalid JSON exits with 2')
  t.match(notJson.stderr, 'Invalid --actions: not valid JSON')

  const [count] = await sql<{ count: number }[]>`
    select count(*)::int as count from integrations where portal_id > ${cliPortal}
  `
  t.equal(count.count, 0, 'nothing stored for rejected commands')
})
