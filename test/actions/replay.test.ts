import t from 'tap'

import { runActionsCommand } from '../../src/actions/command.js'
import { replayIntegrationActions, replayLeadActions } from '../../src/actions/replay.js'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../../src/config.js'
import { updateIntegration } from '../../src/db/integrations.js'
import { findLead } from '../../src/db/leads.js'
import { NatsManager } from '../../src/events/nats.js'
import { createTestDatabase } from '../helpers/database.js'
import { actionEvents, allActions, countRows, createIntegration, insertLead, recordsOf, silentLogger } from './support.js'

// Replays need no NATS: they write records and outbox events like the consumer does.
const { sql } = await createTestDatabase(t)
const apiToken = 'replay-test-token-0123456789'
const nats = new NatsManager({ url: 'nats://127.0.0.1:1', subjectPrefix: 'unused', logger: silentLogger })
const app = buildApp({ config: testConfig({ API_TOKEN: apiToken }), sql, logger: silentLogger, nats, services: {} })
t.teardown(() => app.close())
const auth = { authorization: `Bearer ${apiToken}` }

let portalId = 7_500_000

function output() {
  const chunks: string[] = []
  return { write: (text: string) => chunks.push(text), text: () => chunks.join('') }
}

t.test('lead replay runs missing actions once', async (t) => {
  const integration = await createIntegration(sql, portalId++, allActions)
  const lead = await insertLead(sql, integration.id, allActions)

  const first = await replayLeadActions(sql, lead.id)
  t.same(first.results.map((r) => [r.action, r.status, r.recorded]), [
    ['assign', 'done', true],
    ['analyze', 'done', true],
    ['notify', 'done', true],
    ['sequence', 'done', true],
  ])
  const second = await replayLeadActions(sql, lead.id)
  t.ok(second.results.every((r) => !r.recorded), 'nothing recorded twice')
  t.equal((await actionEvents(sql, lead.id)).length, 4)
  const records = await recordsOf(sql, lead.id)
  t.ok(records.every((r) => r.decision.trigger === 'replay'))
  t.ok(records.every((r) => r.decision.configSource === 'import'))
})

t.test('current settings run skipped actions but never repeat done ones', async (t) => {
  const before = { sequence: { enabled: true, sequenceId: 'first' } }
  const integration = await createIntegration(sql, portalId++, before)
  const lead = await insertLead(sql, integration.id, before)
  await replayLeadActions(sql, lead.id)
  await updateIntegration(sql, integration.id, {
    actions: { sequence: { enabled: true, sequenceId: 'second' }, notify: allActions.notify },
  })

  const again = await replayLeadActions(sql, lead.id)
  t.ok(again.results.every((r) => !r.recorded), 'import settings: nothing new')

  const current = await replayLeadActions(sql, lead.id, { configSource: 'current' })
  const recorded = current.results.filter((r) => r.recorded).map((r) => r.action)
  t.same(recorded, ['notify'], 'the skipped notify runs now; the done sequence does not run again')
  const events = await actionEvents(sql, lead.id)
  t.same(events.map((e) => e.subject), ['sequences.enrollment.requested', 'notifications.requested'])
  t.equal(events[0].payload.data.sequenceId, 'first')
  const notify = (await recordsOf(sql, lead.id)).find((r) => r.action === 'notify')
  t.equal(notify?.decision.configSource, 'current')
})

t.test('integration replay covers live leads without records', async (t) => {
  const integration = await createIntegration(sql, portalId++, allActions)
  const pending = [await insertLead(sql, integration.id, allActions), await insertLead(sql, integration.id, allActions)]
  const done = await insertLead(sql, integration.id, allActions)
  await replayLeadActions(sql, done.id)
  const deleted = await insertLead(sql, integration.id, allActions)
  await sql`update leads set deleted_at = now() where id = ${deleted.id}`

  const summary = await replayIntegrationActions(sql, integration.id, { batchSize: 1 })
  t.same(summary, { integrationId: integration.id, configSource: 'import', leads: 2, done: 8, skipped: 0 })
  t.equal(await countRows(sql, pending.map((l) => l.id)), 8)
  t.equal(await countRows(sql, [deleted.id]), 0, 'deleted lead left alone')
  const users = await Promise.all([...pending, done].map(async (l) => (await findLead(sql, l.id))?.assignedUserId))
  t.same(users.sort(), [101, 102, 103], 'the rotation continues across replays')
})

