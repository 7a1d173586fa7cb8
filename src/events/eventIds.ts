import { createHash } from 'node:crypto'

// Fixed namespace for the service's name-based (version 5) event ids. Changing it would give
// every repeated effect a new id, and JetStream would no longer drop the republished copy.
const namespace = Buffer.from('6f1d3c2a8b4e4f0d9a7c5e3b1f2d4a6c', 'hex')

/**
 * Derives an RFC 9562 version 5 UUID from the parts that name one effect, so the same
 * effect always gets the same CloudEvents id and Nats-Msg-Id.
 */
export function deterministicEventId(...parts: (string | number)[]): string {
  const name = parts.map((part) => String(part)).join('\u001f')
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest()
  const bytes = hash.subarray(0, 16)
  bytes[6] = (bytes[6] & 0x0f) | 0x50
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
