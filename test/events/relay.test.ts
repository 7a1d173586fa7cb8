import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

import type { JetStreamClient } from '@nats-io/jetstream'
import t, { type Test } from 'tap'

import { insertOutboxEvents } from '../../src/db/outbox.js'
import { buildEvent } from '../../src/events/envelope.js'
import { NatsManager } from '../../src/events/nats.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { outboxPublishLagSeconds } from '../../src/metrics.js'
import { createTestDatabase } from '../helpers/database.js'
import { connectNats, natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { readStream, silentLogger, startNats } from './support.js'

/** A real NatsManager that counts the JetStream publishes going through it. */
class CountingNats extends NatsManager {
  inFlight = 0
  maxInFlight = 0
  publishesById = new Map<string, number>()

  override jetstream(): JetStreamClient | null {
    const js = super.jetstream()
    if (!js) return null
    return new Proxy(js, {
      get: (target, property) => {
        if (property !== 'publish') return Reflect.get(target, property)
        return async (...args: Parameters<JetStreamClient['publish']>) => {
          const msgID = args[2]?.msgID ?? ''
          this.publishesById.set(msgID, (this.publishesById.get(msgID) ?? 0) + 1)
          this.inFlight += 1
          this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
          try {
            return await target.publish(...args)
          } finally {
            this.inFlight -= 1
          }
        }
      },
    })
  }
}

function startCountingNats(t: Test, prefix: string, url = natsUrl): CountingNats {
  const nats = new CountingNats({ url, subjectPrefix: prefix, logger: silentLogger })
  nats.start()
  t.teardown(() => nats.close())
  return nats
}

const { sql } = await createTestDatabase(t)

async function queue(count: number, subject = 'leads.updated') {
  await sql`delete from outbox`
  const events = Array.from({ length: count }, (_, index) =>
    buildEvent({ type: subject, subject: `lead/${index}`, data: { index } }),
  )
  await insertOutboxEvents(sql, events)
  return events
}

async function unpublishedCount() {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from outbox where published_at is null
  `
  return row.count
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return check()
}

t.test('publishes a batch pipelined and marks rows after the ack', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  const nats = startCountingNats(t, prefix)
  t.ok(await nats.waitUntilConnected(10_000))
  const events = await queue(450)

  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, batchSize: 200, idleDelayMs: 60_000 })
  t.teardown(() => relay.stop())
  await relay.flush()

  t.equal(await unpublishedCount(), 0)
  t.equal(nats.maxInFlight, 200, 'a whole batch is in flight at once')
  const messages = await readStream(await connectNats(t), nats.streamName('LEADS'))
  t.equal(messages.length, 450)
  t.same(new Set(messages.map((m) => m.msgId)), new Set(events.map((e) => e.id)))
  t.ok(messages.every((m) => m.msgId === m.event.id), 'Nats-Msg-Id equals the CloudEvents id')
  t.ok(messages.every((m) => m.subject === `${prefix}.leads.updated`))
})

t.test('republished row is dropped by Nats-Msg-Id', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  const nats = startNats(t, prefix)
  t.ok(await nats.waitUntilConnected(10_000))
  await queue(1)
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 60_000 })
  t.teardown(() => relay.stop())

  await relay.flush()
  await sql`update outbox set published_at = null`
  t.equal(await relay.flush(), 1, 'the row is published a second time')

  const messages = await readStream(await connectNats(t), nats.streamName('LEADS'))
  t.equal(messages.length, 1, 'JetStream kept one message')
  t.equal(await unpublishedCount(), 0)
})

t.test('publish lag is measured from the outbox insert, not the event time', async (t) => {
  const nats = startNats(t, uniqueSubjectPrefix(t))
  t.ok(await nats.waitUntilConnected(10_000))
  await sql`delete from outbox`
  const old = buildEvent({ type: 'leads.updated', data: {}, time: new Date('2020-01-01T00:00:00Z') })
  await insertOutboxEvents(sql, [old])
  const before = (await outboxPublishLagSeconds.get()).values
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 60_000 })
  t.teardown(() => relay.stop())

  await relay.flush()
  t.equal(await unpublishedCount(), 0)
  const after = (await outboxPublishLagSeconds.get()).values
  const delta = (name: string) =>
    (after.find((v) => v.metricName === name)?.value ?? 0) -
    (before.find((v) => v.metricName === name)?.value ?? 0)
  t.equal(delta('hubspot_sync_outbox_publish_lag_seconds_count'), 1)
  t.ok(delta('hubspot_sync_outbox_publish_lag_seconds_sum') < 60, 'seconds, not years')
})

t.test('unreachable NATS keeps rows until a working server takes them', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  await queue(20)
  const down = new NatsManager({ url: 'nats://127.0.0.1:4299', subjectPrefix: prefix, logger: silentLogger })
  down.start()
  const waiting = startOutboxRelay({ sql, nats: down, logger: silentLogger, idleDelayMs: 20 })

  t.equal(await waiting.flush(), 0)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await unpublishedCount(), 20, 'nothing marked while NATS is down')
  const [row] = await sql<{ attempts: number }[]>`select max(attempts)::int as attempts from outbox`
  t.equal(row.attempts, 0, 'no publish was attempted')
  await waiting.stop()
  await down.close()

  const nats = startNats(t, prefix)
  t.ok(await nats.waitUntilConnected(10_000))
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 20 })
  t.teardown(() => relay.stop())
  t.ok(await waitFor(async () => (await unpublishedCount()) === 0, 10_000), 'the relay loop delivered')
  const messages = await readStream(await connectNats(t), nats.streamName('LEADS'))
  t.equal(messages.length, 20)
})

const natsServerBinary = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server'

t.test('NATS coming up late gets every waiting event', async (t) => {
  const port = await freePort()
  const prefix = uniqueSubjectPrefix(t)
  await queue(30)
  const nats = startNats(t, prefix, `nats://127.0.0.1:${port}`)
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 20 })
  t.teardown(() => relay.stop())

  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(await unpublishedCount(), 30)

  await startPrivateNatsServer(t, port)
  t.ok(await nats.waitUntilConnected(15_000), 'manager connected once the server came up')
  t.ok(await waitFor(async () => (await unpublishedCount()) === 0, 10_000))
  const nc = nats.connection()
  t.ok(nc)
  if (nc) t.equal((await readStream(nc, nats.streamName('LEADS'))).length, 30)
})

