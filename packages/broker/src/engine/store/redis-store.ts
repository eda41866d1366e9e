import { EventEmitter } from 'node:events'
import { Redis, type RedisOptions } from 'ioredis'
import Redlock, { ExecutionError, ResourceLockedError, type Lock } from 'redlock'
import type { Logger } from '../types.js'
import { INCR_WITH_TTL, RAISE_COUNTER, SEED_TOKEN, WRITE_TOKEN } from './redis-scripts.js'
import {
  StoreUnavailableError,
  type Lease,
  type RefreshIntent,
  type Store,
  type TokenRecord,
  type WriteResult,
} from './types.js'

export interface RedisStoreOptions {
  /** One URL, or several independent nodes: locks need a majority, records are written to all. */
  nodes: string[]
  keyPrefix: string
  logger: Logger
}

interface Announcement {
  slot: string
  record: TokenRecord
}

interface IntentAnnouncement {
  slot: string
  intent: RefreshIntent
}

function connectionOptions(): RedisOptions {
  return {
    lazyConnect: true,
    // Fail fast while disconnected: replicas keep serving from memory instead of queueing commands.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // A stop while a node accepts but does not answer (a start still connecting) waits this long
    // for it to close the connection, then cuts it (ioredis's default is 2 s per connection).
    disconnectTimeout: 200,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
  }
}

/**
 * Token records, counters and locks on one Redis or on N independent nodes (a redlock quorum).
 * With N nodes every write goes to all of them and counts when a majority accepts it; reads take
 * the highest generation any node has, so one node may be down or restarted empty.
 */
export class RedisStore implements Store {
  readonly kind = 'redis'
  private readonly clients: Redis[]
  private readonly subscribers: Redis[]
  private readonly redlock: Redlock
  private readonly quorum: number
  private readonly events = new EventEmitter()
  private readonly channel: string
  private up = false
  /** Set by close(): a start still connecting stops, and connections ending are no outage to log. */
  private closing = false
  private readonly health = new Map<Redis, NodeHealth>()

  constructor(private readonly options: RedisStoreOptions) {
    this.clients = options.nodes.map((url) => new Redis(url, connectionOptions()))
    this.subscribers = options.nodes.map((url) => new Redis(url, connectionOptions()))
    this.quorum = Math.floor(options.nodes.length / 2) + 1
    this.channel = `${options.keyPrefix}:announce`
    this.redlock = new Redlock(this.clients, { retryCount: 0, driftFactor: 0.01 })
    // Redlock reports per-node failures here; contention is expected and the rest is counted by callers.
    this.redlock.on('error', () => undefined)
    for (const client of [...this.clients, ...this.subscribers]) {
      client.on('error', () => undefined) // reconnection is automatic; state changes are tracked below
    }
    for (const client of this.clients) {
      for (const event of ['ready', 'close', 'end']) client.on(event, () => this.recomputeUp())
      this.watchNode(client)
    }
    for (const subscriber of this.subscribers) {
      subscriber.on('message', (_channel: string, message: string) => this.onMessage(message))
      // On every (re)connection, including one that succeeds only after a failed first connect.
      subscriber.on('ready', () => void subscriber.subscribe(this.channel).catch(() => undefined))
    }
  }

  async connect(): Promise<void> {
    // A node that is down now is retried in the background; the engine starts degraded meanwhile.
    await Promise.allSettled(this.clients.map((c) => c.connect()))
    // Closed meanwhile (a stop during the start): connect() would open the connections again.
    if (this.closing) return
    await Promise.allSettled(this.subscribers.map((s) => s.connect()))
    if (this.closing) return
    for (const [client, node] of this.health) {
      if (client.status === 'ready') continue
      node.down = true
      this.options.logger.warn(
        { node: node.address, code: node.lastError ?? 'unknown' },
        'Redis node unreachable at start'
      )
    }
    this.recomputeUp()
  }

  async close(): Promise<void> {
    this.closing = true
    await Promise.allSettled(
      [...this.clients, ...this.subscribers].map(async (c) => {
        if (c.status === 'ready') await c.quit()
        else c.disconnect()
      })
    )
    this.events.removeAllListeners()
  }

  isUp(): boolean {
    return this.up
  }

  onUpChange(listener: (up: boolean) => void): void {
    this.events.on('up', listener)
  }

  async readToken(slot: string): Promise<TokenRecord | null> {
    const answers = await this.onNodes((c) => c.get(this.key('token', slot)), 1)
    let best: TokenRecord | null = null
    for (const raw of answers) {
      const record = raw === null ? null : parseRecord(raw)
      if (record && (!best || record.generation > best.generation)) best = record
    }
    return best
  }

