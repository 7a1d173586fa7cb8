import t from 'tap'

import { updateIntegration } from '../../src/db/integrations.js'
import { parseSyncArgs, runSyncCommand } from '../../src/sync/syncCommand.js'
import { createHarness } from './runnerHarness.js'

class CapturedOutput {
  text = ''
  constructor(readonly isTTY: boolean) {}
  write(chunk: string): boolean {
    this.text += chunk
    return true
  }
}

t.test('argument parsing', async (t) => {
  t.same(parseSyncArgs(['--integration', '7']), { integrationId: 7, all: false, kind: 'contacts' })
  t.same(parseSyncArgs(['--all', '--kind', 'drift']), { integrationId: 0, all: true, kind: 'drift' })
  t.match(parseSyncArgs([]), { error: /Missing --integration/ })
  t.match(parseSyncArgs(['--integration', 'x']), { error: /expected a positive integer/ })
  t.match(parseSyncArgs(['--integration', '1', '--all']), { error: /not both/ })
  t.match(parseSyncArgs(['--kind', 'other', '--all']), { error: /Invalid --kind/ })
  t.match(parseSyncArgs(['--bogus']), { error: /bogus/ })
})

t.test('foreground sync on a terminal and in a pipe', async (t) => {
  const harness = await createHarness(t, { contacts: 250, simulator: { faults: { slowRate: 1, slowResponseMs: 120 } } })
  const terminal = new CapturedOutput(true)
  const stderr = new CapturedOutput(false)
  const deps = { service: harness.service(), sql: harness.sql, stderr, handleSigint: false }

  const code = await runSyncCommand(['--integration', String(harness.integration.id)], { ...deps, stdout: terminal })
  t.equal(code, 0, stderr.text)
  t.match(terminal.text, /\r\x1b\[2Kintegration \d+ run \d+ backfill: \d+ pages, \d+ contacts \(\d+\/s\)/)
  t.match(terminal.text, /Run \d+ of integration \d+ succeeded in [\d.]+ s: created 250/)

  const pipe = new CapturedOutput(false)
  harness.clock.advance(20_000)
  t.equal(await runSyncCommand(['--all'], { ...deps, stdout: pipe }), 0)
  t.notMatch(pipe.text, /\x1b/, 'no terminal control codes in a pipe')
  t.match(pipe.text, /succeeded/)
})

t.test('exit code reports a failed run and bad arguments', async (t) => {
  const harness = await createHarness(t, { contacts: 5 })
  await updateIntegration(harness.sql, harness.integration.id, { status: 'paused' })
  const stdout = new CapturedOutput(false)
  const stderr = new CapturedOutput(false)
  const deps = { service: harness.service(), sql: harness.sql, stdout, stderr, handleSigint: false }

  t.equal(await runSyncCommand(['--integration', String(harness.integration.id)], deps), 1)
  t.match(stdout.text, /failed[\s\S]*INTEGRATION_PAUSED/)
  t.equal(await runSyncCommand(['--integration', '999999'], deps), 1)
  t.match(stderr.text, /Integration 999999 not found/)
  t.equal(await runSyncCommand(['--what'], deps), 2)
  t.match(stderr.text, /Usage: hubspot-sync sync/)
  t.equal(await runSyncCommand(['--all'], deps), 0, 'no active integration is nothing to do')
  t.match(stdout.text, /No active integrations/)
})
