import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Clock } from '../types.js'
import type { Lease, RefreshIntent, Store, TokenRecord, WriteResult } from './types.js'

interface Expiring {
  value: string
  expiresAt: number
}

/** The embedded default: one process, no Redis. The same contract as the Redis store, in memory. */
export class MemoryStore implements Store {
  readonly kind = 'memory'
  private readonly tokens = new Map<string, TokenRecord>()
  private readonly locks = new Map<string, Expiring>()
  private readonly values = new Map<string, Expiring>()
  private readonly events = new EventEmitter()

  constructor(private readonly clock: Clock) {}

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.events.removeAllListeners()
  }
  isUp(): boolean {
    return true
  }
  onUpChange(): void {}

  async readToken(slot: string): Promise<TokenRecord | null> {
    return this.tokens.get(slot) ?? null
  }

  async writeToken(slot: string, record: TokenRecord, lease: Lease): Promise<WriteResult> {
    if (this.live(this.locks, slot)?.value !== lease.value) return 'not_owner'
    if ((this.tokens.get(slot)?.generation ?? 0) >= record.generation) return 'stale'
    this.tokens.set(slot, record)
    this.events.emit('announce', slot, record)
    return 'ok'
  }

  async seedToken(slot: string, record: TokenRecord): Promise<void> {
    if ((this.tokens.get(slot)?.generation ?? 0) < record.generation) this.tokens.set(slot, record)
  }

  onAnnounce(listener: (slot: string, record: TokenRecord) => void): void {
    this.events.on('announce', listener)
  }

  async publishIntent(slot: string, intent: RefreshIntent): Promise<void> {
    this.events.emit('intent', slot, intent)
  }

  onIntent(listener: (slot: string, intent: RefreshIntent) => void): void {
    this.events.on('intent', listener)
  }

  async acquire(slot: string, ttlMs: number): Promise<Lease | null> {
    if (this.live(this.locks, slot)) return null
    const value = randomBytes(16).toString('hex')
    this.locks.set(slot, { value, expiresAt: this.clock.now() + ttlMs })
    return {
      value,
      extend: async (ttl) => {
        const held = this.live(this.locks, slot)
        if (held?.value !== value) return false
        held.expiresAt = this.clock.now() + ttl
        return true
      },
      release: async () => {
        if (this.locks.get(slot)?.value === value) this.locks.delete(slot)
      },
    }
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    const next = Number(this.live(this.values, key)?.value ?? 0) + 1
    this.values.set(key, { value: String(next), expiresAt: this.clock.now() + ttlMs })
    return next
  }

  async raise(key: string, value: number, ttlMs: number): Promise<number> {
    const current = Number(this.live(this.values, key)?.value ?? 0)
    if (current >= value) return current
    this.values.set(key, { value: String(value), expiresAt: this.clock.now() + ttlMs })
    return value
  }

  async claim(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(this.values, key)) return false
    this.values.set(key, { value, expiresAt: this.clock.now() + ttlMs })
    return true
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key)
  }

  async getNumber(key: string): Promise<number> {
    return Number(this.live(this.values, key)?.value ?? 0)
  }

  async setValue(key: string, value: string, ttlMs: number): Promise<void> {
    this.values.set(key, { value, expiresAt: this.clock.now() + ttlMs })
  }

  async getValue(key: string): Promise<string | null> {
    return this.live(this.values, key)?.value ?? null
  }

  private live(map: Map<string, Expiring>, key: string): Expiring | undefined {
    const entry = map.get(key)
    if (entry && entry.expiresAt <= this.clock.now()) {
      map.delete(key)
      return undefined
    }
    return entry
  }
}