  async writeToken(slot: string, record: TokenRecord, lease: Lease): Promise<WriteResult> {
    const keys = [this.key('token', slot), this.lockKey(slot)]
    // The slot rides along in the stored JSON so that the announcement names it.
    const args = [
      JSON.stringify({ ...record, slot }),
      String(record.generation),
      lease.value,
      this.channel,
    ]
    const results = await Promise.allSettled(
      this.clients.map((c) => c.eval(WRITE_TOKEN, 2, ...keys, ...args) as Promise<string>)
    )
    const answers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    if (answers.filter((a) => a === 'ok').length >= this.quorum) return 'ok'
    if (answers.includes('stale')) return 'stale'
    if (answers.includes('not_owner')) return 'not_owner'
    throw new StoreUnavailableError(
      `token write reached ${answers.length} of ${this.clients.length} Redis nodes`
    )
  }

  async seedToken(slot: string, record: TokenRecord): Promise<void> {
    await this.onNodes(
      (c) =>
        c.eval(
          SEED_TOKEN,
          1,
          this.key('token', slot),
          JSON.stringify(record),
          String(record.generation)
        ),
      1
    )
  }

  onAnnounce(listener: (slot: string, record: TokenRecord) => void): void {
    this.events.on('announce', (a: Announcement) => listener(a.slot, a.record))
  }

  async publishIntent(slot: string, intent: RefreshIntent): Promise<void> {
    // On every node: replicas subscribe to all of them, and one may be down.
    const message = JSON.stringify({ slot, intent })
    await this.onNodes((c) => c.publish(this.channel, message), 1)
  }

  onIntent(listener: (slot: string, intent: RefreshIntent) => void): void {
    this.events.on('intent', (a: IntentAnnouncement) => listener(a.slot, a.intent))
  }

  async acquire(slot: string, ttlMs: number): Promise<Lease | null> {
    let lock: Lock
    try {
      lock = await this.redlock.acquire([this.lockKey(slot)], Math.round(ttlMs))
    } catch (error) {
      if (error instanceof ExecutionError && (await heldByAnother(error))) return null
      throw new StoreUnavailableError(
        'could not reach a quorum of Redis nodes for the refresh lock',
        { cause: error }
      )
    }
    return this.lease(lock)
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    const counts = await this.onNodes(
      (c) => c.eval(INCR_WITH_TTL, 1, this.key(key), String(pxTtl(ttlMs))) as Promise<number>,
      this.quorum
    )
    return Math.max(...counts)
  }

  async raise(key: string, value: number, ttlMs: number): Promise<number> {
    const counts = await this.onNodes(
      (c) =>
        c.eval(
          RAISE_COUNTER,
          1,
          this.key(key),
          String(Math.floor(value)),
          String(pxTtl(ttlMs))
        ) as Promise<number>,
      this.quorum
    )
    return Math.max(...counts)
  }

  async claim(key: string, value: string, ttlMs: number): Promise<boolean> {
    const answers = await this.onNodes(
      (c) => c.set(this.key(key), value, 'PX', pxTtl(ttlMs), 'NX'),
      this.quorum
    )
    return answers.filter((a) => a === 'OK').length >= this.quorum
  }

  async delete(key: string): Promise<void> {
    await this.onNodes((c) => c.del(this.key(key)), this.quorum)
  }

  async getNumber(key: string): Promise<number> {
    const values = await this.onNodes((c) => c.get(this.key(key)), 1)
    return Math.max(0, ...values.map((v) => Number(v ?? 0)))
  }

  async setValue(key: string, value: string, ttlMs: number): Promise<void> {
    await this.onNodes((c) => c.set(this.key(key), value, 'PX', pxTtl(ttlMs)), this.quorum)
  }

  async getValue(key: string): Promise<string | null> {
    const values = await this.onNodes((c) => c.get(this.key(key)), 1)
    return values.find((v) => v !== null) ?? null
  }

  private lease(initial: Lock): Lease {
    let lock = initial
    return {
      value: initial.value,
      extend: async (ttlMs) => {
        try {
          lock = await lock.extend(Math.round(ttlMs))
          return true
        } catch {
          return false
        }
      },
      release: async () => {
        if (lock.expiration < Date.now()) return
        // retryCount 0: releasing a lock that expired would otherwise retry for seconds.
        await this.redlock.release(lock, { retryCount: 0 }).catch(() => undefined)
      },
    }
  }

