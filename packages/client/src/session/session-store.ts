import { systemClock, type Clock } from '../clock.js'

/** What stays server-side for one Mini Program session. */
export interface SessionRecord {
  openid: string
  unionid?: string
  session_key: string
  /** When the session was created, in epoch milliseconds. */
  createdAt: number
}

/**
 * Where SessionManager keeps records. Keys are derived from session ids (never the ids
 * themselves); implementations must expire a record after `ttlMs`.
 */
export interface SessionStore {
  get(key: string): Promise<SessionRecord | undefined>
  set(key: string, record: SessionRecord, ttlMs: number): Promise<void>
  delete(key: string): Promise<void>
}

export interface MemorySessionStoreOptions {
  /** Defaults to `Date.now`; inject one to test expiry without waiting. */
  clock?: Clock
}

/** In-process store for one instance (sessions do not survive a restart or cross replicas). */
export class MemorySessionStore implements SessionStore {
  readonly #entries = new Map<string, { record: SessionRecord; expiresAt: number }>()
  readonly #clock: Clock
  #nextSweep = 0

  constructor(options: MemorySessionStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock
  }

  get(key: string): Promise<SessionRecord | undefined> {
    const entry = this.#entries.get(key)
    if (entry === undefined) return Promise.resolve(undefined)
    if (this.#clock() >= entry.expiresAt) {
      this.#entries.delete(key)
      return Promise.resolve(undefined)
    }
    return Promise.resolve({ ...entry.record })
  }

  set(key: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.#sweep()
    this.#entries.set(key, { record: { ...record }, expiresAt: this.#clock() + ttlMs })
    return Promise.resolve()
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key)
    return Promise.resolve()
  }

  /** How many live sessions are held. */
  get size(): number {
    this.#sweep(true)
    return this.#entries.size
  }

  // Drops expired entries so abandoned sessions do not pile up; at most once a minute on writes,
  // so a login does not walk every session.
  #sweep(force = false): void {
    const now = this.#clock()
    if (!force && now < this.#nextSweep) return
    this.#nextSweep = now + 60_000
    for (const [key, entry] of this.#entries) {
      if (now >= entry.expiresAt) this.#entries.delete(key)
    }
  }
}
