import { DecryptError } from '../errors.js'

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Strict standard base64 (Node's decoder silently skips bad characters). `field` names the input
 * in the error; the value itself is never echoed, since it may be key material.
 */
export function decodeBase64(field: string, value: unknown): Buffer {
  if (typeof value !== 'string' || value === '' || !BASE64.test(value)) {
    throw new DecryptError('invalid_base64', `${field} is not valid base64`)
  }
  return Buffer.from(value, 'base64')
}
