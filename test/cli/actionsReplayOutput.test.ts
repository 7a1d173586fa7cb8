import t from 'tap'

import { buildApp } from '../../src/app.js'
import { runCli } from '../../src/cli.js'
import { testConfig } from '../../src/config.js'
import { updateIntegration } from '../../src/db/integrations.js'
import { NatsManager } from '../../src/events/nats.js'
import { createLogger } from '../../src/logger.js'
import { startSimulator } from '../../src/simulator/server.js'
import { createTestDatabase } from '../helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'

const apiToken = 'replay-output-test-token-0123456789'

function captureIo() {
  const out: string[] = []
  const err: string[] = []
  return {
    io: { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) } },
    lines: () => out.join('').split('\n').filter((line) => line !== '' && !line.startsWith('Published')),
    stderr: () => err.join(''),
  }
}

interface ApiResult {
  action: string
  status: string
  reason: string | null
  recorded: boolean
}

t.test('replay output uses the API words', async (t) => {
  const { url, sql } = await createTestDatabase(t)
  const sim = await startSimulator({ port: 0, contacts: 1, seed: 5 })
  t.teardown(() => sim.close())
  const env = {
    DATABASE_URL: url,
    ENCRYPTION_KEY: 'b7'.repeat(32),
    HUBSPOT_API_URL: sim.url,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    LOG_LEVEL: 'silent',
  }
  const actions = {
    notify: { enabled: true, channel: 'email', recipients: ['sales@example.com'] },
    sequence: { enabled: true, sequenceId: 'welcome', when: { field: 'lifecycleStage', equals: 'no-such-stage' } },
  }
  const add = ['integrations', 'add', '--portal-id', String(sim.portalId), '--token', sim.privateAppToken]
  t.equal(await runCli([...add, '--actions', JSON.stringify(actions)], env, captureIo().io), 0)
  t.equal(await runCli(['sync', '--integration', '1'], env, captureIo().io), 0)
  const [lead] = await sql<{ id: number }[]>`select id from leads`
  const replay = ['actions', 'replay', '--lead', String(lead.id), '--config', 'current']

  const first = captureIo()
  t.equal(await runCli(replay, env, first.io), 0, first.stderr())
  t.same(first.lines(), [
    'assign: skipped (not_configured)',
    'analyze: skipped (not_configured)',
    'notify: done',
    'sequence: skipped (condition_not_met)',
  ])

  const silent = createLogger('silent')
  const nats = new NatsManager({ url: 'nats://127.0.0.1:1', subjectPrefix: 'unused', logger: silent })
  const app = buildApp({ config: testConfig({ API_TOKEN: apiToken }), sql, logger: silent, nats, services: {} })
  t.teardown(() => app.close())
  const reply = await app.inject({
    method: 'POST',
    url: `/leads/${lead.id}/actions/replay`,
    headers: { authorization: `Bearer ${apiToken}` },
    payload: { config: 'current' },
  })
  t.equal(reply.statusCode, 200)
  const results = (reply.json() as { results: ApiResult[] }).results
  const sequence = results.find((result) => result.action === 'sequence')
  t.same(sequence, { action: 'sequence', status: 'skipped', reason: 'condition_not_met', recorded: false })

  const again = captureIo()
  t.equal(await runCli(replay, env, again.io), 0)
  t.same(again.lines(), [
    'assign: skipped (not_configured), as recorded by an earlier run',
    'analyze: skipped (not_configured), as recorded by an earlier run',
    'notify: done, as recorded by an earlier run',
    'sequence: skipped (condition_not_met), as recorded by an earlier run',
  ])
  results.forEach((result, index) => {
    const words = result.reason === null ? result.status : `${result.status} (${result.reason})`
    t.ok(again.lines()[index].startsWith(`${result.action}: ${words}`), `${result.action} matches the API`)
  })

  await updateIntegration(sql, 1, { actions: { ...actions, notify: { ...actions.notify, enabled: false } } })
  const disabled = captureIo()
  t.equal(await runCli(replay, env, disabled.io), 0)
  t.equal(
    disabled.lines()[2],
    'notify: skipped (disabled); an earlier run recorded done, which stays',
    'a decision that differs from the kept record names both',
  )
})
