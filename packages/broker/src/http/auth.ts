import { hash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { ClientConfig } from '../config/load.js'
import type { Scope } from '../config/schema.js'
import type { BrokerEnv } from './env.js'
import { ApiError } from './errors.js'

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
    const digest = hash('sha256', key, 'buffer')
    let found: ClientConfig | undefined
    for (const client of this.clients) {
      if (digestMatches(digest, client.keyHash) && found === undefined) found = client
    }
    if (found) this.known.set(key, found)
    return found
  }
}

/** 401 unless a known bearer key is presented; 403 unless its client holds `scope`. */
export function requireScope(auth: Authenticator, scope: Scope): MiddlewareHandler<BrokerEnv> {
  return async (c, next) => {
    const key = bearerToken(c.req.header('authorization'))
    if (key === undefined) {
      throw new ApiError(
        401,
        'unauthorized',
        'missing bearer key; send Authorization: Bearer <client key>'
      )
    }
    const client = auth.identify(key)
    if (!client) throw new ApiError(401, 'unauthorized', 'unknown client key')
    c.set('client', client)
    if (!client.scopes.has(scope)) {
      throw new ApiError(403, 'forbidden', `this key does not have the ${scope} scope`)
    }
    await next()
  }
}

export function clientMayUseApp(client: ClientConfig, appid: string): boolean {
  return client.apps === null || client.apps.has(appid)
}

/** 403 unless the authenticated client may use this appid (checked before the app's existence). */
export function assertAppAllowed(client: ClientConfig | undefined, appid: string): ClientConfig {
  if (!client || !clientMayUseApp(client, appid)) {
    throw new ApiError(403, 'forbidden', 'this key is not allowed to use this app')
  }
  return client
}
