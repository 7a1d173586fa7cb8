/**
 * Hostile request bodies and the responses openapi.yaml and docs/webhooks.md promise for them.
 * Webhook bodies are sent correctly signed, so each one reaches parsing. Admin requests carry
 * the right bearer token, so each one reaches validation.
 */

export const corpusPortalId = 62515

/** Returns a valid event in HubSpot's legacy form, with `fields` changing or extending it. */
export function validEvent(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventId: 1,
    subscriptionId: 100,
    portalId: corpusPortalId,
    appId: 4242,
    occurredAt: 1_700_000_000_000,
    subscriptionType: 'contact.creation',
    attemptNumber: 0,
    objectId: 901,
    ...fields,
  }
}

export interface HostileCase {
  name: string
  body: string | Buffer
  /** Content-Type header; `null` sends none. */
  contentType?: string | null
  status: number
  code?: string
  /** Text the error message or one of `details.issues[].field` must contain. */
  mentions?: string
}

/** Returns `depth` nested arrays around `inner`, such as `[[[1]]]`. */
export function nestedArrays(depth: number, inner = '1'): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth)
}

/** Returns `depth` nested objects `{"a":{"a":...}}` around `inner`. */
export function nestedObjects(depth: number, inner = '1'): string {
  return '{"a":'.repeat(depth) + inner + '}'.repeat(depth)
}

function eventJson(fields: Record<string, unknown>): string {
  return JSON.stringify(validEvent(fields))
}

/** Replaces one field's JSON value by raw text, for values JSON.stringify cannot produce. */
function eventWithRaw(field: string, rawValue: string): string {
  const marker = '"__raw__"'
  return `[${eventJson({ [field]: '__raw__' }).replace(marker, rawValue)}]`
}

/** Returns a valid batch whose propertyValue string contains `bytes` verbatim. */
function eventWithBytes(bytes: number[]): Buffer {
  const [head, tail] = `[${eventJson({ propertyName: 'firstname', propertyValue: '@@' })}]`.split('@@')
  return Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)])
}

const invalid = { status: 400, code: 'WEBHOOK_BODY_INVALID' }

