import { hash } from 'node:crypto'

/**
 * The one way a key is hashed (config digests, presented bearer keys, the fatal-error scrubber):
 * SHA-256 of its UTF-8 bytes. One-shot `crypto.hash`, the cheapest on the token GET's hot path.
 */
export function sha256(value: string): Buffer {
  return hash('sha256', value, 'buffer')
}

/**
 * The digest a bearer key is known by: `keySha256` as written, or the SHA-256 of `key`. One rule
 * for the loader (which keeps only digests) and the schema (which refuses two clients with one key).
 */
export function keyDigest(entry: {
  key?: string | undefined
  keySha256?: string | undefined
}): Buffer | undefined {
  if (entry.keySha256 !== undefined) return Buffer.from(entry.keySha256, 'hex')
  if (entry.key !== undefined) return sha256(entry.key)
  return undefined
}
