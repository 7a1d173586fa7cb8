import { pino, type Logger } from 'pino'

/**
 * Paths pino removes from every line. Tokens, secrets, signatures and contact payloads
 * never reach the log, whatever a caller passes.
 */
export const redactPaths = [
  'accessToken',
  'refreshToken',
  'token',
  'secret',
  'clientSecret',
  'password',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-hubspot-signature"]',
  'req.headers["x-hubspot-signature-v3"]',
  'credentials',
  'properties',
  'email',
  'body',
  '*.accessToken',
  '*.refreshToken',
  '*.properties',
  '*.email',
]

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'hubspot-sync' },
  }
  return destination ? pino(options, destination) : pino(options)
}

export type { Logger }
