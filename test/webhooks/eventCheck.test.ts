// The receiver checks well-formed events by hand and hands the rest to the zod schema. These
// random events, edge values included, must get the same verdict, fields and dedup key both
// ways, and the check must never change the element it was given.
import t from 'tap'

import { checkWebhookEvent, webhookDedupKey, webhookEventSchema } from '../../src/hubspot/webhookEvents.js'

const fieldNames = [
  'eventId',
  'subscriptionId',
  'portalId',
  'appId',
  'occurredAt',
  'subscriptionType',
  'eventType',
  'attemptNumber',
  'objectId',
  'objectTypeId',
  'propertyName',
  'propertyValue',
  'changeFlag',
  'changeSource',
  'sourceId',
  'primaryObjectId',
  'newObjectId',
  'numberOfPropertiesMoved',
  'associationType',
  'fromObjectId',
  'toObjectId',
  'associationRemoved',
  'isPrimaryAssociation',
  'mergedObjectIds',
  'extra',
  '__proto__',
  'constructor',
  'toString',
]

/** Values as JSON text, so the events come from JSON.parse as the receiver's do. */
const valueTexts = [
  '0', '-0', '1', '-1', '1.5', String(2 ** 53 - 1), String(2 ** 53), String(-(2 ** 53)), '8640000000000000',
  '8640000000000001', '1e21', '1e400', '-1e400', '""', '"x"', '"123"', '"-1"', '"1e3"', '"contact.creation"',
  '"object.creation"', '"0-1"', 'null', 'true', 'false', '[]', '[1,2]', '{}', '{"a":1}',
]

/** A small seeded generator (mulberry32), so a failure names a case that can be run again. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = Math.imul(state ^ (state >>> 15), state | 1)
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61)
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296
  }
}

function randomEventText(random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]
  const fields: string[] = []
  if (random() < 0.95) fields.push(`"portalId":${random() < 0.8 ? '5' : pick(valueTexts)}`)
  if (random() < 0.95) fields.push(`"occurredAt":${random() < 0.8 ? '1700000000000' : pick(valueTexts)}`)
  if (random() < 0.9) {
    const types = ['"contact.creation"', '"object.creation"', '"company.creation"']
    fields.push(`"subscriptionType":${random() < 0.8 ? pick(types) : pick(valueTexts)}`)
  }
  const extraCount = Math.floor(random() * 6)
  for (let i = 0; i < extraCount; i++) fields.push(`${JSON.stringify(pick(fieldNames))}:${pick(valueTexts)}`)
  return `{${fields.join(',')}}`
}

/** Returns how the two checks disagree about one event, or null when they agree. */
function disagreement(text: string): string | null {
  const element = JSON.parse(text) as Record<string, unknown>
  const check = checkWebhookEvent(element)
  const zod = webhookEventSchema.safeParse(element)
  if (JSON.stringify(element) !== JSON.stringify(JSON.parse(text))) return 'the check changed the element'

  const quick = check.ok && check.received.event === (element as unknown)
  if (!quick) {
    const zodAccepted = zod.success
    const checkAccepted = check.ok && check.received.invalidFields === null && check.received.failure === null
    return zodAccepted === checkAccepted ? null : `zod accepted: ${zodAccepted}, check accepted: ${checkAccepted}`
  }
  if (!zod.success) return 'the hand-written check accepted what zod rejects'
  const parsed = zod.data as Record<string, unknown>
  const parsedKeys = Object.keys(parsed).sort().join(',')
  const elementKeys = Object.keys(element).sort().join(',')
  if (parsedKeys !== elementKeys) return `fields differ: ${parsedKeys} against ${elementKeys}`
  if (Object.keys(parsed).some((key) => !Object.is(parsed[key], element[key]))) return 'values differ'
  if (webhookDedupKey(zod.data) !== webhookDedupKey(check.received.event)) return 'dedup keys differ'
  return null
}

t.test('hand-written check agrees with zod', async (t) => {
  const random = seededRandom(20261204)
  const cases = 50_000
  const failures: string[] = []
  for (let index = 0; index < cases && failures.length < 10; index++) {
    const text = randomEventText(random)
    const problem = disagreement(text)
    if (problem !== null) failures.push(`case ${index}: ${problem}: ${text}`)
  }
  t.same(failures, [], 'no case disagrees')
})

t.test('hand-written check takes well-formed events', async (t) => {
  const text = '{"eventId":1,"subscriptionId":2,"portalId":5,"appId":3,"occurredAt":1700000000000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":9,"propertyName":"email","propertyValue":"a@example.com","changeSource":"CRM_UI","sourceId":"userId:1"}'
  const element = JSON.parse(text) as Record<string, unknown>
  const check = checkWebhookEvent(element)
  t.ok(check.ok, 'accepted')
  t.equal(check.ok && check.received.event, element, 'the element itself is returned, not a copy')
  t.equal(disagreement(text), null, 'zod agrees')
})
