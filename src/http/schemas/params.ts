/** JSON schemas of path parameters shared by routes; Fastify coerces them to integers. */
export const idParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 } },
  required: ['id'],
} as const

export interface IdParams {
  id: number
}
