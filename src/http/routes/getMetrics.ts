import type { FastifyPluginAsync, FastifyRequest } from 'fastify'

import { readOutboxStats } from '../../db/outbox.js'
import { readInboxStats } from '../../db/webhookEvents.js'
import { inboxDepth, inboxOldestAgeSeconds, outboxDepth, registry } from '../../metrics.js'

/**
 * Maximum wait of a scrape for the queue gauges. Prometheus gives a scrape 10 s by default,
 * and a database that is down holds a new connection for up to its 10 s connect timeout.
 */
const queueGaugesWaitMs = 1_000

/**
 * `GET /metrics`: every metric of the process in the Prometheus text format. The queue
 * gauges are read from the database on each scrape, so a replica whose inbox worker or
 * outbox relay is switched off still reports the shared queues.
 */
export const getMetrics: FastifyPluginAsync = async (app) => {
  app.get('/metrics', async (request, reply) => {
    await refreshQueueGauges(request)
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}

/**
 * Sets the inbox and outbox gauges. When the database fails or takes longer than
 * `queueGaugesWaitMs`, the scrape serves the last values.
 */
async function refreshQueueGauges(request: FastifyRequest): Promise<void> {
  const sql = request.server.deps.sql
  const read = Promise.all([readInboxStats(sql), readOutboxStats(sql)])
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), queueGaugesWaitMs)
  })
  try {
    const stats = await Promise.race([read, timeout])
    if (stats === null) {
      read.catch(() => {})
      request.log.warn({ waitedMs: queueGaugesWaitMs }, 'queue gauges not refreshed in time')
      return
    }
    const [inbox, outbox] = stats
    inboxDepth.set(inbox.depth)
    inboxOldestAgeSeconds.set(inbox.oldestAgeSeconds)
    outboxDepth.set(outbox.depth)
  } catch (error) {
    request.log.warn({ err: error }, 'queue gauges not refreshed')
  } finally {
    clearTimeout(timer)
  }
}
