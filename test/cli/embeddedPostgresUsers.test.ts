import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as delay } from 'node:timers/promises'
import { createInterface } from 'node:readline'

import t, { type Test } from 'tap'

import { runCli } from '../../src/cli.js'
import { testConfig } from '../../src/config.js'
import { connect } from '../../src/db/connection.js'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js'
import { createLogger } from '../../src/logger.js'
import { startService } from '../../src/server.js'
import { natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { freePort } from '../helpers/ports.js'
import { deadPid } from '../helpers/processes.js'

const repositoryDir = new URL('../..', import.meta.url).pathname
const cliPath = new URL('../../src/cli.ts', import.meta.url).pathname
const loader = '@isaacs/ts-node-temp-fork-for-pr-2009/esm'

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // A zombie or a reused pid runs no postgres.
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')
  } catch {
    return !existsSync('/proc/self')
  }
}

function postmasterPid(dataDir: string): number | null {
  try {
    return Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0])
  } catch {
    return null
  }
}

async function waitUntilStopped(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (isRunning(pid) && Date.now() < deadline) await delay(100)
  return !isRunning(pid)
}

interface Setup {
  dataDir: string
  env: Record<string, string>
}

/**
 * Creates a DATA_DIR on a free port, and at teardown stops any postmaster the test left in
 * it, whatever the outcome, before removing the directory.
 */
async function setup(t: Test): Promise<Setup> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'hubspot-sync-embedded-users-'))
  const pids = new Set<number>()
  const remember = setInterval(() => {
    const pid = postmasterPid(dataDir)
    if (pid) pids.add(pid)
  }, 200)
  t.teardown(async () => {
    clearInterval(remember)
    const last = postmasterPid(dataDir)
    if (last) pids.add(last)
    for (const pid of pids) {
      if (!isRunning(pid)) continue
      process.kill(pid, 'SIGINT')
      if (!(await waitUntilStopped(pid, 20_000))) process.kill(pid, 'SIGKILL')
    }
    await rm(dataDir, { recursive: true, force: true })
  })
  const env = {
    DATA_DIR: dataDir,
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    PORT: '0',
    NATS_URL: natsUrl,
    NATS_SUBJECT_PREFIX: uniqueSubjectPrefix(t),
    SCHEDULER_ENABLED: 'false',
    LOG_LEVEL: 'info',
  }
  return { dataDir, env }
}

interface ServeProcess {
  child: ChildProcess
  url: string
  exited: Promise<number | null>
}

/** Starts `hubspot-sync serve` in a child process and waits for its "service started" line. */
async function spawnServe(t: Test, env: Record<string, string>): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--no-warnings', '--loader', loader, cliPath, 'serve'], {
    cwd: repositoryDir,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => child.kill('SIGKILL'))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string }
      if (entry.msg === 'service started') resolve(String(entry.url))
    })
    void exited.then((code) => reject(new Error(`serve exited with ${code} before it started`)))
  })
  return { child, url, exited }
}

/** Collects the message of each log line written to the returned stream. */
function logMessages(): { stream: Writable; messages: string[] } {
  const messages: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        messages.push(String((JSON.parse(line) as { msg?: string }).msg))
      }
      callback()
    },
  })
  return { stream, messages }
}

function silentIo() {
  const out: string[] = []
  const write = (text: string) => out.push(text)
  return { io: { stdout: { write }, stderr: { write } }, text: () => out.join('') }
}

t.test('PostgreSQL of a killed service is adopted and stopped', async (t) => {
  const { dataDir, env } = await setup(t)
  const first = await spawnServe(t, env)
  const orphan = postmasterPid(dataDir)
  t.ok(orphan && isRunning(orphan), 'the service started a postmaster')

  first.child.kill('SIGKILL')
  await first.exited
  t.ok(isRunning(orphan!), 'the postmaster outlives the killed service')
  // A process killed while it held the start lock leaves the file behind.
  await writeFile(path.join(dataDir, 'postgres.lock'), JSON.stringify({ pid: deadPid(), startTime: null }))

  const log = logMessages()
  const second = await startService(testConfig(env), { logger: createLogger('info', log.stream) })
  t.teardown(() => second.stop())
  t.ok(
    log.messages.some((message) => message.includes('left running by a stopped process; adopting it')),
    'the next service says it adopts the cluster',
  )
  t.equal(postmasterPid(dataDir), orphan, 'the running cluster is used, not started again')
  t.equal((await fetch(`${second.url}/readyz`)).status, 200)

  t.same(await second.stop(), { timedOut: false })
  t.ok(await waitUntilStopped(orphan!, 1000), 'a clean stop of the adopting service stops the postmaster')
  t.notOk(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid')), 'postmaster.pid is gone')
  t.notOk(existsSync(path.join(dataDir, 'postgres.lock')), 'the lock file is released')
})

t.test('command joining a running service leaves its PostgreSQL running', async (t) => {
  const { dataDir, env } = await setup(t)
  const service = await spawnServe(t, env)
  const postmaster = postmasterPid(dataDir)
  t.ok(postmaster && isRunning(postmaster), 'the service started a postmaster')

  const cliEnv = { ...env, LOG_LEVEL: 'silent' }
  const added = silentIo()
  const addArgs = ['integrations', 'add', '--portal-id', '616', '--token', 'joined-token']
  t.equal(await runCli(addArgs, cliEnv, added.io), 0, 'integrations add succeeds')
  t.match(added.text(), /registered for portal 616/)
  const listed = silentIo()
  t.equal(await runCli(['integrations', 'list'], cliEnv, listed.io), 0)
  t.match(listed.text(), /616\s+private_app/)

  t.ok(isRunning(postmaster!), 'the postmaster still runs after the commands')
  t.equal((await fetch(`${service.url}/readyz`)).status, 200, 'the service still reaches its database')

  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0, 'the service exits cleanly')
  t.ok(await waitUntilStopped(postmaster!, 1000), 'the service stopped the postmaster it started')
})

t.test('two starts at once share one cluster', async (t) => {
  const { dataDir, env } = await setup(t)
  const logger = createLogger('silent')
  const options = { dataDir, port: Number(env.EMBEDDED_POSTGRES_PORT), logger }

  // allSettled, so that a failed start cannot end the test while the other still starts a
  // postmaster that the teardown would miss.
  const settled = await Promise.allSettled([startEmbeddedPostgres(options), startEmbeddedPostgres(options)])
  const rejected = settled.filter((outcome) => outcome.status === 'rejected')
  t.same(rejected, [], 'both starts succeed')
  if (rejected.length > 0) return
  const [one, two] = settled.map((outcome) => (outcome as PromiseFulfilledResult<EmbeddedDatabase>).value)
  t.equal(one.url, two.url, 'both got the same database')
  t.same([one.owned, two.owned].sort(), [false, true], 'one started the cluster, the other joined it')
  const postmaster = postmasterPid(dataDir)
  t.ok(postmaster && isRunning(postmaster))

  await one.stop()
  t.ok(isRunning(postmaster!), 'the cluster runs on while the other start uses it')
  const sql = connect(two.url, { maxConnections: 1 })
  const [row] = await sql<{ answer: number }[]>`select 1 as answer`
  t.equal(row.answer, 1, 'the remaining user still queries it')
  await sql.end()

  await two.stop()
  t.ok(await waitUntilStopped(postmaster!, 1000), 'the last stop stops the cluster')
  await two.stop()
  t.pass('a second stop is harmless')
})
