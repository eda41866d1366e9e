/** A token as kept in the store: one record per appid and token kind. */
export interface TokenRecord {
  token: string
  /** Increases by one with every token obtained from WeChat; fences late writes. */
  generation: number
  obtainedAt: number
  wechatExpiresAt: number
  /** The replica that fetched it. */
  fetchedBy: string
}

/** A refresh about to ask WeChat for a token that retires the current one (refresh-intent.ts). */
export interface RefreshIntent {
  /** When the refresh's first request was about to be sent. */
  at: number
  /** The generation the refresh meant to replace; a newer record resolves the intent. */
  generation: number
  /** The replica that made it. */
  by: string
  /** Set when WeChat answered with an error: no token was issued, the intent is void. */
  withdrawn?: boolean
  /**
   * An earlier instant at which the refresher already knows WeChat retires the current token (a
   * refresh by someone else it detected): every replica caps at it, not at `at + overlap`.
   */
  retiresBy?: number
}

/** A held refresh lock. */
export interface Lease {
  /** The random value that identifies this holder; fenced writes check it. */
  readonly value: string
  /** Extends the lease; false when it was lost (expired, or taken by someone else). */
  extend(ttlMs: number): Promise<boolean>
  /** Releases the lease; failure is harmless (it expires anyway) and is swallowed. */
  release(): Promise<void>
}

export type WriteResult = 'ok' | 'stale' | 'not_owner'

/** Thrown when the store cannot be reached (or not enough quorum nodes answer). */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError'
}

/**
 * Where replicas share token records, locks, counters and announcements. `slot` names an appid and
 * token kind (`wx...:stable`). Keys passed to counters and markers are relative to the store's prefix.
 */
export interface Store {
  readonly kind: 'memory' | 'redis'
  connect(): Promise<void>
  close(): Promise<void>
  isUp(): boolean
  onUpChange(listener: (up: boolean) => void): void

  readToken(slot: string): Promise<TokenRecord | null>
  /** Writes only a newer generation, and only while `lease` still holds the slot's lock. */
  writeToken(slot: string, record: TokenRecord, lease: Lease): Promise<WriteResult>
  /** Writes back a known-good record after the store lost it (restart); only if the store has none or older. */
  seedToken(slot: string, record: TokenRecord): Promise<void>
  /** Called for every new generation any replica writes. */
  onAnnounce(listener: (slot: string, record: TokenRecord) => void): void
  /** Tells every replica (and this one) of a refresh intent, on the announcement channel. */
  publishIntent(slot: string, intent: RefreshIntent): Promise<void>
  onIntent(listener: (slot: string, intent: RefreshIntent) => void): void

  /** Takes the slot's refresh lock, or returns null when another holder has it. */
  acquire(slot: string, ttlMs: number): Promise<Lease | null>

  incr(key: string, ttlMs: number): Promise<number>
  /** Sets a counter to `value` unless it already holds more; returns what it holds after. */
  raise(key: string, value: number, ttlMs: number): Promise<number>
  delete(key: string): Promise<void>
  /** Sets `key` only if it is absent (SET NX); true when this call set it. */
  claim(key: string, value: string, ttlMs: number): Promise<boolean>
  getNumber(key: string): Promise<number>
  setValue(key: string, value: string, ttlMs: number): Promise<void>
  getValue(key: string): Promise<string | null>
}
