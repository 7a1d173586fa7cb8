import { z } from 'zod'

import { errors, type FieldIssue } from '../errors.js'
import { conditionSchema, strictWithHint } from './conditions.js'

/** The new-lead actions, in the order the consumer runs them. */
export const actionNames = ['assign', 'analyze', 'notify', 'sequence'] as const
export type ActionName = (typeof actionNames)[number]

export const assignStrategies = ['round_robin', 'team', 'hubspot_owner'] as const
export type AssignStrategy = (typeof assignStrategies)[number]

const idListMessage = 'expected a non-empty array of distinct positive integers'
const userIdMessage = 'expected a positive integer'

function isPositiveId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** User ids as a single check, so one message names the whole list. */
const userIdListSchema = z.custom<number[]>(
  (value) =>
    Array.isArray(value) &&
    value.length > 0 &&
    value.length <= 1000 &&
    value.every(isPositiveId) &&
    new Set(value).size === value.length,
  { error: `${idListMessage} (at most 1000)` },
)

const userIdSchema = z.custom<number>(isPositiveId, { error: userIdMessage })

const text = (maxChars: number) =>
  z
    .string({ error: 'expected a string' })
    .trim()
    .min(1, 'expected a non-empty string')
    .max(maxChars, `expected at most ${maxChars} characters`)

const ownerMapSchema = z
  .record(
    z.string().regex(/^\d{1,20}$/),
    userIdSchema,
    {
      error: (issue) => {
        if (issue.code === 'invalid_key') return 'expected a HubSpot owner id (digits) as key'
        if (issue.code === 'invalid_type') return 'expected an object mapping HubSpot owner ids to user ids'
        return undefined
      },
    },
  )
  .refine((map) => Object.keys(map).length > 0, {
    error: 'expected at least one HubSpot owner id',
  })

const enabledTrue = z.literal(true)
const when = conditionSchema.optional()

const roundRobinSchema = strictWithHint({
  enabled: enabledTrue,
  strategy: z.literal('round_robin'),
  userIds: userIdListSchema,
  when,
})

const teamSchema = strictWithHint({
  enabled: enabledTrue,
  strategy: z.literal('team'),
  teamId: text(200),
  when,
})

const hubspotOwnerSchema = strictWithHint({
  enabled: enabledTrue,
  strategy: z.literal('hubspot_owner'),
  ownerMap: ownerMapSchema,
  /** Assigned when the lead has no owner or an owner missing from `ownerMap`. */
  fallbackUserId: userIdSchema.optional(),
  when,
})

/**
 * A disabled action keeps its settings for later, so every field is optional but still
 * checked. `strategy` is not required until the action is enabled.
 */
const assignDisabledSchema = strictWithHint({
  enabled: z.literal(false),
  strategy: z.enum(assignStrategies, { error: strategyMessage() }).optional(),
  userIds: userIdListSchema.optional(),
  teamId: text(200).optional(),
  ownerMap: ownerMapSchema.optional(),
  fallbackUserId: userIdSchema.optional(),
  when,
})

function strategyMessage(): string {
  return `expected one of ${assignStrategies.join(', ')}`
}

/** The message of an action's union: a non-object input or a missing or wrong `enabled`. */
function enabledMessage(issue: { code?: string; input?: unknown }): string {
  const input = issue.input
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return 'expected an object with enabled and the action settings'
  }
  return 'expected true or false'
}

const assignSchema = z.discriminatedUnion(
  'enabled',
  [
    assignDisabledSchema,
    z.discriminatedUnion('strategy', [roundRobinSchema, teamSchema, hubspotOwnerSchema], {
      error: strategyMessage(),
    }),
  ],
  { error: enabledMessage },
)

/** Combines one action's enabled and disabled forms. A disabled action's settings are all optional. */
function toggled<Enabled extends z.ZodObject, Disabled extends z.ZodObject>(
  enabled: Enabled,
  disabled: Disabled,
) {
  return z.discriminatedUnion('enabled', [disabled, enabled], { error: enabledMessage })
}

const instructions = text(4000).optional()

