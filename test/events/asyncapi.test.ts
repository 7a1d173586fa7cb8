import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import specsModule from '@asyncapi/specs'
import t from 'tap'
import { z } from 'zod'

import { actionEventDataSchemas, buildActionEvent } from '../../src/events/actionEvents.js'
import { buildEvent } from '../../src/events/envelope.js'
import {
  buildLeadDeletedEvent,
  buildLeadImportedEvent,
  buildLeadMergedEvent,
  buildLeadPurgedEvent,
  leadEventDataSchemas,
} from '../../src/events/leadEvents.js'
import { Subject } from '../../src/events/subjects.js'
import { buildRunFinishedEvent, syncCompletedDataSchema, syncFailedDataSchema } from '../../src/events/syncEvents.js'
import type { SyncRun } from '../../src/db/syncRuns.js'
import {
  dataSchemaOf,
  loadAsyncApi,
  messageForSubject,
  resolveRef,
  shapeOf,
  type JsonSchema,
} from './asyncapiSupport.js'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default
const specs = specsModule as unknown as { schemas: Record<string, JsonSchema> }

const document = loadAsyncApi()

/** Every subject's `data` schema in code, by unprefixed subject. */
const dataSchemas: Record<string, z.ZodType> = {
  ...leadEventDataSchemas,
  ...actionEventDataSchemas,
  [Subject.syncCompleted]: syncCompletedDataSchema,
  [Subject.syncFailed]: syncFailedDataSchema,
}

function createAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv)
  return ajv
}

t.test('asyncapi.yaml is a valid AsyncAPI 3.0 document', async (t) => {
  t.equal(document.asyncapi, '3.0.0')
  // The AsyncAPI schema embeds its own copy of the draft-07 meta-schema, so Ajv must not add one.
  const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false })
  addFormats(ajv)
  const validate = ajv.compile(specs.schemas['3.0.0'])
  const isValid = validate(document)
  t.ok(isValid, JSON.stringify(validate.errors?.slice(0, 5), null, 2))
})

t.test('every Subject constant has a channel', async (t) => {
  for (const [key, subject] of Object.entries(Subject)) {
    t.equal(document.channels[key]?.address, subject, `channel ${key} has address ${subject}`)
  }
  const addresses = Object.values(document.channels).map((channel) => channel.address)
  t.same(addresses.sort(), Object.values(Subject).sort(), 'no channel without a Subject constant')
})

t.test('every channel has one send operation', async (t) => {
  for (const key of Object.keys(document.channels)) {
    const operations = Object.values(document.operations).filter(
      (operation) => operation.channel.$ref === `#/channels/${key}`,
    )
    t.equal(operations.length, 1, `one operation for channel ${key}`)
    t.equal(operations[0]?.action, 'send', `operation of ${key} is send`)
  }
})

t.test('every subject has a zod data schema', async (t) => {
  for (const subject of Object.values(Subject)) {
    t.ok(dataSchemas[subject], `zod schema for ${subject}`)
  }
})

t.test('data schemas match the zod schemas', async (t) => {
  for (const [subject, schema] of Object.entries(dataSchemas)) {
    const message = messageForSubject(document, subject)
    if (!message) {
      t.fail(`asyncapi.yaml has no single message for ${subject}`)
      continue
    }
    // Input mode closes only strict objects (additionalProperties: false), as the document does.
    const generated = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema
    t.same(dataSchemaOf(document, message), shapeOf(generated, generated), `data of ${subject}`)
  }
})

t.test('envelope type equals the subject', async (t) => {
  for (const subject of Object.values(Subject)) {
    const message = messageForSubject(document, subject)
    const payload = shapeOf(document, (message?.payload ?? {}) as JsonSchema)
    t.same(payload.properties?.type?.values, [subject], `type of ${subject}`)
  }
})

t.test('envelope lists the CloudEvent fields buildEvent writes', async (t) => {
  const withSubject = buildEvent({ type: 'leads.imported', subject: 'lead/1', data: {} })
  const withoutSubject = buildEvent({ type: 'leads.imported', data: {} })
  const envelope = shapeOf(document, { $ref: '#/components/schemas/CloudEvent' })

  t.same(Object.keys(envelope.properties ?? {}).sort(), Object.keys(withSubject).sort())
  t.same(envelope.required, Object.keys(withoutSubject).sort())
  t.same(envelope.properties?.specversion.values, ['1.0'])
  t.same(envelope.properties?.datacontenttype.values, ['application/json'])
})

