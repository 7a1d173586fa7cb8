import { readFileSync } from 'node:fs'

import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'

import { openapiPath } from '../../src/http/openapiDocument.js'

type Json = Record<string, unknown>

/** openapi.yaml, parsed. */
export const openapi = parse(readFileSync(openapiPath, 'utf8')) as Json & { paths: Record<string, Json> }

const ajv = new Ajv2020({ strict: false, allErrors: true })
;(addFormats as unknown as (ajv: Ajv2020) => void)(ajv)
ajv.addSchema(openapi, 'openapi')

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1')
}

/** Follows a `$ref` to `#/components/...` inside the document. */
function resolve(node: Json): { node: Json; pointer: string | null } {
  const ref = node.$ref
  if (typeof ref !== 'string') return { node, pointer: null }
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((current, key) => (current as Json)[key.replace(/~1/g, '/').replace(/~0/g, '~')], openapi)
  return { node: target as Json, pointer: ref.slice(1) }
}

/**
 * Returns the validation errors of a response body against the schema openapi.yaml gives
 * for that path, method, status and content type; null when it matches. Throws when the
 * document has no such response, so an undocumented status fails the test.
 */
export function responseErrors(
  path: string,
  method: string,
  status: number,
  body: unknown,
  contentType = 'application/json',
): string | null {
  const operation = openapi.paths[path]?.[method.toLowerCase()] as Json | undefined
  if (!operation) throw new Error(`openapi.yaml has no ${method} ${path}`)
  const responses = operation.responses as Record<string, Json>
  const response = responses[String(status)]
  if (!response) throw new Error(`openapi.yaml has no ${status} response for ${method} ${path}`)

  const resolved = resolve(response)
  const base = resolved.pointer ?? `/paths/${escapePointer(path)}/${method.toLowerCase()}/responses/${status}`
  const content = resolved.node.content as Record<string, unknown> | undefined
  if (!content?.[contentType]) throw new Error(`openapi.yaml has no ${contentType} body for ${status} ${method} ${path}`)

  const validate = ajv.getSchema(`openapi#${base}/content/${escapePointer(contentType)}/schema`)
  if (!validate) throw new Error(`schema for ${status} ${method} ${path} did not compile`)
  if (validate(body)) return null
  return ajv.errorsText(validate.errors, { dataVar: 'body' })
}

const methods = ['get', 'post', 'patch', 'put', 'delete']

/** Lists every response openapi.yaml documents, as `METHOD path status`. */
export function documentedResponses(): string[] {
  const responses: string[] = []
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const method of methods.filter((key) => item[key])) {
      const statuses = Object.keys((item[method] as Json).responses as Json)
      for (const status of statuses) responses.push(`${method.toUpperCase()} ${path} ${status}`)
    }
  }
  return responses
}

export interface Parameter {
  name: string
  in: string
  required?: boolean
  /** The parameter's schema with a top-level `$ref` followed. */
  schema: Json
}

/** Returns the parameters of an operation, those declared on its path included, `$ref`s followed. */
export function operationParameters(path: string, method: string): Parameter[] {
  const item = openapi.paths[path] ?? {}
  const operation = (item[method.toLowerCase()] ?? {}) as Json
  const declared = [...((item.parameters as Json[]) ?? []), ...((operation.parameters as Json[]) ?? [])]
  return declared.map((entry) => {
    const parameter = resolve(entry).node as unknown as Parameter
    return { ...parameter, schema: resolve(parameter.schema).node }
  })
}

/** Converts a Fastify route path (`/leads/:id`) to the OpenAPI form (`/leads/{id}`). */
export function toOpenapiPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}')
}