  /** Runs a command on every node; needs `atLeast` answers, else the store counts as unavailable. */
  private async onNodes<T>(command: (client: Redis) => Promise<T>, atLeast: number): Promise<T[]> {
    const results = await Promise.allSettled(this.clients.map(command))
    const answers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    if (answers.length < atLeast) {
      const failure = results.find((r) => r.status === 'rejected')
      throw new StoreUnavailableError(
        `${answers.length} of ${this.clients.length} Redis nodes answered`,
        {
          cause: failure?.status === 'rejected' ? failure.reason : undefined,
        }
      )
    }
    return answers
  }

  private onMessage(message: string): void {
    const record = parseRecord(message)
    const parsed = parseJson(message) as { slot?: unknown; intent?: Partial<RefreshIntent> } | null
    const slot = parsed?.slot
    if (typeof slot !== 'string') return
    if (record) {
      this.events.emit('announce', { slot, record } satisfies Announcement)
      return
    }
    const intent = parsed?.intent
    if (intent && typeof intent.at === 'number' && typeof intent.generation === 'number') {
      this.events.emit('intent', {
        slot,
        intent: {
          at: intent.at,
          generation: intent.generation,
          by: String(intent.by ?? ''),
          ...(intent.withdrawn === true ? { withdrawn: true } : {}),
          ...(typeof intent.retiresBy === 'number' ? { retiresBy: intent.retiresBy } : {}),
        },
      } satisfies IntentAnnouncement)
    }
  }

  /**
   * Logs each node's reachability by its address, never its URL (which may hold a password): a
   * node that drops is reported at its first failed reconnection, with that error's code.
   */
  private watchNode(client: Redis): void {
    const node: NodeHealth = {
      address: nodeAddress(client),
      up: false,
      down: false,
      dropped: false,
    }
    this.health.set(client, node)
    const { logger } = this.options
    client.on('error', (error: NodeJS.ErrnoException) => {
      node.lastError = error.code ?? error.name
      if (!node.dropped || this.closing) return
      node.dropped = false
      node.down = true
      logger.warn({ node: node.address, code: node.lastError }, 'Redis node connection lost')
    })
    client.on('close', () => {
      // Failed connection attempts close too; only a connection that was up can drop.
      if (node.up && !this.closing) node.dropped = true
      node.up = false
    })
    client.on('ready', () => {
      node.up = true
      node.dropped = false
      if (!node.down) return
      node.down = false
      logger.info({ node: node.address }, 'Redis node reachable again')
    })
  }

  private recomputeUp(): void {
    if (this.closing) return
    const ready = this.clients.filter((c) => c.status === 'ready').length
    const up = ready >= this.quorum
    if (up === this.up) return
    this.up = up
    this.options.logger[up ? 'info' : 'warn'](
      { ready, nodes: this.clients.length },
      up ? 'store reachable' : 'store unreachable'
    )
    this.events.emit('up', up)
  }

  private key(...parts: string[]): string {
    return [this.options.keyPrefix, ...parts].join(':')
  }

  private lockKey(slot: string): string {
    return this.key('lock', slot)
  }
}

interface NodeHealth {
  /** host:port/db: what the logs name a node by. */
  address: string
  /** Its connection is ready. */
  up: boolean
  /** Reported unreachable, not yet back. */
  down: boolean
  /** Its connection closed while it was up; reported with the next connection error. */
  dropped: boolean
  /** The last connection error's code (ECONNREFUSED, ETIMEDOUT, ...). */
  lastError?: string
}

function nodeAddress(client: Redis): string {
  const { host, port, path, db } = client.options
  const where = path ?? (host?.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)
  return `${where}/${db ?? 0}`
}

/** Redlock reports contention as a quorum failure; the per-node votes tell it from an outage. */
async function heldByAnother(error: ExecutionError): Promise<boolean> {
  const stats = await Promise.all(error.attempts)
  return stats.some((s) =>
    [...s.votesAgainst.values()].some((e) => e instanceof ResourceLockedError)
  )
}

/** Redis refuses PX 0: a zero or sub-millisecond TTL (a disabled cooldown) becomes 1 ms. */
function pxTtl(ttlMs: number): number {
  return Math.max(1, Math.round(ttlMs))
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return null
  }
}

function parseRecord(raw: string): TokenRecord | null {
  try {
    const r = JSON.parse(raw) as Partial<TokenRecord>
    const valid =
      typeof r.token === 'string' &&
      typeof r.generation === 'number' &&
      typeof r.obtainedAt === 'number' &&
      typeof r.wechatExpiresAt === 'number'
    return valid
      ? {
          token: r.token!,
          generation: r.generation!,
          obtainedAt: r.obtainedAt!,
          wechatExpiresAt: r.wechatExpiresAt!,
          fetchedBy: String(r.fetchedBy ?? ''),
        }
      : null
  } catch {
    return null
  }
}
