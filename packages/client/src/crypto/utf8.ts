import { DecryptError } from '../errors.js'

// Fatal: Buffer#toString would turn bad bytes into U+FFFD, and a bit-flipped ciphertext would
// come back as a damaged message instead of an error. WeChat only ever encrypts valid UTF-8.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Decrypted bytes as text, or DecryptError('invalid_plaintext') if they are not valid UTF-8. */
export function decryptedText(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes)
  } catch {
    throw new DecryptError('invalid_plaintext', `${what} is not valid UTF-8 (wrong key?)`)
  }
}
