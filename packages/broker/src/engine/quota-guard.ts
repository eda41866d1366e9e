import { DailyCounter } from './daily-counter.js'
import { storeKeys } from './store/keys.js'
import type { Store } from './store/types.js'
import type { Clock, EngineEvents, QuotaLimit } from './types.js'

/** Thrown before an upstream call that would exceed the app's daily quota (or its share of it). */
export class QuotaExhaustedError extends Error {
  override readonly name = 'QuotaExhaustedError'
  constructor(
    readonly appid: string,
    readonly api: string,
    readonly resetAt: number,
    /** daily_quota: nothing may call; scheduled_reserve: only scheduled refreshes may. */
    readonly limit: Extract<QuotaLimit, 'daily_quota' | 'scheduled_reserve'>
  ) {
    super(
      limit === 'daily_quota'
        ? `daily quota of ${api} for ${appid} is used up until the next Asia/Shanghai midnight`
        : `the share of ${appid}'s daily ${api} quota open to reports and admin refreshes is used up; the rest is kept for scheduled refreshes`
    )
  }
}

/**
 * Who an upstream call is for. Scheduled refreshes, cold starts and recoveries keep the token
 * alive and may use the whole quota; reports and admin refreshes stop `scheduledReserve` short of
 * it, so no client can spend what the next scheduled refresh needs.
 */
export type QuotaPurpose = 'scheduled' | 'on_demand'

/**
 * Counts every upstream call of one app to one API per Asia/Shanghai day, in the shared store, and
 * refuses the call that would go past the limit.
 */
export class QuotaGuard {
  private readonly counter: DailyCounter

  constructor(
    store: Store,
    clock: Clock,
    private readonly appid: string,
    readonly api: string,
    readonly limit: number,
    private readonly warnRatio: number,
    readonly scheduledReserve: number,
    private readonly emit: (e: EngineEvents['quota']) => void
  ) {
    this.counter = new DailyCounter(store, clock, (at) => storeKeys.quota(appid, api, at))
  }

  /** Counts one upstream call, or throws QuotaExhaustedError without counting it. */
  async reserve(purpose: QuotaPurpose): Promise<void> {
    const used = await this.counter.read()
    const ceiling = purpose === 'scheduled' ? this.limit : this.limit - this.scheduledReserve
    if (used >= ceiling) {
      this.note(used)
      const limit = used >= this.limit ? 'daily_quota' : 'scheduled_reserve'
      throw new QuotaExhaustedError(this.appid, this.api, this.counter.resetAt(), limit)
    }
    this.note(await this.counter.increment())
  }

  /** Re-reads today's count (other replicas count too). */
  async sync(): Promise<void> {
    await this.counter.read()
  }

  /** Today's count as last read or written. */
  used(): number {
    return this.counter.cached()
  }

  /** When today's count starts again from zero (the next Asia/Shanghai midnight). */
  resetAt(): number {
    return this.counter.resetAt()
  }

  warn(): boolean {
    return this.used() >= this.limit * this.warnRatio
  }

  private note(used: number): void {
    const level = used >= this.limit ? 'exhausted' : this.warn() ? 'warn' : 'ok'
    this.emit({ appid: this.appid, api: this.api, used, limit: this.limit, level })
  }
}
