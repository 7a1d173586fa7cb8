/**
 * Largest id a route accepts. Ids are bigint columns read as JavaScript numbers, and a
 * larger value would fail in PostgreSQL (beyond 2^63) or lose precision (beyond 2^53).
 */
export const maxIdValue = Number.MAX_SAFE_INTEGER

/** JSON schemas of path parameters shared by routes; Fastify coerces them to integers. */
export const idParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1, maximum: maxIdValue } },
  required: ['id'],
} as const

export interface IdParams {
  id: number
}
