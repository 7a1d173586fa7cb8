import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream'

import type { Logger } from '../logger.js'
import { prefixedStreamName, prefixedSubject, streams } from './subjects.js'

export interface NatsOptions {
  url: string
  subjectPrefix: string
  logger: Logger
  /** How long JetStream remembers a Nats-Msg-Id to drop a republished duplicate. */
  duplicateWindowMs?: number
}

const connectRetryDelayMs = 1000

/**
 * Owns the one NATS connection of the process. The service starts without NATS: the
 * connection is retried in the background, streams are declared on every (re)connect, and
 * callers check `isConnected()` and leave events in the outbox meanwhile.
 */
export class NatsManager {
  private nc: NatsConnection | null = null
  private connected = false
  private closing = false
  private readonly options: NatsOptions
  private starting: Promise<void> | null = null
  private cancelRetry: (() => void) | null = null

  constructor(options: NatsOptions) {
    this.options = options
  }

  get subjectPrefix(): string {
    return this.options.subjectPrefix
  }

  subject(type: string): string {
    return prefixedSubject(this.options.subjectPrefix, type)
  }

  streamName(name: string): string {
    return prefixedStreamName(this.options.subjectPrefix, name)
  }

  isConnected(): boolean {
    return this.connected
  }

  connection(): NatsConnection | null {
    return this.connected ? this.nc : null
  }

  jetstream(): JetStreamClient | null {
    return this.connected && this.nc ? jetstream(this.nc) : null
  }

  /** Starts connecting in the background; resolves at once. */
  start(): void {
    if (this.starting) return
    this.starting = this.connectLoop()
  }

  /** Resolves once connected and the streams exist, or after `timeoutMs`. */
  async waitUntilConnected(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.connected && Date.now() < deadline && !this.closing) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return this.connected
  }

  // The first connection is retried here rather than with the client's waitOnFirstConnect,
  // whose pending connect() cannot be cancelled and would keep a closed manager's process alive.
  private async connectLoop(): Promise<void> {
    const { logger, url } = this.options
    for (let attempt = 1; !this.closing; attempt++) {
      try {
        const nc = await connect({
          servers: url,
          name: 'hubspot-sync',
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
        })
        if (this.closing) {
          await nc.close()
          return
        }
        this.nc = nc
        await this.onConnected()
        void this.watchStatus(nc)
        return
      } catch (error) {
        if (this.closing) return
        if (attempt === 1) {
          logger.warn({ err: error, natsUrl: redactUrl(url) }, 'NATS unreachable; retrying in the background')
        }
        await this.waitBeforeRetry(connectRetryDelayMs)
      }
    }
  }

  private waitBeforeRetry(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.cancelRetry = null
        resolve()
      }, delayMs)
      this.cancelRetry = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  private async onConnected(): Promise<void> {
    try {
      await this.ensureStreams()
      this.connected = true
      this.options.logger.info({ natsUrl: redactUrl(this.options.url) }, 'NATS connected')
    } catch (error) {
      this.connected = false
      this.options.logger.error({ err: error }, 'declaring JetStream streams failed')
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.connected = false
        this.options.logger.warn('NATS disconnected; events wait in the outbox')
      } else if (status.type === 'reconnect') {
        // A restarted server may have lost the streams; declare them again.
        await this.onConnected()
      }
    }
  }

  /** Declares every stream that is missing, and widens one whose subjects have changed. */
  async ensureStreams(): Promise<void> {
    if (!this.nc) return
    const jsm = await jetstreamManager(this.nc)
    for (const stream of streams) {
      const name = this.streamName(stream.name)
      const subjects = stream.subjects.map((subject) => this.subject(subject))
      try {
        const info = await jsm.streams.info(name)
        const current = info.config.subjects ?? []
        if (subjects.some((subject) => !current.includes(subject))) {
          await jsm.streams.update(name, { ...info.config, subjects })
        }
      } catch (error) {
        if (!isStreamNotFound(error)) throw error
        await jsm.streams.add({
          name,
          subjects,
          duplicate_window: (this.options.duplicateWindowMs ?? 10 * 60_000) * 1_000_000,
        })
        this.options.logger.info({ stream: name }, 'JetStream stream declared')
      }
    }
  }

  async close(): Promise<void> {
    this.closing = true
    this.connected = false
    this.cancelRetry?.()
    const nc = this.nc
    this.nc = null
    if (nc) await nc.drain().catch(() => nc.close())
  }
}

/**
 * Returns true when a JetStream publish failed because no stream takes its subject, as after
 * an operator deleted the stream. The server then sends "no responders", which
 * @nats-io/jetstream 3.x reports as JetStreamNotEnabled with a NoRespondersError cause.
 */
export function isNoStreamError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name
  const cause = (error as { cause?: { name?: unknown } } | null)?.cause
  return name === 'JetStreamNotEnabled' || name === 'NoRespondersError' || cause?.name === 'NoRespondersError'
}

function isStreamNotFound(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error)
  return /stream not found/i.test(message) || (error as { code?: unknown }).code === 10059
}

/** Removes credentials from a NATS URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[redacted]@')
}