/** Returns signed webhook deliveries that must get a 400 or 413 response and store nothing. */
export function rejectedWebhookBodies(bodyLimitBytes: number): HostileCase[] {
  return [
    { name: 'empty body', body: '', ...invalid, mentions: 'not valid JSON' },
    { name: 'whitespace only', body: ' \r\n\t ', ...invalid, mentions: 'not valid JSON' },
    { name: 'truncated JSON', body: '[{"portalId":1,', ...invalid, mentions: 'not valid JSON' },
    { name: 'JSON null', body: 'null', ...invalid, mentions: 'not a JSON array' },
    { name: 'object instead of array', body: eventJson({}), ...invalid, mentions: 'not a JSON array' },
    { name: 'number instead of array', body: '42', ...invalid, mentions: 'not a JSON array' },
    { name: 'array of strings', body: '["contact.creation"]', ...invalid, mentions: '[0]' },
    { name: 'portalId as text', body: `[${eventJson({ portalId: 'acme' })}]`, ...invalid, mentions: '[0].portalId' },
    { name: 'portalId as boolean', body: `[${eventJson({ portalId: true })}]`, ...invalid, mentions: '[0].portalId' },
    { name: 'occurredAt as text', body: `[${eventJson({ occurredAt: 'now' })}]`, ...invalid, mentions: '[0].occurredAt' },
    { name: 'negative occurredAt', body: `[${eventJson({ occurredAt: -1 })}]`, ...invalid, mentions: '[0].occurredAt' },
    { name: 'fractional occurredAt', body: `[${eventJson({ occurredAt: 1.5 })}]`, ...invalid, mentions: '[0].occurredAt' },
    { name: 'objectId as object', body: `[${eventJson({ objectId: { id: 1 } })}]`, ...invalid, mentions: '[0].objectId' },
    { name: 'propertyValue as number', body: `[${eventJson({ propertyValue: 5 })}]`, ...invalid, mentions: '[0].propertyValue' },
    { name: 'mergedObjectIds as text', body: `[${eventJson({ mergedObjectIds: '1,2' })}]`, ...invalid, mentions: '[0].mergedObjectIds' },
    { name: 'subscriptionType as number', body: `[${eventJson({ subscriptionType: 7 })}]`, ...invalid, mentions: '[0].subscriptionType' },
    { name: 'portalId beyond 2^53', body: eventWithRaw('portalId', '9007199254740993'), ...invalid, mentions: '[0].portalId' },
    { name: 'portalId 1e400', body: eventWithRaw('portalId', '1e400'), ...invalid, mentions: '[0].portalId' },
    { name: 'occurredAt 1e400', body: eventWithRaw('occurredAt', '1e400'), ...invalid, mentions: '[0].occurredAt' },
    { name: 'occurredAt past the Date range', body: eventWithRaw('occurredAt', '9000000000000000'), ...invalid, mentions: '[0].occurredAt' },
    { name: '10,000 nested arrays', body: nestedArrays(10_000), ...invalid, mentions: '[0]' },
    { name: '10,000 nested objects', body: `[${nestedObjects(10_000)}]`, ...invalid, mentions: '[0]' },
    { name: '100,000 nested arrays', body: nestedArrays(100_000), ...invalid },
    { name: 'portalId nested 10,000 deep', body: eventWithRaw('portalId', nestedArrays(10_000)), ...invalid, mentions: '[0].portalId' },
    { name: 'only unknown fields', body: '[{"favouriteColour":"teal"}]', ...invalid, mentions: '[0].portalId' },
    { name: 'invalid UTF-8 byte 0xFF', body: eventWithBytes([0xff, 0xfe]), ...invalid, mentions: 'UTF-8' },
    { name: 'overlong UTF-8 slash', body: eventWithBytes([0xc0, 0xaf]), ...invalid, mentions: 'UTF-8' },
    { name: 'lone UTF-8 continuation byte', body: eventWithBytes([0x61, 0x80, 0x62]), ...invalid, mentions: 'UTF-8' },
    { name: 'truncated UTF-8 sequence', body: eventWithBytes([0xe2, 0x82]), ...invalid, mentions: 'UTF-8' },
    { name: 'UTF-8 encoded surrogate', body: eventWithBytes([0xed, 0xa0, 0x80]), ...invalid, mentions: 'UTF-8' },
    { name: 'raw NUL byte in a string', body: eventWithBytes([0x00]), ...invalid, mentions: 'not valid JSON' },
    { name: 'NUL byte between tokens', body: Buffer.from([0x5b, 0x00, 0x5d]), ...invalid, mentions: 'not valid JSON' },
    { name: '100,000 tiny elements', body: `[${new Array(100_000).fill('0').join(',')}]`, ...invalid, mentions: '[0]' },
    { name: '100,000 empty objects', body: `[${new Array(100_000).fill('{}').join(',')}]`, ...invalid, mentions: '[0].portalId' },
    { name: 'array over the body limit', body: `[${'0,'.repeat(bodyLimitBytes / 2)}0]`, status: 413 },
    { name: 'text over the body limit', body: `[${eventJson({ propertyValue: 'x'.repeat(bodyLimitBytes) })}]`, status: 413 },
    { name: 'JSON with a byte order mark', body: `\uFEFF[${eventJson({})}]`, ...invalid, mentions: 'not valid JSON' },
  ]
}

/**
 * Returns signed deliveries with fields HubSpot never sends. docs/webhooks.md and openapi.yaml
 * state that unknown fields are kept, so these get a 200 response and are stored as received.
 * The test checks that nothing is polluted and that the inbox contains the keys as plain data.
 */
export function acceptedWebhookBodies(): HostileCase[] {
  const ok = { status: 200 }
  return [
    { name: 'unknown top-level fields', body: `[${eventJson({ favouriteColour: 'teal', objectId: 1001 })}]`, ...ok },
    { name: '__proto__ key', body: `[${eventJson({ objectId: 1002 }).replace('{', '{"__proto__":{"polluted":"yes"},')}]`, ...ok },
    { name: 'constructor.prototype key', body: `[${eventJson({ objectId: 1003, constructor: { prototype: { polluted: 'yes' } } })}]`, ...ok },
    { name: 'unknown field nested 1,000 deep', body: eventWithRaw('extra', nestedArrays(1_000)), ...ok },
    { name: 'NUL escape in a value', body: `[${eventJson({ objectId: 1004, propertyName: 'firstname', propertyValue: 'a\u0000b' })}]`, ...ok },
    { name: 'text/plain content type', body: `[${eventJson({ objectId: 1005 })}]`, contentType: 'text/plain', ...ok },
    { name: 'no content type', body: `[${eventJson({ objectId: 1006 })}]`, contentType: null, ...ok },
  ]
}

/**
 * Returns signed deliveries the receiver stores but never applies, as docs/webhooks.md
 * describes. A contact event with an id of 2^53 or more is kept as `failed` with the reason. An
 * event of another object with a field of an unexpected type is kept as `ignored`. A 400 response
 * would make HubSpot drop the valid events of the batch with them.
 */
