import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import { readOutboxStats } from '../db/outbox.js'
import { NatsManager, redactUrl } from '../events/nats.js'
import { startOutboxRelay } from '../events/relay.js'
import type { Logger } from '../logger.js'
import type { CommandIo } from './commandContext.js'

// `hubspot-sync sync --help` states both limits; change it with them.

/** How long a command waits for NATS before it leaves the events to the service. */
export const natsConnectWaitMs = 5_000
/** How long a command publishes before it leaves the rest to the service. */
export const publishLimitMs = 60_000

export interface OutboxPublishContext {
  config: Config
  sql: Sql
  logger: Logger
}

/** Outcome of publishing the outbox after a command, as the command printed it. */
export interface OutboxPublishReport {
  /** `idle` when nothing waited; `disabled` when OUTBOX_RELAY_ENABLED is false. */
  outcome: 'idle' | 'published' | 'unreachable' | 'failed' | 'disabled'
  published: number
  /** Events still unpublished afterwards. */
  waiting: number
}

/**
 * Publishes the outbox to NATS after a command's work, with the relay the service uses, so
 * that a `sync` run from cron announces its events without a service running. Waits up to
 * `natsConnectWaitMs` for NATS and publishes for up to `publishLimitMs`. Prints how many
 * events it published, or that NATS was unreachable and the events wait in the outbox.
 */
export async function publishOutbox(
  context: OutboxPublishContext,
  io: CommandIo,
): Promise<OutboxPublishReport> {
  const { config, sql } = context
  const waiting = (await readOutboxStats(sql)).depth
  if (waiting === 0) return { outcome: 'idle', published: 0, waiting }
  if (!config.OUTBOX_RELAY_ENABLED) {
    io.stderr.write(
      'OUTBOX_RELAY_ENABLED is false, so this command publishes nothing; ' +
        `the outbox keeps ${events(waiting)} for the service\n`,
    )
    return { outcome: 'disabled', published: 0, waiting }
  }

  const natsUrl = redactUrl(config.NATS_URL)
  let published: number | null
  try {
    published = await publishWithRelay(context)
  } catch (error) {
    const left = (await readOutboxStats(sql)).depth
    const reason = error instanceof Error ? error.message : String(error)
    io.stderr.write(
      `Publishing to NATS at ${natsUrl} failed: ${reason}; ` +
        `the outbox keeps ${events(left)} for the service\n`,
    )
    return { outcome: 'failed', published: 0, waiting: left }
  }

  const left = (await readOutboxStats(sql)).depth
  if (published === null) {
    io.stderr.write(
      `NATS at ${natsUrl} was unreachable for ${natsConnectWaitMs / 1000} s; ` +
        `the outbox keeps ${events(left)} until the service (hubspot-sync serve) ` +
        'or the next command publishes them\n',
    )
    return { outcome: 'unreachable', published: 0, waiting: left }
  }
  const summary = describePublished(published, natsUrl, config.NATS_SUBJECT_PREFIX)
  io.stdout.write(`${summary}${describeLeft(left)}\n`)
  return { outcome: 'published', published, waiting: left }
}

/** Returns how many events the relay published, or null when NATS was unreachable. */
async function publishWithRelay(context: OutboxPublishContext): Promise<number | null> {
  const { config, sql, logger } = context
  // The command prints its own line about NATS, so the manager's warnings would repeat it.
  const nats = new NatsManager({
    url: config.NATS_URL,
    subjectPrefix: config.NATS_SUBJECT_PREFIX,
    logger: logger.child({}, { level: 'error' }),
  })
  // The relay's own loop starts before NATS connects, so its first pass finds NATS down and
  // it sleeps. flushAndStop stops that loop before publishing, so every batch is counted.
  const relay = startOutboxRelay({ sql, nats, logger, idleDelayMs: publishLimitMs * 2 })
  try {
    nats.start()
    if (!(await nats.waitUntilConnected(natsConnectWaitMs))) return null
    return await relay.flushAndStop(Date.now() + publishLimitMs)
  } finally {
    await relay.stop()
    await nats.close()
  }
}

function describePublished(published: number, natsUrl: string, prefix: string): string {
  const where = prefix === '' ? natsUrl : `${natsUrl}, subject prefix ${prefix}`
  return `Published ${events(published)} to NATS (${where})`
}

function describeLeft(left: number): string {
  return left === 0 ? '' : `; the outbox still keeps ${events(left)} for the service`
}

function events(count: number): string {
  return count === 1 ? '1 event' : `${count} events`
}
