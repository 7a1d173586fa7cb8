// Reads asyncapi.yaml and reduces JSON Schemas to the parts the drift test compares, so a
// hand-written schema with $ref and allOf and a generated one with anyOf compare equal when
// they describe the same fields.
import { readFileSync } from 'node:fs'

import { parse } from 'yaml'

export type JsonSchema = Record<string, unknown>

export interface AsyncApiDocument {
  asyncapi: string
  channels: Record<string, { address: string; messages: Record<string, JsonSchema> }>
  operations: Record<string, { action: string; channel: JsonSchema; messages: JsonSchema[] }>
  components: { schemas: Record<string, JsonSchema>; messages: Record<string, JsonSchema> }
}

/** The compared parts of a schema: types, formats, allowed values, and fields, recursively. */
export interface SchemaShape {
  types: string[]
  formats: string[]
  values?: unknown[]
  properties?: Record<string, SchemaShape>
  required?: string[]
  items?: SchemaShape
  closed?: boolean
}

export const asyncApiPath = new URL('../../asyncapi.yaml', import.meta.url)

export function loadAsyncApi(): AsyncApiDocument {
  return parse(readFileSync(asyncApiPath, 'utf8')) as AsyncApiDocument
}

/** Follows a local `$ref` (`#/a/b`) until it reaches a value without one. */
export function resolveRef(document: unknown, value: JsonSchema): JsonSchema {
  let current = value
  for (let hops = 0; typeof current.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error(`$ref chain too long at ${current.$ref}`)
    current = lookupPointer(document, current.$ref)
  }
  return current
}

function lookupPointer(document: unknown, ref: string): JsonSchema {
  if (!ref.startsWith('#/')) throw new Error(`only local $ref values are supported, got ${ref}`)
  let node = document as Record<string, unknown> | undefined
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')] as Record<string, unknown> | undefined
  }
  if (node === undefined) throw new Error(`$ref ${ref} not found in the document`)
  return node
}

/** Reduces a schema to its shape: allOf merged, anyOf and oneOf united, `$ref` followed. */
export function shapeOf(document: unknown, schema: JsonSchema): SchemaShape {
  const shape: SchemaShape = { types: [], formats: [] }
  addToShape(document, schema, shape)
  return sortShape(shape)
}

function addToShape(document: unknown, raw: JsonSchema, shape: SchemaShape): void {
  const schema = resolveRef(document, raw)
  for (const part of (schema.allOf ?? []) as JsonSchema[]) addToShape(document, part, shape)
  for (const part of (schema.anyOf ?? schema.oneOf ?? []) as JsonSchema[]) addToShape(document, part, shape)

  const types = schema.type === undefined ? [] : [schema.type].flat()
  shape.types.push(...(types as string[]))
  if (typeof schema.format === 'string') shape.formats.push(schema.format)
  if ('const' in schema) shape.values = [...(shape.values ?? []), schema.const]
  if (Array.isArray(schema.enum)) shape.values = [...(shape.values ?? []), ...schema.enum]
  if (schema.additionalProperties === false) shape.closed = true
  if (Array.isArray(schema.required)) shape.required = [...(shape.required ?? []), ...schema.required]

  for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    shape.properties ??= {}
    shape.properties[name] ??= { types: [], formats: [] }
    addToShape(document, property, shape.properties[name])
  }
  if (schema.items !== undefined) {
    shape.items ??= { types: [], formats: [] }
    addToShape(document, schema.items as JsonSchema, shape.items)
  }
}

function sortShape(shape: SchemaShape): SchemaShape {
  const sorted: SchemaShape = {
    types: [...new Set(shape.types)].sort(),
    formats: [...new Set(shape.formats)].sort(),
  }
  if (shape.values) sorted.values = [...new Set(shape.values)].sort()
  if (shape.required) sorted.required = [...new Set(shape.required)].sort()
  if (shape.closed) sorted.closed = true
  if (shape.items) sorted.items = sortShape(shape.items)
  if (shape.properties) {
    sorted.properties = {}
    for (const name of Object.keys(shape.properties).sort()) {
      sorted.properties[name] = sortShape(shape.properties[name])
    }
  }
  return sorted
}

/** Returns the one message of the channel whose address is `subject`, or null. */
export function messageForSubject(document: AsyncApiDocument, subject: string): JsonSchema | null {
  const channel = Object.values(document.channels).find((entry) => entry.address === subject)
  if (!channel) return null
  const messages = Object.values(channel.messages)
  return messages.length === 1 ? resolveRef(document, messages[0]) : null
}

/** Returns the `data` schema of a message payload, wherever in its allOf it is declared. */
export function dataSchemaOf(document: AsyncApiDocument, message: JsonSchema): SchemaShape {
  const payload = shapeOf(document, message.payload as JsonSchema)
  const data = payload.properties?.data
  if (!data) throw new Error(`message ${String(message.name)} has no data property`)
  return data
}