t.test('every message requires the Nats-Msg-Id header', async (t) => {
  for (const subject of Object.values(Subject)) {
    const message = messageForSubject(document, subject) ?? {}
    const headers = resolveRef(document, (message.headers ?? {}) as JsonSchema)
    t.ok((headers.required as string[] | undefined)?.includes('Nats-Msg-Id'), `${subject} requires Nats-Msg-Id`)
  }
})

const createdAt = new Date('2025-03-01T10:00:00.000Z')
const updatedAt = new Date('2025-03-02T11:30:00.000Z')
const lead = {
  id: 42,
  integrationId: 3,
  hubspotContactId: 2_147_483_748,
  email: 'ana@example.com',
  firstName: 'Ana',
  lastName: null,
  phone: null,
  company: 'Example GmbH',
  jobTitle: null,
  lifecycleStage: 'lead',
  hubspotOwnerId: null,
  hubspotCreatedAt: createdAt,
  hubspotUpdatedAt: updatedAt,
  contentHash: 'hash-1',
}
const context = { portalId: 12345678, origin: 'webhook' as const, time: updatedAt }

const run: SyncRun = {
  id: 117,
  integrationId: 3,
  kind: 'contacts',
  trigger: 'schedule',
  status: 'succeeded',
  startedAt: createdAt,
  finishedAt: updatedAt,
  windowStart: createdAt,
  windowEnd: updatedAt,
  pages: 4,
  hubspotCalls: 5,
  rateLimitWaits: 0,
  counts: { created: 1, updated: 2, unchanged: 3, skipped: 0, deleted: 0, failed: 0 },
  details: {},
  errorCode: null,
  error: null,
}

const actionBase = {
  leadId: 42,
  integrationId: 3,
  portalId: 12345678,
  hubspotContactId: 2_147_483_748,
  trigger: 'import' as const,
  lead: {
    email: 'ana@example.com', firstName: 'Ana', lastName: null, phone: null, company: null,
    jobTitle: null, lifecycleStage: 'lead', hubspotOwnerId: null, hubspotCreatedAt: createdAt.toISOString(),
  },
}

/** Events as the builders produce them, one per kind of envelope and data. */
const builtEvents = [
  buildLeadImportedEvent(lead, context),
  buildLeadDeletedEvent(lead, { ...context, deletedAt: updatedAt }),
  buildLeadMergedEvent(lead, { ...context, mergedContactIds: [2_147_483_801], mergedLeadIds: [43] }),
  buildLeadPurgedEvent(
    { leadId: 42, integrationId: 3, hubspotContactId: 2_147_483_748, purgedAt: updatedAt },
    context,
  ),
  buildRunFinishedEvent(run, { id: 3, portalId: 12345678 }),
  buildRunFinishedEvent(
    { ...run, status: 'rate_limited', windowStart: null, errorCode: 'HUBSPOT_DAILY_LIMIT', error: 'daily limit' },
    { id: 3, portalId: 12345678 },
  ),
  buildActionEvent(
    Subject.leadsAssigned,
    { ...actionBase, strategy: 'round_robin', userId: 7, teamId: null, ownerMatched: null, assignedAt: updatedAt.toISOString() },
    updatedAt,
  ),
  buildActionEvent(Subject.notificationsRequested, { ...actionBase, channel: 'email', recipients: ['sales@example.com'] }, updatedAt),
]

t.test('built events validate against their message payloads', async (t) => {
  const ajv = createAjv()
  ajv.addSchema(document as unknown as JsonSchema, 'asyncapi')

  for (const event of builtEvents) {
    const channel = Object.values(document.channels).find((entry) => entry.address === event.type)
    const messageRef = Object.values(channel?.messages ?? {})[0]?.$ref
    const validate = ajv.getSchema(`asyncapi${String(messageRef)}/payload`)
    if (!validate) {
      t.fail(`no payload schema for ${event.type}`)
      continue
    }
    t.ok(validate(event), `${event.type}: ${JSON.stringify(validate.errors?.slice(0, 3))}`)
  }
})
