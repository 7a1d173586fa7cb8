import { setTimeout as delay } from 'node:timers/promises'

import Fastify from 'fastify'
import t from 'tap'

import { testConfig } from '../../src/config.js'
import type { KindRunner } from '../../src/sync/runner.js'
import { scheduleJobIds, syncSchedule } from '../../src/sync/schedule.js'
import { createHarness, silentLogger, type Harness } from './runnerHarness.js'

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await delay(25)
  }
}

async function runKinds(harness: Harness): Promise<{ kind: string; status: string; started_at: Date; finished_at: Date | null }[]> {
  return harness.sql`select kind, status, started_at, finished_at from sync_runs order by id`
}

t.test('schedule runs every active integration without overrun', async (t) => {
  const harness = await createHarness(t, {
    contacts: 500,
    simulator: { faults: { slowRate: 1, slowResponseMs: 150 } },
  })
  let archivedRuns = 0
  const archived: KindRunner = async (ctx) => {
    archivedRuns++
    ctx.addCounts({ deleted: 0 })
  }
  const service = harness.service({ runners: { archived } })
  const app = Fastify()
  await app.register(syncSchedule, {
    config: harness.config,
    service,
    logger: silentLogger,
    syncIntervalMs: 50,
    reconcileIntervalMs: 100,
  })
  await app.ready()
  t.ok(app.scheduler.existsById(scheduleJobIds.contacts))

  await waitFor(async () => (await runKinds(harness)).some((run) => run.kind === 'contacts' && run.finished_at))
  await waitFor(async () => archivedRuns > 0)
  await app.close()
  await service.stop()

  const runs = (await runKinds(harness)).filter((run) => run.kind === 'contacts')
  const first = runs[0]
  t.equal(first.status, 'succeeded')
  const overlapping = runs.filter((run) => run.started_at < first.finished_at!)
  t.equal(overlapping.length, 1, 'no second contacts run while the first was running')
  t.equal(harness.sim.requestCounts().byEndpoint['GET /crm/v3/objects/contacts']?.total, 5, 'backfill read once')

  const countAfterClose = (await runKinds(harness)).length
  await delay(300)
  t.equal((await runKinds(harness)).length, countAfterClose, 'no run starts after close')
})

t.test('scheduler can be turned off', async (t) => {
  const harness = await createHarness(t, { contacts: 5 })
  const app = Fastify()
  const config = testConfig({ SCHEDULER_ENABLED: 'false' })
  await app.register(syncSchedule, { config, service: harness.service(), logger: silentLogger, syncIntervalMs: 20 })
  await app.ready()
  await delay(100)
  await app.close()
  t.equal((await runKinds(harness)).length, 0)
  t.notOk(app.hasDecorator('scheduler'))
})