t.test('replay routes', async (t) => {
  const integration = await createIntegration(sql, portalId++, allActions)
  const lead = await insertLead(sql, integration.id, allActions)
  const other = await insertLead(sql, integration.id, allActions)

  const unauthorized = await app.inject({ method: 'POST', url: `/leads/${lead.id}/actions/replay` })
  t.equal(unauthorized.statusCode, 401)

  const leadReply = await app.inject({ method: 'POST', url: `/leads/${lead.id}/actions/replay`, headers: auth })
  t.equal(leadReply.statusCode, 200)
  const body = leadReply.json()
  t.equal(body.leadId, lead.id)
  t.equal(body.configSource, 'import')
  t.equal(body.actions.length, 4)
  t.same(body.actions.map((a: { action: string }) => a.action), ['assign', 'analyze', 'notify', 'sequence'])

  const missing = await app.inject({ method: 'POST', url: '/leads/999999/actions/replay', headers: auth })
  t.equal(missing.statusCode, 404)
  const invalid = await app.inject({
    method: 'POST',
    url: `/leads/${lead.id}/actions/replay`,
    headers: auth,
    payload: { config: 'later' },
  })
  t.equal(invalid.statusCode, 400)

  const integrationReply = await app.inject({
    method: 'POST',
    url: `/integrations/${integration.id}/actions/replay`,
    headers: auth,
    payload: { config: 'import' },
  })
  t.equal(integrationReply.statusCode, 200)
  t.same(integrationReply.json(), { integrationId: integration.id, configSource: 'import', leads: 1, done: 4, skipped: 0 })
  t.equal(await countRows(sql, [other.id]), 4)

  const unknown = await app.inject({ method: 'POST', url: '/integrations/999999/actions/replay', headers: auth })
  t.equal(unknown.statusCode, 404)
})

t.test('actions replay command', async (t) => {
  const integration = await createIntegration(sql, portalId++, { analyze: { enabled: true } })
  const lead = await insertLead(sql, integration.id, { analyze: { enabled: true } })
  const next = await insertLead(sql, integration.id, { analyze: { enabled: true } })

  const out = output()
  t.equal(await runActionsCommand(['replay', '--lead', String(lead.id)], { sql, stdout: out, stderr: output() }), 0)
  t.match(out.text(), /analyze: done\n/)
  t.match(out.text(), /assign: skipped \(not_configured\)\n/)

  const again = output()
  await runActionsCommand(['replay', '--lead', String(lead.id)], { sql, stdout: again, stderr: output() })
  t.match(again.text(), /analyze: done, as recorded by an earlier run/)

  const summary = output()
  const code = await runActionsCommand(['replay', '--integration', String(integration.id)], {
    sql,
    stdout: summary,
    stderr: output(),
  })
  t.equal(code, 0)
  t.match(summary.text(), /1 leads, 1 actions done, 3 skipped/)
  t.equal(await countRows(sql, [next.id]), 4)

  const err = output()
  t.equal(await runActionsCommand(['replay', '--lead', '1', '--integration', '2'], { sql, stdout: output(), stderr: err }), 2)
  t.match(err.text(), /exactly one of --lead ID and --integration ID/)
  t.equal(await runActionsCommand(['replay', '--lead', 'abc'], { sql, stdout: output(), stderr: output() }), 2)
  t.equal(await runActionsCommand(['replay', '--lead', '5', '--config', 'x'], { sql, stdout: output(), stderr: output() }), 2)
  t.equal(await runActionsCommand(['nope'], { sql, stdout: output(), stderr: output() }), 2)
  const notFound = output()
  t.equal(await runActionsCommand(['replay', '--lead', '999999'], { sql, stdout: output(), stderr: notFound }), 1)
  t.match(notFound.text(), /Lead 999999 not found/)
})

t.test('GET /leads/:id shows the assignment and each action', async (t) => {
  const actions = { ...allActions, notify: { ...allActions.notify, when: { field: 'company', equals: 'Globex' } } }
  const integration = await createIntegration(sql, portalId++, actions)
  const lead = await insertLead(sql, integration.id, actions, { company: 'Acme' })
  const read = () => app.inject({ method: 'GET', url: `/leads/${lead.id}`, headers: auth })

  const before = (await read()).json()
  t.equal(before.assignment, null, 'no assignment before the actions ran')
  t.same(before.actions, [], 'no actions recorded yet')

  await replayLeadActions(sql, lead.id)
  const reply = await read()
  t.equal(reply.statusCode, 200)
  const body = reply.json()
  t.match(body.assignment, { userId: 101, teamId: null, assignedAt: String })
  t.same(
    body.actions.map((a: { action: string; status: string; reason: string | null }) => [a.action, a.status, a.reason]),
    [
      ['assign', 'done', null],
      ['analyze', 'done', null],
      ['notify', 'skipped', 'condition_not_met'],
      ['sequence', 'done', null],
    ],
  )
  const queued = new Set((await actionEvents(sql, lead.id)).map((e) => e.event_id))
  for (const action of body.actions.filter((a: { status: string }) => a.status === 'done')) {
    t.ok(queued.has(action.eventId), `${action.action}: eventId names its queued event`)
  }
  const assign = body.actions.find((a: { action: string }) => a.action === 'assign')
  t.match(assign.decision, { trigger: 'replay', configSource: 'import', assignment: { userId: 101, position: 1 } })
  const notify = body.actions.find((a: { action: string }) => a.action === 'notify')
  t.same(notify.decision.when, { field: 'company', equals: 'Globex' }, 'the unmet condition is shown')
  t.equal(notify.eventId, null)
})
