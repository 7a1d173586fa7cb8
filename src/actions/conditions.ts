import { z } from 'zod'

import { mappedFieldNames, type MappedFieldName } from '../db/leads.js'

/**
 * A strict object whose unknown-key issue lists the keys allowed there, so a misspelt
 * setting is reported with the spelling expected.
 */
export function strictWithHint<Shape extends z.ZodRawShape>(shape: Shape, typeMessage?: string) {
  const allowed = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown key; expected ${allowed}`
      return typeMessage
    },
  })
}

/** Lead fields a condition can name, as the lead events spell them. */
export const conditionFields = mappedFieldNames

export type ConditionField = MappedFieldName

const propertyFieldPattern = /^properties\.[A-Za-z0-9_]{1,100}$/
const fieldMessage =
  `expected one of ${conditionFields.join(', ')} or properties.<HubSpot property name>`

const fieldSchema = z.string({ error: fieldMessage }).refine(
  (value) => (conditionFields as readonly string[]).includes(value) || propertyFieldPattern.test(value),
  { error: fieldMessage },
)

const valueSchema = z.string({ error: 'expected a string' }).max(500, 'expected at most 500 characters')

const equalsSchema = strictWithHint({ field: fieldSchema, equals: valueSchema })

const inSchema = strictWithHint({
  field: fieldSchema,
  in: z
    .array(valueSchema, { error: 'expected a non-empty array of strings' })
    .min(1, 'expected a non-empty array of strings')
    .max(100, 'expected at most 100 values'),
})

const presentSchema = strictWithHint({
  field: fieldSchema,
  present: z.boolean({ error: 'expected true or false' }),
})

/**
 * An optional `when` on an action: the action runs only for leads that match. Exactly one
 * test per condition: `equals` a string, `in` a list of strings, or `present` (true when the
 * field has a value that is not blank, false when it has none).
 */
export const conditionSchema = z.custom<unknown>().transform((value, ctx) => {
  const tests = ['equals', 'in', 'present'].filter(
    (key) => typeof value === 'object' && value !== null && key in value,
  )
  if (tests.length !== 1 || typeof value !== 'object' || value === null) {
    ctx.issues.push({
      code: 'custom',
      input: value,
      message: 'expected {field, equals}, {field, in} or {field, present}, with exactly one test',
    })
    return z.NEVER
  }
  const schemas = { equals: equalsSchema, in: inSchema, present: presentSchema }
  const parsed = schemas[tests[0] as keyof typeof schemas].safeParse(value)
  if (parsed.success) return parsed.data as Condition
  for (const issue of parsed.error.issues) {
    // Unknown keys become one issue each, at the key's own path, so the message names it.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [null]
    for (const key of keys) {
      const path = key === null ? issue.path : [...issue.path, key]
      ctx.issues.push({ code: 'custom', message: issue.message, path, input: value })
    }
  }
  return z.NEVER
})

export type Condition =
  | z.infer<typeof equalsSchema>
  | z.infer<typeof inSchema>
  | z.infer<typeof presentSchema>

/** A lead's values as conditions see them: the mapped fields plus the synced properties. */
export interface ConditionSubject {
  fields: Record<ConditionField, string | null>
  properties: Record<string, string | null>
}

const propertyPrefix = 'properties.'

function fieldValue(subject: ConditionSubject, field: string): string | null {
  if (!field.startsWith(propertyPrefix)) return subject.fields[field as ConditionField] ?? null

  // Only the lead's own keys count, so `properties.constructor` or `properties.toString`
  // never reach the methods that every object inherits.
  const name = field.slice(propertyPrefix.length)
  const value = Object.hasOwn(subject.properties, name) ? subject.properties[name] : null
  return typeof value === 'string' ? value : null
}

/** Checks whether the lead matches the condition. An action with no condition matches every lead. */
export function matchesCondition(subject: ConditionSubject, condition: Condition | undefined): boolean {
  if (condition === undefined) return true
  const value = fieldValue(subject, condition.field)

  if ('present' in condition) {
    const present = value !== null && value.trim() !== ''
    return present === condition.present
  }
  if ('in' in condition) return value !== null && condition.in.includes(value)
  return value === condition.equals
}
