// Shared setup of the sync benchmarks: a throwaway database on the local PostgreSQL, an
// integration pointed at a simulator, and a description of the machine.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import os from 'node:os'
import { Worker } from 'node:worker_threads'

import type { Config } from '../src/config.js'
import { connect, type Sql } from '../src/db/connection.js'
import { insertIntegration, type Integration } from '../src/db/integrations.js'
import { migrate } from '../src/db/migrate.js'
import type { RequestCounts } from '../src/simulator/core.js'
import type { StartSimulatorParams } from '../src/simulator/server.js'

export const adminUrl = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres'

export interface BenchDatabase {
  sql: Sql
  drop(): Promise<void>
}

/** Creates and migrates a database that `drop` removes again. */
export async function createBenchDatabase(prefix: string): Promise<BenchDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = connect(adminUrl, { maxConnections: 1 })
  await admin.unsafe(`create database ${name}`)
  await admin.end()

  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const sql = connect(url.toString(), { maxConnections: 10 })
  await migrate(sql)
  return {
    sql,
    drop: async () => {
      await sql.end({ timeout: 5 })
      const cleanup = connect(adminUrl, { maxConnections: 1 })
      await cleanup.unsafe(`drop database if exists ${name} with (force)`)
      await cleanup.end()
    },
  }
}

export async function addPrivateAppIntegration(
  sql: Sql,
  encryptionKey: Buffer,
  sim: { portalId: number; privateAppToken: string },
  burstPer10Seconds: number | null,
): Promise<Integration> {
  return insertIntegration(sql, encryptionKey, {
    portalId: sim.portalId,
    name: 'benchmark portal',
    authType: 'private_app',
    credentials: { accessToken: sim.privateAppToken },
    accessTokenExpiresAt: null,
    actions: {},
    burstPer10Seconds,
    ownerUserId: null,
  })
}

export function describeMachine(): string {
  const cpus = os.cpus()
  const memoryGb = (os.totalmem() / 2 ** 30).toFixed(1)
  return `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${memoryGb} GiB RAM, Node ${process.version}, ${os.platform()} ${os.release()}`
}

/**
 * Returns the JSON body of one webhook delivery as the ingest benchmarks send it: `count`
 * contact events with object ids from `firstObjectId` on, a quarter `contact.creation` and
 * the rest `contact.propertyChange` of `email`.
 */
export function webhookBatchBody(portalId: number, firstObjectId: number, count: number): string {
  const occurredAt = Date.now()
  const events = Array.from({ length: count }, (_, index) => {
    const objectId = firstObjectId + index
    const change = index % 4 === 0
      ? { changeFlag: 'CREATED' }
      : { propertyName: 'email', propertyValue: `p${objectId + 1}@example.com` }
    return {
      eventId: objectId,
      subscriptionId: 7,
      portalId,
      appId: 9,
      occurredAt,
      subscriptionType: index % 4 === 0 ? 'contact.creation' : 'contact.propertyChange',
      attemptNumber: 0,
      objectId,
      ...change,
      changeSource: 'CRM_UI',
      sourceId: 'userId:1',
    }
  })
  return JSON.stringify(events)
}

/**
 * Inserts parsed webhook events as the bare comparison route of the ingest benchmarks does:
 * one multi-row insert with a simple dedup key, no checks and no signature.
 */
export async function insertBareRows(sql: Sql, events: Record<string, unknown>[]): Promise<void> {
  const rows = events.map((event) => ({
    dedup_key: `${event.portalId}:${event.objectId}:${event.occurredAt}:${event.subscriptionType}:${event.propertyName ?? ''}`,
    portal_id: event.portalId as number,
    subscription_type: event.subscriptionType as string,
    object_id: event.objectId as number,
    occurred_at: new Date(event.occurredAt as number),
    event,
  }))
  await sql`
    insert into webhook_events ${sql(rows as never[], 'dedup_key', 'portal_id', 'subscription_type', 'object_id', 'occurred_at', 'event')}
    on conflict (dedup_key) do nothing
  `
}

export function pollSettings(config: Config): string {
  return `overlap ${config.POLL_OVERLAP_SECONDS} s, settle ${config.POLL_SETTLE_SECONDS} s, page ${config.POLL_PAGE_SIZE}`
}

/** A simulator running in a worker thread, reached over HTTP like HubSpot. */
export interface RemoteSimulator {
  url: string
  portalId: number
  privateAppToken: string
  /** HubSpot API requests received, from the control API (control requests left out). */
  requestCounts(): Promise<RequestCounts>
  close(): Promise<void>
}

export async function startSimulatorWorker(params: StartSimulatorParams): Promise<RemoteSimulator> {
  const worker = new Worker(new URL('./simulatorWorker.ts', import.meta.url), { workerData: params })
  const [ready] = (await once(worker, 'message')) as [{ url: string; portalId: number; privateAppToken: string }]
  return {
    ...ready,
    requestCounts: async () => {
      const response = await fetch(`${ready.url}/_simulator/request-counts`)
      const counts = (await response.json()) as RequestCounts
      const apiEndpoints = Object.entries(counts.byEndpoint).filter(([name]) => !name.includes('/_simulator'))
      return {
        ...counts,
        total: apiEndpoints.reduce((sum, [, entry]) => sum + entry.total, 0),
        byEndpoint: Object.fromEntries(apiEndpoints),
      }
    },
    close: async () => {
      worker.postMessage('close')
      await once(worker, 'exit')
    },
  }
}