export function storedUnappliedWebhookBodies(): (HostileCase & { stored: 'failed' | 'ignored' })[] {
  const ok = { status: 200 }
  const beyondSafe = (field: string, marker: number) =>
    `[${eventJson({ objectId: marker, subscriptionType: 'contact.merge' }).replace(`"objectId":${marker}`, `"objectId":${marker},"${field}":18446744073709551616`)}]`
  return [
    { name: 'objectId beyond 2^53', body: eventWithRaw('objectId', '18446744073709551616'), ...ok, stored: 'failed' },
    { name: 'newObjectId beyond 2^53', body: beyondSafe('newObjectId', 2001), ...ok, stored: 'failed' },
    {
      name: 'deal event with a numeric propertyValue',
      body: `[${eventJson({ objectId: 2002, subscriptionType: 'deal.propertyChange', propertyName: 'amount', propertyValue: 5 })}]`,
      ...ok,
      stored: 'ignored',
    },
  ]
}

export interface AdminCase extends HostileCase {
  method: 'POST' | 'PATCH' | 'GET'
  url: string
}

const validation = { status: 400, code: 'VALIDATION_FAILED' }

function integrationJson(fields: Record<string, unknown>): string {
  return JSON.stringify({ portalId: 777, accessToken: 'pat-hostile-0000', ...fields })
}

function integrationWithBytes(bytes: number[]): Buffer {
  const [head, tail] = integrationJson({ name: '@@' }).split('@@')
  return Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)])
}

function post(name: string, body: string | Buffer, expected: Partial<HostileCase>): AdminCase {
  return { name, method: 'POST', url: '/integrations', body, ...validation, ...expected }
}

