import { existsSync } from 'node:fs'

import t from 'tap'

import { runDemo } from '../../src/demo/runDemo.js'
import { natsUrl } from '../helpers/nats.js'

const contacts = 150

function demoOptions(signal: AbortSignal, lines: string[]) {
  return {
    seconds: 10,
    contacts,
    seed: 4,
    changeIntervalMs: 300,
    env: { NATS_URL: natsUrl, LOG_LEVEL: 'silent' },
    print: (line: string) => lines.push(line),
    signal,
  }
}

t.test('demo runs end to end on the embedded database', async (t) => {
  const lines: string[] = []
  const startedAtMs = Date.now()
  const summary = await runDemo(demoOptions(new AbortController().signal, lines))
  const elapsedMs = Date.now() - startedAtMs

  t.type(summary.integrationId, 'number')
  t.equal(summary.firstSyncCreated, contacts)
  t.ok(summary.changes >= 8, `made ${summary.changes} changes, a full cycle is 8`)
  t.ok(summary.events['leads.imported'] > contacts, 'creations arrive as leads.imported')
  t.ok(summary.events['leads.updated'] >= 1, 'property changes arrive as leads.updated')
  t.ok(summary.events['leads.merged'] >= 1, 'the merge arrives as leads.merged')
  t.ok(summary.events['leads.deleted'] >= 1, 'the deletion arrives as leads.deleted')
  t.equal(summary.events['hubspot.sync.completed'], 1)
  t.ok(lines.some((line) => /leads\.imported .*\(webhook\)$/.test(line)), 'webhook imports are printed')
  t.ok(lines.some((line) => /backfill: page \d+/.test(line)), 'first sync progress is printed')
  t.ok(elapsedMs < 30_000, `finished in ${elapsedMs} ms`)

  const dataDir = /embedded PostgreSQL in (\S+)/.exec(lines.join('\n'))?.[1]
  t.ok(dataDir, 'the database folder is printed')
  t.notOk(existsSync(dataDir ?? ''), 'the temporary database folder is removed')
})

t.test('demo stops early on abort', async (t) => {
  const lines: string[] = []
  const controller = new AbortController()
  const print = (line: string) => {
    lines.push(line)
    if (line.includes('Streaming HubSpot changes')) controller.abort()
  }
  const startedAtMs = Date.now()
  const summary = await runDemo({ ...demoOptions(controller.signal, lines), seconds: 60, print })

  t.equal(summary.changes, 0)
  t.ok(Date.now() - startedAtMs < 30_000, 'returns long before the 60 s budget')
  t.ok(lines.includes('\nStopping ...'))
})
