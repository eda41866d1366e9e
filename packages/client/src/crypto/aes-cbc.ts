import { createCipheriv, createDecipheriv } from 'node:crypto'
import { DecryptError } from '../errors.js'

/** PKCS#7 with a given block size (16 for user data, 32 for WeChat push messages). */
export function pkcs7Pad(data: Buffer, blockSize: number): Buffer {
  const pad = blockSize - (data.length % blockSize)
  return Buffer.concat([data, Buffer.alloc(pad, pad)])
}

export function pkcs7Unpad(data: Buffer, blockSize: number): Buffer {
  const pad = data.at(-1) ?? 0
  const valid =
    pad >= 1 &&
    pad <= blockSize &&
    pad <= data.length &&
    data.subarray(-pad).every((b) => b === pad)
  if (!valid) {
    throw new DecryptError('bad_padding', 'wrong key or IV, or the ciphertext was altered')
  }
  return data.subarray(0, data.length - pad)
}

function algorithm(key: Buffer): string {
  return `aes-${key.length * 8}-cbc`
}

/** AES-CBC without OpenSSL's padding (WeChat's block sizes differ), errors in our own words. */
export function aesCbcDecrypt(
  key: Buffer,
  iv: Buffer,
  ciphertext: Buffer,
  blockSize: number
): Buffer {
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new DecryptError(
      'invalid_ciphertext_length',
      `ciphertext must be a non-empty multiple of 16 bytes (got ${ciphertext.length})`
    )
  }
  const decipher = createDecipheriv(algorithm(key), key, iv).setAutoPadding(false)
  const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()])
  return pkcs7Unpad(plain, blockSize)
}

export function aesCbcEncrypt(
  key: Buffer,
  iv: Buffer,
  plaintext: Buffer,
  blockSize: number
): Buffer {
  const cipher = createCipheriv(algorithm(key), key, iv).setAutoPadding(false)
  return Buffer.concat([cipher.update(pkcs7Pad(plaintext, blockSize)), cipher.final()])
}