/** Returns admin requests with a valid token that must get a 4xx response and store nothing. */
export function rejectedAdminRequests(bodyLimitBytes: number): AdminCase[] {
  const userIds = new Array(100_000).fill(1)
  return [
    post('empty JSON body', '', { mentions: 'empty body' }),
    post('whitespace JSON body', '  ', { mentions: 'invalid JSON' }),
    post('truncated JSON', '{"portalId":', { mentions: 'invalid JSON' }),
    post('JSON array', '[]', { mentions: 'body' }),
    post('JSON null', 'null', { mentions: 'portalId' }),
    post('portalId as text', integrationJson({ portalId: '777' }), { mentions: 'portalId' }),
    post('portalId as boolean', integrationJson({ portalId: true }), { mentions: 'portalId' }),
    post('name as number', integrationJson({ name: 5 }), { mentions: 'name' }),
    post('accessToken as number', integrationJson({ accessToken: 12345 }), { mentions: 'accessToken' }),
    post('oauth as text', integrationJson({ accessToken: undefined, oauth: 'token' }), { mentions: 'oauth' }),
    post('burst as text', integrationJson({ burstPer10Seconds: 'many' }), { mentions: 'burstPer10Seconds' }),
    post('portalId beyond 2^53', integrationJson({ portalId: 1 }).replace('"portalId":1', '"portalId":9007199254740993'), { mentions: 'portalId' }),
    post('portalId 1e400', integrationJson({ portalId: 1 }).replace('"portalId":1', '"portalId":1e400'), { mentions: 'portalId' }),
    post('burst 1e400', integrationJson({ burstPer10Seconds: 1 }).replace('"burstPer10Seconds":1', '"burstPer10Seconds":1e400'), { mentions: 'burstPer10Seconds' }),
    post('negative portalId', integrationJson({ portalId: -5 }), { mentions: 'portalId' }),
    post('10,000 nested arrays', nestedArrays(10_000), { mentions: 'body' }),
    post('unknown field nested 10,000 deep', integrationJson({ extra: 1 }).replace('"extra":1', `"extra":${nestedObjects(10_000)}`), { mentions: 'extra' }),
    post('name nested 10,000 deep', integrationJson({ name: 1 }).replace('"name":1', `"name":${nestedArrays(10_000)}`), { mentions: 'name' }),
    post('unknown field', integrationJson({ isAdmin: true }), { mentions: 'isAdmin' }),
    post('unknown oauth field', integrationJson({ accessToken: undefined, oauth: { refreshToken: 'r', scope: 'all' } }), { mentions: 'oauth' }),
    post('__proto__ key', integrationJson({}).replace('{', '{"__proto__":{"polluted":"yes"},'), { mentions: '__proto__' }),
    post('nested __proto__ key', integrationJson({ actions: { assign: { enabled: false } } }).replace('"assign":{', '"assign":{"__proto__":{"polluted":"yes"},'), { mentions: 'actions.assign.__proto__' }),
    post('constructor.prototype key', integrationJson({ constructor: { prototype: { polluted: 'yes' } } }), { mentions: 'constructor' }),
    post('__proto__ below 10,000 levels', integrationJson({ extra: 1 }).replace('"extra":1', `"extra":${nestedObjects(10_000, '{"__proto__":{"polluted":"yes"}}')}`), { mentions: '__proto__' }),
    post('invalid UTF-8 byte 0xFF', integrationWithBytes([0xff]), { mentions: 'UTF-8' }),
    post('overlong UTF-8 sequence', integrationWithBytes([0xc0, 0xaf]), { mentions: 'UTF-8' }),
    post('truncated UTF-8 sequence', integrationWithBytes([0xe2, 0x82]), { mentions: 'UTF-8' }),
    post('NUL escape in name', integrationJson({ name: 'Acme\u0000Corp' }), { mentions: 'name' }),
    post('NUL escape in a key', integrationJson({}).replace('{', '{"a\\u0000b":1,'), { mentions: 'NUL' }),
    post('raw NUL byte', Buffer.concat([Buffer.from('{"portalId":1'), Buffer.from([0]), Buffer.from('}')]), { mentions: 'invalid JSON' }),
    post('100,000 user ids', integrationJson({ actions: { assign: { enabled: true, strategy: 'round_robin', userIds } } }), { mentions: 'userIds' }),
    post('body over the limit', integrationJson({ name: 'x'.repeat(bodyLimitBytes) }), { status: 413, code: undefined }),
    post('array over the limit', `[${'0,'.repeat(bodyLimitBytes / 2)}0]`, { status: 413, code: undefined }),
    // Fastify parses text/plain as a string, which fails validation as a non-object body.
    post('text/plain content type', integrationJson({}), { contentType: 'text/plain', mentions: 'body' }),
    post('form content type', 'portalId=777&accessToken=x', { contentType: 'application/x-www-form-urlencoded', status: 415, mentions: 'Unsupported Media Type' }),
    { name: 'patch with unknown status', method: 'PATCH', url: '/integrations/1', body: '{"status":"deleted"}', ...validation, mentions: 'status' },
    { name: 'patch with empty object', method: 'PATCH', url: '/integrations/1', body: '{}', ...validation, mentions: 'body' },
    { name: 'patch id beyond 2^53', method: 'PATCH', url: '/integrations/99999999999999999999', body: '{"name":"x"}', ...validation, mentions: 'id' },
    { name: 'get id 1e400', method: 'GET', url: '/integrations/1e400', body: '', contentType: null, ...validation, mentions: 'id' },
    { name: 'get id -1e400', method: 'GET', url: '/integrations/-1e400', body: '', contentType: null, ...validation, mentions: 'id' },
    { name: 'leads limit 1e400', method: 'GET', url: '/integrations/1/leads?limit=1e400', body: '', contentType: null, ...validation, mentions: 'limit' },
    { name: 'retry ids 1e400', method: 'POST', url: '/webhook-events/retry', body: '{"ids":[1e400]}', ...validation, mentions: 'ids' },
    { name: 'get id beyond bigint', method: 'GET', url: '/integrations/99999999999999999999', body: '', contentType: null, ...validation, mentions: 'id' },
    { name: 'get id __proto__', method: 'GET', url: '/integrations/__proto__', body: '', contentType: null, ...validation, mentions: 'id' },
    { name: 'leads after beyond bigint', method: 'GET', url: '/integrations/1/leads?after=99999999999999999999', body: '', contentType: null, ...validation, mentions: 'after' },
    { name: 'leads limit as text', method: 'GET', url: '/integrations/1/leads?limit=all', body: '', contentType: null, ...validation, mentions: 'limit' },
    { name: 'run id beyond bigint', method: 'GET', url: '/sync-runs/99999999999999999999', body: '', contentType: null, ...validation, mentions: 'runId' },
    { name: 'webhook events before beyond bigint', method: 'GET', url: '/webhook-events?before=99999999999999999999', body: '', contentType: null, ...validation, mentions: 'before' },
    { name: 'webhook events status injection', method: 'GET', url: "/webhook-events?status=failed';drop table leads;--", body: '', contentType: null, ...validation, mentions: 'status' },
    { name: 'retry 100,000 ids', method: 'POST', url: '/webhook-events/retry', body: JSON.stringify({ ids: new Array(100_000).fill(1) }), ...validation, mentions: 'ids' },
    { name: 'retry ids beyond bigint', method: 'POST', url: '/webhook-events/retry', body: '{"ids":[99999999999999999999]}', ...validation, mentions: 'ids' },
    { name: 'retry ids as text', method: 'POST', url: '/webhook-events/retry', body: '{"ids":"1,2"}', ...validation, mentions: 'ids' },
    { name: 'sync kind unknown', method: 'POST', url: '/sync/1?kind=everything', body: '', contentType: null, ...validation, mentions: 'kind' },
    { name: 'sync id beyond bigint', method: 'POST', url: '/sync/99999999999999999999', body: '', contentType: null, ...validation, mentions: 'integrationId' },
  ]
}
