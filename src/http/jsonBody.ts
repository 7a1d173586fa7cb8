import { isUtf8 } from 'node:buffer'

import type { FastifyInstance, FastifyRequest } from 'fastify'

import { errors } from '../errors.js'

/**
 * Replaces Fastify's JSON body parser for every route outside a plugin that sets its own
 * (the webhook receiver reads raw bytes). The body must be UTF-8 (RFC 8259 section 8.1),
 * must not contain `__proto__` keys or `constructor.prototype`, which merge helpers can turn
 * into prototype pollution, and must not contain U+0000, which PostgreSQL text and jsonb
 * reject. Each rejection is a 400 VALIDATION_FAILED naming the field.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJsonBody)
}

type Done = (error: Error | null, body?: unknown) => void

function parseJsonBody(_request: FastifyRequest, body: string | Buffer, done: Done): void {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
  if (bytes.length === 0) return done(bodyError('body', 'expected a JSON document, got an empty body'))
  if (!isUtf8(bytes)) return done(bodyError('body', 'contains bytes that are not valid UTF-8'))

  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    return done(bodyError('body', `invalid JSON: ${(error as Error).message}`))
  }
  const problem = findUnsafeValue(value)
  if (problem) return done(bodyError(problem.field, problem.reason))
  done(null, value)
}

function bodyError(field: string, reason: string): Error {
  return errors.validation([{ field, reason }])
}

interface Node {
  value: unknown
  key: string
  parent: Node | null
}

/**
 * Walks the parsed body without recursion, so 10,000 levels of nesting cost no stack, and
 * returns the first forbidden key or NUL character with its dotted path.
 */
export function findUnsafeValue(root: unknown): { field: string; reason: string } | null {
  const stack: Node[] = [{ value: root, key: '', parent: null }]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    const { value } = node
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return { field: pathOf(node), reason: 'contains a NUL character (\\u0000)' }
      continue
    }
    if (value === null || typeof value !== 'object') continue

    for (const [key, child] of Object.entries(value)) {
      const childNode = { value: child, key, parent: node }
      const reason = forbiddenKeyReason(key, child)
      if (reason) return { field: pathOf(childNode), reason }
      stack.push(childNode)
    }
  }
  return null
}

function forbiddenKeyReason(key: string, value: unknown): string | null {
  if (key.includes('\u0000')) return 'key contains a NUL character (\\u0000)'
  if (key === '__proto__') return 'the key __proto__ is not allowed'
  const hasPrototype = typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype')
  if (key === 'constructor' && hasPrototype) return 'the key constructor.prototype is not allowed'
  return null
}

function pathOf(node: Node): string {
  const keys: string[] = []
  for (let current: Node | null = node; current?.parent; current = current.parent) keys.push(current.key)
  return keys.reverse().join('.') || 'body'
}
