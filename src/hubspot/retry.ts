import { z } from 'zod'

/** A HubSpot HTTP response as received: status, lower-case headers and the raw body text. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  text: string
}

/** The call loop's decision for one response or network failure. */
export type Verdict =
  | { kind: 'success' }
  | { kind: 'rateLimited'; policy: string; retryAfterMs: number | null }
  | { kind: 'dailyLimit' }
  | { kind: 'transient'; reason: string; retryAfterMs: number | null; minDelayMs: number }
  | { kind: 'unauthorized'; category: string | null }
  | { kind: 'rejected' }

/** HubSpot's error body; every field is optional, as its error-handling guide warns. */
const errorBodySchema = z.looseObject({
  status: z.string().optional(),
  message: z.string().optional(),
  category: z.string().optional(),
  correlationId: z.string().optional(),
  policyName: z.string().optional(),
  error: z.string().optional(),
  error_description: z.string().optional(),
})

export type ErrorBody = z.infer<typeof errorBodySchema>

/** HubSpot's error guide requires a wait of at least 2 s before retrying after 423 Locked. */
const lockedMinDelayMs = 2000

export function parseErrorBody(text: string): ErrorBody {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data : {}
  } catch {
    return {}
  }
}

/** Decides what a response means for the call: done, wait and retry, back off, or fail. */
export function classifyResponse(response: RawResponse, nowMs: number): Verdict {
  const { status, headers } = response
  if (status >= 200 && status < 300) return { kind: 'success' }

  const retryAfterMs = parseRetryAfterMs(headers['retry-after'], nowMs)
  if (status === 429) return classifyRateLimit(parseErrorBody(response.text), retryAfterMs)
  if (status === 401) {
    return { kind: 'unauthorized', category: parseErrorBody(response.text).category ?? null }
  }
  if (status === 423) {
    return { kind: 'transient', reason: 'locked', retryAfterMs, minDelayMs: lockedMinDelayMs }
  }
  if (status >= 500) {
    return { kind: 'transient', reason: `status ${status}`, retryAfterMs, minDelayMs: 0 }
  }
  return { kind: 'rejected' }
}

function classifyRateLimit(body: ErrorBody, retryAfterMs: number | null): Verdict {
  if (body.policyName === 'DAILY') return { kind: 'dailyLimit' }
  // A 429 without a policy name is treated like the rolling limit: wait, then retry.
  return { kind: 'rateLimited', policy: body.policyName ?? 'UNKNOWN', retryAfterMs }
}

/** Codes of failures where the request may not have reached HubSpot, or its response was lost. */
const networkErrorCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'HUBSPOT_SOCKET_TIMEOUT',
])

/** Returns a reason for a retryable network failure, or null for any other error. */
export function networkFailureReason(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (networkErrorCodes.has(code) || code.startsWith('UND_ERR_'))) {
    return code === 'HUBSPOT_SOCKET_TIMEOUT' ? 'timeout' : code
  }
  const cause = (error as { cause?: unknown } | null)?.cause
  return cause === undefined || cause === error ? null : networkFailureReason(cause)
}

export interface BackoffOptions {
  baseDelayMs: number
  maxDelayMs: number
  random: () => number
}

/**
 * Full-jitter exponential backoff: a random delay between 0 and base * 2^(attempt - 1), capped,
 * so many clients retrying after one outage spread out instead of arriving together.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const ceilingMs = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1))
  return Math.floor(options.random() * ceilingMs)
}

/** Parses `Retry-After` (seconds, or an HTTP date) into milliseconds from now. */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | null {
  if (value === undefined || value.trim() === '') return null
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)

  const dateMs = Date.parse(trimmed)
  return Number.isNaN(dateMs) ? null : Math.max(0, dateMs - nowMs)
}
