import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

import t from 'tap'

import { createTestDatabase } from './helpers/database.js'
import { natsUrl, uniqueSubjectPrefix } from './helpers/nats.js'

const cliPath = new URL('../src/cli.ts', import.meta.url).pathname
const loader = '@isaacs/ts-node-temp-fork-for-pr-2009/esm'

t.test('serve stops gracefully on SIGTERM', async (t) => {
  const { url } = await createTestDatabase(t)
  const child = spawn(process.execPath, ['--no-warnings', '--loader', loader, cliPath, 'serve'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: {
      ...process.env,
      TS_NODE_TRANSPILE_ONLY: '1',
      DATABASE_URL: url,
      ENCRYPTION_KEY: 'e5'.repeat(32),
      PORT: '0',
      NATS_URL: natsUrl,
      NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
      SCHEDULER_ENABLED: 'false',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => child.kill('SIGKILL'))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const lines: Record<string, unknown>[] = []
  const started = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>
      lines.push(entry)
      if (entry.msg === 'service started') resolve(String(entry.url))
    })
    void exited.then((code) => reject(new Error(`serve exited with ${code} before it started`)))
  })

  const serviceUrl = await started
  const health = await fetch(`${serviceUrl}/healthz`)
  t.equal(health.status, 200)

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exits 0 after a graceful shutdown')
  const messages = lines.map((line) => line.msg)
  t.ok(messages.includes('signal received'), 'logs the signal')
  t.ok(messages.includes('shutdown complete'), 'logs the end of the shutdown')
  t.ok(
    messages.some((message) => String(message).includes('admin routes are disabled')),
    'says why admin routes are disabled',
  )
})
