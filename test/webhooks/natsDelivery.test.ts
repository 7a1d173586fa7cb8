import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import t from 'tap'

import { NatsManager } from '../../src/events/nats.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { createLogger } from '../../src/logger.js'
import { connectNats, natsUrl, uniqueSubjectPrefix } from '../helpers/nats.js'
import { contactEvent } from './fixtures/delivery.js'
import { deliverAndDrain, postEvents, startPipeline } from './fixtures/pipeline.js'

t.test('one leads.imported on NATS for a replayed creation', async (t) => {
  const pipeline = await startPipeline(t)
  const prefix = uniqueSubjectPrefix(t)
  const logger = createLogger('silent')
  const nats = new NatsManager({ url: natsUrl, subjectPrefix: prefix, logger })
  nats.start()
  t.teardown(() => nats.close())
  t.ok(await nats.waitUntilConnected(10_000), 'NATS connected')
  const relay = startOutboxRelay({ sql: pipeline.db.sql, nats, logger })
  t.teardown(() => relay.stop())

  const contact = pipeline.sim.contacts.create({ email: 'nats@example.com' })
  const id = Number(contact.id)
  await deliverAndDrain(pipeline)
  const replay = contactEvent(pipeline.sim.portalId, 'creation', id, { changeFlag: 'CREATED', occurredAt: 42 })
  for (let i = 0; i < 2; i++) t.equal((await postEvents(pipeline, [replay, replay])).statusCode, 200)
  await pipeline.worker.drain()
  await relay.flush()

  const nc = await connectNats(t)
  const stream = nats.streamName('LEADS')
  const info = await (await jetstreamManager(nc)).streams.info(stream)
  const consumer = await jetstream(nc).consumers.get(stream)
  const messages = await consumer.fetch({ max_messages: info.state.messages, expires: 2_000 })
  const imported: number[] = []
  for await (const message of messages) {
    const event = message.json<{ type: string; data: { hubspotContactId: number } }>()
    if (event.type === 'leads.imported') imported.push(event.data.hubspotContactId)
  }
  t.same(imported, [id], 'exactly one leads.imported for the contact')
})
