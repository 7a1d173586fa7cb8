import { spawn } from 'node:child_process'

import t, { type Test } from 'tap'

const repositoryDir = new URL('../..', import.meta.url).pathname
const cliPath = new URL('../../src/cli.ts', import.meta.url).pathname
const loader = '@isaacs/ts-node-temp-fork-for-pr-2009/esm'

interface SimulatorRun {
  banner: string
  stderr: string
  code: number | null
}

/**
 * Runs `hubspot-sync simulator` with `args`, reads its output until the banner is complete,
 * then stops it with SIGTERM.
 */
async function runSimulator(t: Test, args: string[]): Promise<SimulatorRun> {
  const child = spawn(process.execPath, ['--no-warnings', '--loader', loader, cliPath, 'simulator', '--port', '0', ...args], {
    cwd: repositoryDir,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes('Ctrl-C stops it')) resolve()
    })
    void exited.then(() => resolve())
  })
  child.kill('SIGTERM')
  return { banner: stdout, stderr, code: await exited }
}

t.test('banner names the webhook target and secret', async (t) => {
  const target = 'http://127.0.0.1:3999/webhooks/hubspot'
  const run = await runSimulator(t, ['--contacts', '3', '--webhook-url', target, '--webhook-secret', 'banner-secret'])

  t.match(run.banner, /HubSpot simulator listening on http:\/\/127\.0\.0\.1:\d+ \(portal 12345678, 3 contacts\)/)
  t.match(run.banner, `Webhooks: every contact change is sent to ${target}, signed with banner-secret.`)
  t.match(run.banner, `WEBHOOK_PUBLIC_URL=${target} HUBSPOT_CLIENT_SECRET=banner-secret`)
  t.match(run.banner, 'This secret differs from the OAuth client secret')
  t.equal(run.code, 0, 'SIGTERM stops it cleanly')
})

t.test('banner uses the client secret by default', async (t) => {
  const target = 'http://127.0.0.1:3999/webhooks/hubspot'
  const run = await runSimulator(t, ['--contacts', '1', '--client-secret', 'one-secret', '--webhook-url', target])
  t.match(run.banner, `Webhooks: every contact change is sent to ${target}, signed with one-secret.`)
  t.notMatch(run.banner, 'differs from the OAuth client secret')
})

t.test('banner says webhooks are off without a target', async (t) => {
  const run = await runSimulator(t, ['--contacts', '1', '--client-secret', 'plain-secret'])
  t.match(run.banner, 'Webhooks: off; start with --webhook-url URL')
  t.notMatch(run.banner, 'WEBHOOK_PUBLIC_URL')
})

t.test('a webhook URL without a scheme is rejected', async (t) => {
  const run = await runSimulator(t, ['--contacts', '1', '--webhook-url', '127.0.0.1:3000/webhooks/hubspot'])
  t.equal(run.code, 1)
  t.match(run.stderr, '--webhook-url must be an http or https URL, got 127.0.0.1:3000/webhooks/hubspot')
  t.equal(run.banner, '', 'nothing is printed on stdout')
})
