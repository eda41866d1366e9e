import { nextShanghaiMidnight, shanghaiDay } from './clock.js'
import { DAILY_COUNTER_TTL_MS } from './store/keys.js'
import type { Store } from './store/types.js'
import type { Clock } from './types.js'

/**
 * A count per Asia/Shanghai calendar day, kept in the shared store so every replica counts into
 * the same number (WeChat's daily quotas follow the Beijing day). `key(at)` names the day's
 * counter. The last figure read or written is remembered for synchronous status reads.
 */
export class DailyCounter {
  private lastValue = 0
  private lastDay = ''

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly key: (at: number) => string
  ) {}

  /**
   * Today's count, read from the store, never below what this replica already knew of today: a
   * store that lost the counter (its nodes restarted empty, one after another) gets it back, as
   * token records are seeded back, so the count never runs behind WeChat's.
   */
  async read(): Promise<number> {
    const now = this.clock.now()
    const stored = await this.store.getNumber(this.key(now))
    const known = this.lastDay === shanghaiDay(now) ? this.lastValue : 0
    if (stored >= known) return this.remember(now, stored)
    return this.remember(now, await this.store.raise(this.key(now), known, DAILY_COUNTER_TTL_MS))
  }

  /**
   * Counts one more today; returns the new count. The guards read() first (to decide), which also
   * puts a lost count back, so the increment lands on top of it.
   */
  async increment(): Promise<number> {
    const now = this.clock.now()
    return this.remember(now, await this.store.incr(this.key(now), DAILY_COUNTER_TTL_MS))
  }

  /** Sets today's count to at least `value` (never lowers it); returns the count. */
  async raiseTo(value: number): Promise<number> {
    const now = this.clock.now()
    return this.remember(now, await this.store.raise(this.key(now), value, DAILY_COUNTER_TTL_MS))
  }

  /** The last known count, 0 once the day it was read on is over. */
  cached(): number {
    return this.lastDay === shanghaiDay(this.clock.now()) ? this.lastValue : 0
  }

  /** When today's count starts again from zero. */
  resetAt(): number {
    return nextShanghaiMidnight(this.clock.now())
  }

  private remember(now: number, value: number): number {
    this.lastValue = value
    this.lastDay = shanghaiDay(now)
    return value
  }
}