t.test('two relays on one database publish each row once', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  const first = startCountingNats(t, prefix)
  const second = startCountingNats(t, prefix)
  t.ok(await first.waitUntilConnected(10_000))
  t.ok(await second.waitUntilConnected(10_000))
  const relays = [first, second].map((nats) =>
    startOutboxRelay({ sql, nats, logger: silentLogger, batchSize: 50, idleDelayMs: 10 }),
  )
  t.teardown(() => Promise.all(relays.map((relay) => relay.stop())))

  const events = await queue(1000)
  t.ok(await waitFor(async () => (await unpublishedCount()) === 0, 20_000))

  const counts = new Map<string, number>()
  for (const nats of [first, second]) {
    for (const [id, count] of nats.publishesById) counts.set(id, (counts.get(id) ?? 0) + count)
  }
  t.equal(counts.size, 1000)
  t.ok([...counts.values()].every((count) => count === 1), 'no row published twice')
  t.ok(first.publishesById.size > 0 && second.publishesById.size > 0, 'both relays took rows')
  t.equal(events.length, 1000)
})

t.test('insert notification wakes an idle relay', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  const nats = startNats(t, prefix)
  t.ok(await nats.waitUntilConnected(10_000))
  await sql`delete from outbox`
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 600_000 })
  t.teardown(() => relay.stop())
  await new Promise((resolve) => setTimeout(resolve, 200))

  await insertOutboxEvents(sql, [buildEvent({ type: 'leads.imported', data: {} })])
  t.ok(await waitFor(async () => (await unpublishedCount()) === 0, 5_000), 'published without polling')
})

t.test('failed publish is recorded and retried later', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  const nats = startNats(t, prefix)
  t.ok(await nats.waitUntilConnected(10_000))
  await sql`delete from outbox`
  await insertOutboxEvents(sql, [
    buildEvent({ type: 'leads.imported', data: {} }),
    buildEvent({ type: 'unrouted.subject', data: {} }),
  ])
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 600_000, publishTimeoutMs: 1000 })
  t.teardown(() => relay.stop())

  await relay.flush()
  const rows = await sql<{ subject: string; published_at: Date | null; attempts: number; last_error: string | null }[]>`
    select subject, published_at, attempts, last_error from outbox order by id
  `
  t.ok(rows[0].published_at)
  t.equal(rows[1].published_at, null)
  t.ok(rows[1].attempts >= 1, 'the failure is counted')
  t.ok(rows[1].last_error, 'the reason is kept')
})

t.test('stop ends the loop', async (t) => {
  const prefix = uniqueSubjectPrefix(t)
  const nats = startNats(t, prefix)
  t.ok(await nats.waitUntilConnected(10_000))
  const relay = startOutboxRelay({ sql, nats, logger: silentLogger, idleDelayMs: 600_000 })
  await relay.stop()
  await queue(3)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await unpublishedCount(), 3, 'a stopped relay publishes nothing')
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Starts a JetStream-enabled nats-server of this test's own on `port`, stopped at teardown. */
async function startPrivateNatsServer(t: Test, port: number): Promise<void> {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'relay-nats-'))
  const server = spawn(natsServerBinary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
    stdio: 'ignore',
  })
  t.teardown(async () => {
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGTERM')
    await exited
    await rm(storeDir, { recursive: true, force: true })
  })
}
