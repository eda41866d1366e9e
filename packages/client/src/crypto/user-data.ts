import { DecryptError, InvalidInputError } from '../errors.js'
import { isRecord } from '../http.js'
import { aesCbcDecrypt } from './aes-cbc.js'
import { decodeBase64 } from './base64.js'
import { decryptedText } from './utf8.js'

export interface DecryptUserDataOptions {
  /** Your appid: the plaintext's `watermark.appid` must equal it. */
  appid: string
}

/** The watermark WeChat puts in every encrypted user-data payload. */
export interface Watermark {
  appid: string
  timestamp: number
}

/**
 * Decrypts `encryptedData` from the Mini Program front end (AES-128-CBC, key = session_key,
 * PKCS#7) and checks `watermark.appid`. Throws DecryptError with a reason on any failure.
 */
export function decryptUserData<T extends object = Record<string, unknown>>(
  sessionKey: string,
  encryptedData: string,
  iv: string,
  options: DecryptUserDataOptions
): T & { watermark: Watermark } {
  const appid = options?.appid
  if (typeof appid !== 'string' || appid === '') {
    throw new InvalidInputError('options.appid', 'give your appid so the watermark can be checked')
  }
  const key = decodeBase64('sessionKey', sessionKey)
  if (key.length !== 16) {
    throw new DecryptError(
      'invalid_key_length',
      `sessionKey must decode to 16 bytes (got ${key.length})`
    )
  }
  const ivBytes = decodeBase64('iv', iv)
  if (ivBytes.length !== 16) {
    throw new DecryptError(
      'invalid_iv_length',
      `iv must decode to 16 bytes (got ${ivBytes.length})`
    )
  }
  const plain = aesCbcDecrypt(key, ivBytes, decodeBase64('encryptedData', encryptedData), 16)
  const text = decryptedText(plain, 'the decrypted data')
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new DecryptError(
      'invalid_plaintext',
      'the decrypted data is not JSON (wrong session_key?)'
    )
  }
  if (!isRecord(data)) {
    throw new DecryptError('invalid_plaintext', 'the decrypted data is not a JSON object')
  }
  const watermark = (data as { watermark?: { appid?: unknown } }).watermark
  if (typeof watermark?.appid !== 'string') {
    throw new DecryptError('missing_watermark', 'the decrypted data has no watermark.appid')
  }
  if (watermark.appid !== appid) {
    throw new DecryptError('appid_mismatch', 'watermark.appid is not this appid')
  }
  return data as T & { watermark: Watermark }
}
