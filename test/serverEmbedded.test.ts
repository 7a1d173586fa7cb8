import { existsSync, statSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

import t from 'tap'

import { runCli } from '../src/cli.js'
import { testConfig } from '../src/config.js'
import { startService } from '../src/server.js'
import { natsUrl, uniqueSubjectPrefix } from './helpers/nats.js'
import { freePort } from './helpers/ports.js'
import { deadPid } from './helpers/processes.js'

const apiToken = 'embedded-test-admin-token-0123456789'

t.test('embedded PostgreSQL survives a stale postmaster.pid', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hubspot-sync-embedded-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const env = {
    DATA_DIR: dataDir,
    EMBEDDED_POSTGRES_PORT: String(port),
    PORT: '0',
    API_TOKEN: apiToken,
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    SCHEDULER_ENABLED: 'false',
    LOG_LEVEL: 'silent',
  }
  const headers = { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }

  const first = await startService(testConfig(env))
  t.teardown(() => first.stop())
  const keyFile = path.join(dataDir, 'encryption.key')
  t.ok(existsSync(keyFile), 'an encryption key was generated')
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'readable by the owner only')
  const created = await fetch(`${first.url}/integrations`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ portalId: 515, accessToken: 'embedded-token' }),
  })
  t.equal(created.status, 201)

  const output: string[] = []
  const io = { stdout: { write: (text: string) => output.push(text) }, stderr: { write: (text: string) => output.push(text) } }
  t.equal(await runCli(['integrations', 'list'], env, io), 0, 'the CLI reuses the running cluster')
  t.match(output.join(''), /515\s+private_app/)

  t.same(await first.stop(), { timedOut: false })
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid')
  t.notOk(existsSync(pidFile), 'a clean stop removes postmaster.pid')

  const key = await readFile(keyFile, 'utf8')
  await writeFile(pidFile, `${deadPid()}\n${path.join(dataDir, 'postgres')}\n1700000000\n${port}\n/tmp\n127.0.0.1\n  1234567     0\nready   \n`)

  const second = await startService(testConfig(env))
  t.teardown(() => second.stop())
  const listed = await fetch(`${second.url}/integrations`, { headers })
  t.equal(listed.status, 200)
  const body = (await listed.json()) as { integrations: { portalId: number }[] }
  t.same(body.integrations.map((row) => row.portalId), [515], 'data kept: the cluster was not initialised again')
  t.equal(await readFile(keyFile, 'utf8'), key, 'the generated key is reused')
  t.same(await second.stop(), { timedOut: false })
})
