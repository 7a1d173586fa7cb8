import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'

import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

import type { Sql } from '../../src/db/connection.js'
import { computeSignatureV3 } from '../../src/hubspot/signature.js'

export const apiToken = 'resilience-admin-token-0123456789'
export const clientSecret = 'resilience-client-secret-0123456789'
export const encryptionKey = 'c7'.repeat(32)

const repoDir = new URL('../..', import.meta.url).pathname
const cliPath = path.join(repoDir, 'src/cli.ts')
const loader = '@isaacs/ts-node-temp-fork-for-pr-2009/esm'

export interface Teardown {
  teardown(fn: () => unknown): void
}

/** Polls `check` every 50 ms until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T> | T): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Returns a TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface ServiceProcess {
  child: ChildProcess
  url: string
  /** Parsed log lines of the child, in order. */
  lines: Record<string, unknown>[]
  /** Resolves with the exit code, or the signal name when a signal ended the child. */
  exited: Promise<number | string | null>
}

/**
 * Spawns `hubspot-sync serve` through the TypeScript loader, as a deployment runs it, and
 * resolves once it logs "service started". The child is SIGKILLed at teardown if still alive.
 */
export async function spawnService(t: Teardown, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--no-warnings', '--loader', loader, cliPath, 'serve'], {
    cwd: repoDir,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | string | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal))
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited
  })
  const lines: Record<string, unknown>[] = []
  const stderr: string[] = []
  child.stderr?.on('data', (chunk) => stderr.push(String(chunk)))
  const started = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = parseLine(line)
      lines.push(entry)
      if (entry.msg === 'service started') resolve(String(entry.url))
    })
    void exited.then((code) => reject(new Error(`serve exited with ${code} before it started: ${stderr.join('')}`)))
  })
  const url = await withTimeout(started, 60_000, 'the service to start')
  return { child, url, lines, exited }
}

function parseLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return { msg: line }
  }
}

export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Sends an admin request with the test token; returns status and parsed body. */
export async function callAdmin(baseUrl: string, method: string, route: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${apiToken}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${baseUrl}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, any> }
}

/** Registers the simulator's portal with its private-app token; returns the integration id. */
export async function registerPortal(baseUrl: string, portalId: number, token: string): Promise<number> {
  const created = await callAdmin(baseUrl, 'POST', '/integrations', { portalId, accessToken: token })
  if (created.status !== 201) throw new Error(`registering the portal failed: ${JSON.stringify(created.body)}`)
  return created.body.id as number
}

/** Posts a webhook body signed with v3 for `publicUrl`, to `targetUrl`. */
export async function postSignedWebhook(targetUrl: string, publicUrl: string, body: string) {
  const timestamp = String(Date.now())
  const signature = computeSignatureV3({
    secret: clientSecret,
    method: 'POST',
    uri: publicUrl,
    rawBody: Buffer.from(body),
    timestamp,
  })
  const response = await fetch(targetUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hubspot-signature-v3': signature,
      'x-hubspot-request-timestamp': timestamp,
    },
    body,
  })
  return { status: response.status, body: await response.text() }
}

export interface StreamMessage {
  msgId: string
  type: string
  data: Record<string, any>
}

/** Reads every message of a JetStream stream with an ordered consumer. */
export async function readStream(natsUrl: string, stream: string): Promise<StreamMessage[]> {
  const nc = await connect({ servers: natsUrl })
  try {
    const info = await (await jetstreamManager(nc)).streams.info(stream)
    const total = info.state.messages
    if (total === 0) return []
    const consumer = await jetstream(nc).consumers.get(stream)
    const messages: StreamMessage[] = []
    while (messages.length < total) {
      const batch = await consumer.fetch({ max_messages: total - messages.length, expires: 2_000 })
      let received = 0
      for await (const message of batch) {
        received++
        const event = message.json<{ type: string; data: Record<string, any> }>()
        messages.push({ msgId: message.headers?.get('Nats-Msg-Id') ?? '', type: event.type, data: event.data })
      }
      if (received === 0) break
    }
    return messages
  } finally {
    await nc.close()
  }
}

export interface OutboxCheck {
  rows: number
  unpublished: number
  /** Outbox event ids with no message in the streams. */
  missing: string[]
  /** Message ids that occur more than once in the streams. */
  duplicated: string[]
}

/**
 * Compares the outbox with what JetStream holds: every row published, every event id in a
 * stream exactly once.
 */
export async function checkOutboxAgainstStreams(sql: Sql, natsUrl: string, streams: string[]): Promise<OutboxCheck> {
  const rows = await sql<{ event_id: string; published: boolean }[]>`
    select event_id, published_at is not null as published from outbox
  `
  const seen = new Map<string, number>()
  for (const stream of streams) {
    for (const message of await readStream(natsUrl, stream)) {
      seen.set(message.msgId, (seen.get(message.msgId) ?? 0) + 1)
    }
  }
  return {
    rows: rows.length,
    unpublished: rows.filter((row) => !row.published).length,
    missing: rows.filter((row) => !seen.has(row.event_id)).map((row) => row.event_id),
    duplicated: [...seen].filter(([, count]) => count > 1).map(([id]) => id),
  }
}

export interface OwnNats {
  url: string
  port: number
  /** Starts the server; `emptyStore` removes the stored streams first, as a lost volume would. */
  start(options?: { emptyStore?: boolean }): Promise<void>
  stop(): Promise<void>
}

/**
 * Runs a NATS server with JetStream of this test's own on a free port, so the test can stop
 * and start it; the shared server on 4222 is never touched. The store directory survives a
 * stop, so a restarted server keeps its streams.
 */
export async function startOwnNats(t: Teardown): Promise<OwnNats> {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'hs-own-nats-'))
  const port = await freePort()
  let child: ChildProcess | null = null
  const own: OwnNats = {
    url: `nats://127.0.0.1:${port}`,
    port,
    start: async (options = {}) => {
      if (options.emptyStore) await rm(path.join(storeDir, 'jetstream'), { recursive: true, force: true })
      child = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
        stdio: 'ignore',
      })
      await waitFor('nats-server to listen', 15_000, () => canConnect(port))
    },
    stop: async () => {
      const running = child
      child = null
      if (!running || running.exitCode !== null) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      running.kill('SIGTERM')
      await exited
    },
  }
  await own.start()
  t.teardown(async () => {
    await own.stop()
    await rm(storeDir, { recursive: true, force: true })
  })
  return own
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.connect(port, '127.0.0.1')
  })
}

export interface LatencyProxy {
  url: string
  close(): Promise<void>
}

/**
 * Forwards TCP connections to `targetPort` and holds every chunk coming back for `delayMs`,
 * in order, so each round trip to the target takes at least that long.
 */
export async function startLatencyProxy(t: Teardown, targetPort: number, delayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = new Socket()
    sockets.add(client).add(upstream)
    let released = Promise.resolve()
    upstream.on('data', (chunk) => {
      released = released.then(() => new Promise((resolve) => setTimeout(resolve, delayMs)))
      void released.then(() => client.writable && client.write(chunk))
    })
    client.on('data', (chunk) => upstream.writable && upstream.write(chunk))
    const closeBoth = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', closeBoth).on('error', closeBoth)
    upstream.on('close', closeBoth).on('error', closeBoth)
    upstream.connect(targetPort, '127.0.0.1')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  t.teardown(close)
  return { url: `nats://127.0.0.1:${port}`, close }
}
