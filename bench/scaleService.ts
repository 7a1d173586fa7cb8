// The service under measurement for bench/scale.ts: the compiled CLI (`dist/src/cli.js serve`)
// as a child process, and its memory read from /proc like an outside monitor would.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { randomBytes } from 'node:crypto'

import { connect, type Sql } from '../src/db/connection.js'
import { migrate } from '../src/db/migrate.js'
import { findFreePort } from '../src/freePort.js'
import { adminUrl } from './benchSupport.js'

export const cliPath = new URL('../dist/src/cli.js', import.meta.url).pathname

export interface ServiceProcess {
  child: ChildProcess
  url: string
  apiToken: string
  stop(): Promise<void>
}

export interface ScaleDatabase {
  url: string
  sql: Sql
  drop(): Promise<void>
}

/** Creates and migrates a database on the local PostgreSQL, with the URL the child process needs. */
export async function createScaleDatabase(): Promise<ScaleDatabase> {
  const name = `hs_bench_scale_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = connect(adminUrl, { maxConnections: 1 })
  await admin.unsafe(`create database ${name}`)
  await admin.end()

  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const sql = connect(url.toString(), { maxConnections: 2 })
  await migrate(sql)
  const drop = async () => {
    await sql.end({ timeout: 5 })
    const cleanup = connect(adminUrl, { maxConnections: 1 })
    await cleanup.unsafe(`drop database if exists ${name} with (force)`)
    await cleanup.end()
  }
  return { url: url.toString(), sql, drop }
}

/** Memory of a process from /proc/PID/status, in MiB: resident now (VmRSS) and its peak (VmHWM). */
export function readMemoryMiB(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 }
  } catch {
    return null
  }
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat; Linux counts 100 ticks a second. */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Starts `hubspot-sync serve` with the given environment and waits until /healthz returns 200. */
export async function startServiceProcess(env: Record<string, string>, logPath: string): Promise<ServiceProcess> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} not found: run npm run build first`)
  const port = await findFreePort()
  const apiToken = `scale-bench-${process.pid}-0123456789`
  const child = spawn(process.execPath, [...serviceNodeFlags(), cliPath, 'serve'], {
    env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', PORT: String(port), API_TOKEN: apiToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const log = createWriteStream(logPath)
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)

  const url = `http://127.0.0.1:${port}`
  await waitForHealth(url, child)
  const stop = async () => {
    if (child.exitCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  return { child, url, apiToken, stop }
}

/**
 * Node.js flags for the service process: BENCH_NODE_FLAGS when set (e.g. to compare V8
 * settings; an empty value runs plain `node`), otherwise the flags of the start script.
 */
function serviceNodeFlags(): string[] {
  const flags = process.env.BENCH_NODE_FLAGS ?? startScriptFlags()
  return flags.split(/\s+/).filter((flag) => flag.length > 0)
}

/** Reads the `--` options of `npm start` from package.json, e.g. its V8 heap limits. */
function startScriptFlags(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  const words: string[] = String(packageJson.scripts.start).split(/\s+/)
  return words.filter((word) => word.startsWith('--')).join(' ')
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadlineMs = Date.now() + 60_000
  while (Date.now() < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`service exited with code ${child.exitCode} during start-up`)
    const status = await fetch(`${url}/healthz`).then((response) => response.status, () => 0)
    if (status === 200) return
    await delay(200)
  }
  throw new Error(`service at ${url} did not become healthy within 60 s`)
}

/** Sends an admin API request to the service and returns the parsed JSON body. */
export async function callService(service: ServiceProcess, method: string, path: string, body?: unknown) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${service.apiToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const parsed = (await response.json()) as Record<string, any>
  if (response.status >= 300) throw new Error(`${method} ${path} failed with ${response.status}: ${parsed.message}`)
  return parsed
}