const analyzeSchema = toggled(
  strictWithHint({ enabled: enabledTrue, instructions, when }),
  strictWithHint({ enabled: z.literal(false), instructions, when }),
)

const channel = z
  .string({ error: 'expected a string' })
  .regex(/^[a-z][a-z0-9_-]{0,49}$/, 'expected a channel name such as slack, email or in_app')

const recipients = z
  .array(text(320), { error: 'expected a non-empty array of strings' })
  .min(1, 'expected a non-empty array of strings')
  .max(100, 'expected at most 100 recipients')

const notifySchema = toggled(
  strictWithHint({ enabled: enabledTrue, channel, recipients, when }),
  strictWithHint({
    enabled: z.literal(false),
    channel: channel.optional(),
    recipients: recipients.optional(),
    when,
  }),
)

const sequenceId = text(200)

const sequenceSchema = toggled(
  strictWithHint({ enabled: enabledTrue, sequenceId, when }),
  strictWithHint({ enabled: z.literal(false), sequenceId: sequenceId.optional(), when }),
)

/**
 * Schema of an integration's `actions`, which the consumer runs once for every newly imported
 * lead. Every action is optional, and unknown keys are rejected so a misspelt setting is never
 * ignored.
 */
export const actionsConfigSchema = strictWithHint(
  {
    assign: assignSchema.optional(),
    analyze: analyzeSchema.optional(),
    notify: notifySchema.optional(),
    sequence: sequenceSchema.optional(),
  },
  'expected an object with assign, analyze, notify or sequence',
)

export type ActionsConfig = z.infer<typeof actionsConfigSchema>
export type AssignConfig = NonNullable<ActionsConfig['assign']>
export type EnabledAssignConfig = Extract<AssignConfig, { enabled: true }>
export type AnalyzeConfig = NonNullable<ActionsConfig['analyze']>
export type NotifyConfig = NonNullable<ActionsConfig['notify']>
export type SequenceConfig = NonNullable<ActionsConfig['sequence']>
export type ActionConfig = AssignConfig | AnalyzeConfig | NotifyConfig | SequenceConfig

/** One action's schema, so the consumer can check each action of a stored snapshot apart. */
export const actionSchemas: Record<ActionName, z.ZodType<ActionConfig>> = {
  assign: assignSchema,
  analyze: analyzeSchema,
  notify: notifySchema,
  sequence: sequenceSchema,
}

/**
 * Checks an `actions` value and returns its problems in the shape `errors.validation`
 * takes, each naming the field under `prefix` (for example `actions.assign.userIds`).
 * Returns an empty array when the value is valid.
 */
export function actionsConfigIssues(input: unknown, prefix = 'actions'): FieldIssue[] {
  const parsed = actionsConfigSchema.safeParse(input)
  if (parsed.success) return []
  return toFieldIssues(parsed.error, input, prefix)
}

/** Parses an `actions` value, or throws a VALIDATION_FAILED AppError naming each field. */
export function parseActionsConfig(input: unknown, prefix = 'actions'): ActionsConfig {
  const parsed = actionsConfigSchema.safeParse(input)
  if (parsed.success) return parsed.data
  throw errors.validation(toFieldIssues(parsed.error, input, prefix), 'actions configuration')
}

/**
 * Turns zod issues into field issues. An unknown key becomes an issue at its own path.
 * The schemas of this module state the keys allowed there, and zod's default message is
 * shortened to "unknown key".
 * The second parameter is ignored.
 */
export function toFieldIssues(error: z.ZodError, _input: unknown, prefix: string): FieldIssue[] {
  const issues: FieldIssue[] = []
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const reason = issue.message.startsWith('Unrecognized key') ? 'unknown key' : issue.message
      for (const key of issue.keys) issues.push({ field: fieldPath(prefix, [...issue.path, key]), reason })
      continue
    }
    issues.push({ field: fieldPath(prefix, issue.path), reason: issue.message })
  }
  return issues
}

function fieldPath(prefix: string, path: PropertyKey[]): string {
  let field = prefix
  for (const segment of path) {
    if (typeof segment === 'number') field += `[${segment}]`
    else field += field === '' ? String(segment) : `.${String(segment)}`
  }
  return field
}
