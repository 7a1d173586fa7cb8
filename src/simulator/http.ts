import type { IncomingMessage, ServerResponse } from 'node:http'
import { SimulatorError } from './simulatorError.js'

/** HubSpot rejects request bodies over this size; search documents 3,000 characters. */
export const maxBodyBytes = 1_000_000

export interface RouteContext {
  request: IncomingMessage
  url: URL
  params: string[]
  rawBody: string
  correlationId: string
  /** Parses the body as JSON; throws HubSpot's 400 for invalid JSON. */
  json(): unknown
  /** Parses the body as a form (OAuth token endpoint). */
  form(): URLSearchParams
}

export interface RouteResult {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

export type RouteKind = 'hubspot' | 'oauth' | 'control'

export interface Route {
  method: string
  pattern: RegExp
  /** Name used in request counts, e.g. `GET /crm/v3/objects/contacts/{id}`. */
  endpoint: string
  kind: RouteKind
  isSearch?: boolean
  handle(context: RouteContext): RouteResult | Promise<RouteResult>
}

export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBodyBytes) chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

export function parseJson(rawBody: string): unknown {
  if (rawBody.trim() === '') return {}
  try {
    return JSON.parse(rawBody)
  } catch (error) {
    const position = /position (\d+)/.exec(String(error))?.[1] ?? '1'
    throw new SimulatorError(400, {
      status: 'error',
      message: `Invalid input JSON on line 1, column ${Number(position) + 1}: Unexpected character`,
      category: 'VALIDATION_ERROR',
    })
  }
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string>,
): void {
  if (body === undefined) {
    response.writeHead(status, headers)
    response.end()
    return
  }
  const payload = typeof body === 'string' ? body : JSON.stringify(body)
  const contentType = typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json;charset=utf-8'
  response.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) })
  response.end(payload)
}

/** Parses a path id: digits only, as HubSpot's record ids are. */
export function parseNumericId(value: string): number | null {
  return /^\d{1,16}$/.test(value) ? Number(value) : null
}

/** Reads a boolean query parameter the way HubSpot does ("true" only). */
export function booleanParam(url: URL, name: string): boolean {
  return url.searchParams.get(name) === 'true'
}

/** Reads a CSV list parameter that may also be repeated (`properties=a,b&properties=c`). */
export function listParam(url: URL, name: string): string[] {
  return url.searchParams
    .getAll(name)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean)
}
