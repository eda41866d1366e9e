import { nextShanghaiMidnight, shanghaiDay } from './clock.js'
import type { Store } from './store/types.js'
import type { Clock, EngineEvents } from './types.js'

/** Thrown before an upstream call that would exceed the app's daily quota. */
export class QuotaExhaustedError extends Error {
  override readonly name = 'QuotaExhaustedError'
  constructor(
    readonly appid: string,
    readonly api: string,
    readonly resetAt: number
  ) {
    super(`daily quota of ${api} for ${appid} is used up until the next Asia/Shanghai midnight`)
  }
}

const COUNTER_TTL_MS = 2 * 86_400_000

/**
 * Counts every upstream call of one app to one API per Asia/Shanghai day, in the shared store, and
 * refuses the call that would go past the limit.
 */
export class QuotaGuard {
  private usedToday = 0
  private day = ''

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly appid: string,
    readonly api: string,
    readonly limit: number,
    private readonly warnRatio: number,
    private readonly emit: (e: EngineEvents['quota']) => void
  ) {}

  /** Counts one upstream call, or throws QuotaExhaustedError without counting it. */
  async reserve(): Promise<void> {
    const now = this.clock.now()
    const key = this.key(now)
    if ((await this.store.getNumber(key)) >= this.limit) {
      this.note(now, this.limit)
      throw new QuotaExhaustedError(this.appid, this.api, nextShanghaiMidnight(now))
    }
    this.note(now, await this.store.incr(key, COUNTER_TTL_MS))
  }

  /** Re-reads today's count (other replicas count too). */
  async sync(): Promise<void> {
    const now = this.clock.now()
    this.usedToday = await this.store.getNumber(this.key(now))
    this.day = shanghaiDay(now)
  }

  used(): number {
    return this.day === shanghaiDay(this.clock.now()) ? this.usedToday : 0
  }

  exhausted(): boolean {
    return this.used() >= this.limit
  }

  warn(): boolean {
    return this.used() >= this.limit * this.warnRatio
  }

  private note(now: number, used: number): void {
    this.usedToday = used
    this.day = shanghaiDay(now)
    const level = used >= this.limit ? 'exhausted' : this.warn() ? 'warn' : 'ok'
    this.emit({ appid: this.appid, api: this.api, used, limit: this.limit, level })
  }

  private key(now: number): string {
    return `quota:${this.appid}:${this.api}:${shanghaiDay(now)}`
  }
}
