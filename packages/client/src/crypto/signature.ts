import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { InvalidInputError } from '../errors.js'
import { isRecord } from '../http.js'

/** WeChat's push signature: sha1 of the parts sorted lexicographically and joined (lower hex). */
export function sortedSha1(...parts: string[]): string {
  // Plain code-unit order, as WeChat's reference code sorts (no locale collation).
  const sorted = [...parts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return createHash('sha1').update(sorted.join('')).digest('hex')
}

/**
 * A timestamp or nonce as it is signed: a string as given, a finite number as its digits, and
 * anything else (a missing or repeated query parameter, an object) `undefined`, never coerced.
 */
export function signedText(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/** Constant-time comparison of two hex strings. */
export function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase())
  const y = Buffer.from(b.toLowerCase())
  return x.length === y.length && timingSafeEqual(x, y)
}

export interface SignatureParams {
  /** The Token configured in the Mini Program admin console (message push). */
  token: string
  signature: string
  timestamp: string | number
  nonce: string | number
}

/**
 * Verifies `signature = sha1(sort([token, timestamp, nonce]))`: the URL-verification GET and
 * plaintext-mode pushes. (Safe mode signs with `msg_signature`; see MessageCrypto.)
 */
export function verifySignature(params: SignatureParams): boolean {
  if (!isRecord(params)) {
    throw new InvalidInputError('params', 'must be { token, signature, timestamp, nonce }')
  }
  // Without a token the hash covers only what the request itself carries, so anyone could
  // forge it: a missing Token (an unset environment variable) is refused, never "verified".
  if (typeof params.token !== 'string' || params.token === '') {
    throw new InvalidInputError('token', 'must be the message-push Token from the admin console')
  }
  const timestamp = signedText(params.timestamp)
  const nonce = signedText(params.nonce)
  if (typeof params.signature !== 'string' || params.signature === '') return false
  if (timestamp === undefined || nonce === undefined) return false
  const expected = sortedSha1(params.token, timestamp, nonce)
  return hexEqual(expected, params.signature)
}

/**
 * The user-login-state signature for checksession / resetusersessionkey: lower-hex
 * HMAC-SHA256 keyed by the session_key string as given (its characters, not base64-decoded).
 */
export function sessionKeySignature(sessionKey: string, message = ''): string {
  return createHmac('sha256', sessionKey).update(message).digest('hex')
}
