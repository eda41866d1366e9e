import type { SessionRecord, SessionStore } from './session-store.js'

/**
 * The few commands the store needs. An ioredis `Redis` (or `Cluster`) satisfies it; the library
 * never imports ioredis itself, so it stays an optional peer.
 */
export interface RedisLike {
  get(key: string): Promise<string | null>
  set(key: string, value: string, px: 'PX', milliseconds: number): Promise<unknown>
  del(key: string): Promise<number>
}

export interface RedisSessionStoreOptions {
  redis: RedisLike
  /** Prefix of every key. Default `wxsession:`. */
  keyPrefix?: string
}

/** Sessions in Redis, expired by Redis itself (`SET … PX`), shared by every replica. */
export class RedisSessionStore implements SessionStore {
  readonly #redis: RedisLike
  readonly #prefix: string

  constructor(options: RedisSessionStoreOptions) {
    this.#redis = options.redis
    this.#prefix = options.keyPrefix ?? 'wxsession:'
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    const raw = await this.#redis.get(this.#prefix + key)
    if (raw === null) return undefined
    try {
      return JSON.parse(raw) as SessionRecord
    } catch {
      return undefined // not written by this store: treat as no session
    }
  }

  async set(key: string, record: SessionRecord, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, JSON.stringify(record), 'PX', Math.max(1, ttlMs))
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key)
  }
}
