import { timingSafeEqual } from 'node:crypto'
import type { ClientConfig } from '../config/load.js'
import { sha256 } from '../config/key-digest.js'

// Bearer keys are kept only as SHA-256 digests. A presented key is hashed once and compared with
// every client's digest in constant time (no early exit), so neither timing nor the error says
// which clients exist.

export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

export function digestMatches(presented: Buffer, stored: Buffer): boolean {
  return stored.length === presented.length && timingSafeEqual(presented, stored)
}

export class Authenticator {
  // Keys that matched, so that the hot path skips the hash (the largest cost of a token GET after
  // the socket). Only matches are stored, so it holds at most one entry per configured client and
  // an unknown key always takes the hashed, constant-time comparison. Whether a key is valid is no
  // secret to whoever presents it (the answer says so); the keys themselves sit in this process's
  // memory as the app secrets do, and never reach a log, metric or response.
  private readonly known = new Map<string, ClientConfig>()

  constructor(private readonly clients: readonly ClientConfig[]) {}

  /** The client owning this key, or undefined. */
  identify(key: string): ClientConfig | undefined {
    const cached = this.known.get(key)
    if (cached) return cached
    const digest = sha256(key)
    let found: ClientConfig | undefined
    for (const client of this.clients) {
      if (digestMatches(digest, client.keyHash) && found === undefined) found = client
    }
    if (found) this.known.set(key, found)
    return found
  }

  /** Whether `key` is the single key whose digest is `stored` (a key outside the client list). */
  static matches(key: string, stored: Buffer): boolean {
    return digestMatches(sha256(key), stored)
  }
}
