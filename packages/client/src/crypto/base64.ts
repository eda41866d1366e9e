import { DecryptError } from '../errors.js'

// One character class and a length check, not a repeated group: V8 keeps a backtrack entry per
// repetition of a group, and a few megabytes of base64 overflowed its stack (a RangeError).
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Strict standard base64 (Node's decoder silently skips bad characters). `field` names the input
 * in the error; the value itself is never echoed, since it may be key material.
 */
export function decodeBase64(field: string, value: unknown): Buffer {
  if (
    typeof value !== 'string' ||
    value === '' ||
    value.length % 4 !== 0 ||
    !BASE64_CHARS.test(value)
  ) {
    throw new DecryptError('invalid_base64', `${field} is not valid base64`)
  }
  return Buffer.from(value, 'base64')
}
