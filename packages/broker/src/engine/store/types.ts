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

  /** Takes the slot's refresh lock, or returns null when another holder has it. */
  acquire(slot: string, ttlMs: number): Promise<Lease | null>

  incr(key: string, ttlMs: number): Promise<number>
  getNumber(key: string): Promise<number>
  setValue(key: string, value: string, ttlMs: number): Promise<void>
  getValue(key: string): Promise<string | null>
}
