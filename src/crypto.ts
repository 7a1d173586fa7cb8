import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual, createHash } from 'node:crypto'

import { AppError, ErrorCode } from './errors.js'

const version = 1
const ivLength = 12
const tagLength = 16

/** Reads ENCRYPTION_KEY: 32 bytes given as 64 hex digits or as base64. */
export function parseEncryptionKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64')
  if (key.length !== 32) {
    throw new AppError(ErrorCode.CONFIG_INVALID, 'ENCRYPTION_KEY must be 32 bytes (64 hex digits or base64)')
  }
  return key
}

/**
 * Seals a JSON document with AES-256-GCM. Layout: version byte, 12-byte IV, 16-byte tag,
 * ciphertext. `associatedData` binds the sealed value to its row, so credentials copied to
 * another integration fail to open.
 */
export function seal(key: Buffer, value: unknown, associatedData: string): Buffer {
  const iv = randomBytes(ivLength)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(associatedData, 'utf8'))
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()])
  return Buffer.concat([Buffer.from([version]), iv, cipher.getAuthTag(), ciphertext])
}

export function open<T>(key: Buffer, sealed: Buffer, associatedData: string): T {
  if (sealed.length < 1 + ivLength + tagLength || sealed[0] !== version) {
    throw new AppError(ErrorCode.CRYPTO_FAILED, 'Sealed credentials have an unknown format')
  }
  const iv = sealed.subarray(1, 1 + ivLength)
  const tag = sealed.subarray(1 + ivLength, 1 + ivLength + tagLength)
  const ciphertext = sealed.subarray(1 + ivLength + tagLength)
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAAD(Buffer.from(associatedData, 'utf8'))
    decipher.setAuthTag(tag)
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()])
    return JSON.parse(plaintext.toString('utf8')) as T
  } catch (error) {
    throw new AppError(
      ErrorCode.CRYPTO_FAILED,
      'Decrypting credentials failed; ENCRYPTION_KEY differs from the key they were sealed with',
      { cause: error },
    )
  }
}

/** Compares two secrets in constant time, whatever their lengths. */
export function safeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest()
  const right = createHash('sha256').update(b, 'utf8').digest()
  return timingSafeEqual(left, right)
}
