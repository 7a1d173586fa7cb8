import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'

import type { Config } from '../config.js'
import type { Sql } from '../db/connection.js'
import type { NatsManager } from '../events/nats.js'
import { Subject } from '../events/subjects.js'
import type { Logger } from '../logger.js'
import { handleImportedMessage, type MessageHandlerDeps } from './messages.js'

export interface ActionsConsumerOptions {
  sql: Sql
  nats: NatsManager
  logger: Logger
  /** Service configuration. ACTIONS_MAX_DELIVERIES sets the deliveries of one message before it is dead-lettered. */
  config: Config
  /** Durable consumer name, shared by every replica. Default `lead-actions`. */
  name?: string
  /** Messages processed at once by this instance. Default 8. */
  concurrency?: number
  /** Time the server waits for an ack before it redelivers (e.g. after a crash). Default 30000 ms. */
  ackWaitMs?: number
  /** Delay before a failed message is delivered again, by delivery. Default 1 s, 5 s, 30 s, 2 min. */
  retryDelaysMs?: readonly number[]
  /** Pause between attempts to reach NATS or the database. Default 1000 ms. */
  retryIntervalMs?: number
  /** Test seam that runs after the commit and before the ack. If it throws, no ack is sent. */
  beforeAck?: (leadId: number) => Promise<void> | void
}

export interface ActionsConsumer {
  /** Stops pulling, finishes the messages in hand, then resolves. */
  stop(): Promise<void>
}

const defaultName = 'lead-actions'
const defaultRetryDelaysMs = [1000, 5000, 30_000, 120_000]
const errorLogIntervalMs = 60_000

/**
 * Starts the durable pull consumer of leads.imported that runs the new-lead actions. It
 * waits while NATS is unreachable, declares its consumer when missing (or updates its
 * delivery settings), and resumes after a reconnect. Replicas using the same name share
 * the messages.
 */
export function startActionsConsumer(options: ActionsConsumerOptions): ActionsConsumer {
  const consumer = new ActionsConsumerLoop(options)
  consumer.start()
  return consumer
}

class ActionsConsumerLoop implements ActionsConsumer {
  private readonly name: string
  private readonly concurrency: number
  private readonly ackWaitMs: number
  private readonly retryIntervalMs: number
  private readonly handlerDeps: MessageHandlerDeps
  private stopping = false
  private loop: Promise<void> = Promise.resolve()
  private messages: ConsumerMessages | null = null
  private readonly inFlight = new Set<Promise<void>>()
  private slotFreed: (() => void) | null = null
  private wake: (() => void) | null = null
  private errorLoggedAt = 0

  constructor(private readonly options: ActionsConsumerOptions) {
    this.name = options.name ?? defaultName
    this.concurrency = options.concurrency ?? 8
    this.ackWaitMs = options.ackWaitMs ?? 30_000
    this.retryIntervalMs = options.retryIntervalMs ?? 1000
    this.handlerDeps = {
      sql: options.sql,
      logger: options.logger,
      maxDeliveries: options.config.ACTIONS_MAX_DELIVERIES,
      retryDelaysMs: options.retryDelaysMs ?? defaultRetryDelaysMs,
      databaseRetryMs: Math.min(this.retryIntervalMs, Math.floor(this.ackWaitMs / 3)),
      isStopping: () => this.stopping,
      beforeAck: options.beforeAck,
    }
  }

  start(): void {
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.wake?.()
    this.slotFreed?.()
    await this.messages?.close().catch(() => {})
    await this.loop
    await Promise.all(this.inFlight)
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const nc = this.options.nats.connection()
      if (nc) {
        try {
          await this.consume(nc)
        } catch (error) {
          this.logThrottled(error)
        }
      }
      if (!this.stopping) await this.sleep(this.retryIntervalMs)
    }
  }

  /** Pulls until the iterator ends: on stop, or when the consumer or stream disappears. */
  private async consume(nc: NatsConnection): Promise<void> {
    const stream = this.options.nats.streamName('LEADS')
    await ensureConsumer(await jetstreamManager(nc), stream, this.consumerConfig())
    const consumer = await jetstream(nc).consumers.get(stream, this.name)
    const messages = await consumer.consume({
      max_messages: this.concurrency * 2,
      abort_on_missing_resource: true,
    })
    this.messages = messages
    if (this.stopping) await messages.close()
    this.options.logger.info({ consumer: this.name, stream }, 'lead actions consumer started')

    for await (const msg of messages) {
      await this.waitForSlot()
      if (this.stopping) break
      this.track(msg)
    }
  }

  private consumerConfig(): Partial<ConsumerConfig> & { durable_name: string } {
    return {
      durable_name: this.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.options.nats.subject(Subject.leadsImported),
      max_deliver: this.options.config.ACTIONS_MAX_DELIVERIES,
      ack_wait: this.ackWaitMs * 1_000_000,
      max_ack_pending: 1000,
    }
  }

  private track(msg: JsMsg): void {
    const task = handleImportedMessage(msg, this.handlerDeps)
      .catch((error) => {
        this.options.logger.error({ err: error, streamSequence: msg.seq }, 'lead actions message failed')
      })
      .finally(() => {
        this.inFlight.delete(task)
        this.slotFreed?.()
      })
    this.inFlight.add(task)
  }

  private async waitForSlot(): Promise<void> {
    while (this.inFlight.size >= this.concurrency && !this.stopping) {
      await new Promise<void>((resolve) => {
        this.slotFreed = resolve
      })
      this.slotFreed = null
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null
        resolve()
      }, ms)
      this.wake = () => {
        clearTimeout(timer)
        this.wake = null
        resolve()
      }
    })
  }

  /** Logs a failed NATS connection or consumer setup at most once a minute, and not at all while stopping. */
  private logThrottled(error: unknown): void {
    if (this.stopping || Date.now() - this.errorLoggedAt < errorLogIntervalMs) return
    this.errorLoggedAt = Date.now()
    this.options.logger.warn({ err: error, consumer: this.name }, 'lead actions consumer paused; retrying')
  }
}

/**
 * Creates the durable consumer, or brings its delivery settings in line with ours. Another
 * replica may create it at the same moment, and then the update path applies.
 */
async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  wanted: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  const info = await jsm.consumers.info(stream, wanted.durable_name).catch((error: unknown) => {
    if (isNotFound(error)) return null
    throw error
  })
  if (!info) {
    try {
      await jsm.consumers.add(stream, wanted)
      return
    } catch (error) {
      if (isNotFound(error)) throw error
    }
  }
  const current = info?.config ?? (await jsm.consumers.info(stream, wanted.durable_name)).config
  if (current.max_deliver === wanted.max_deliver && current.ack_wait === wanted.ack_wait) return
  await jsm.consumers.update(stream, wanted.durable_name, {
    max_deliver: wanted.max_deliver,
    ack_wait: wanted.ack_wait,
  })
}

function isNotFound(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error)
  return /not found/i.test(message)
}
