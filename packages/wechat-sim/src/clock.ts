/**
 * The simulator's virtual clock: real time plus an offset. `set` and `advance` move the offset,
 * and real time keeps flowing, so token lifetimes and daily quotas can be crossed in a test
 * without sleeping.
 */
export class VirtualClock {
  private offsetMs = 0

  constructor(private readonly realNow: () => number = Date.now) {}

  now(): number {
    return this.realNow() + this.offsetMs
  }

  set(epochMs: number): void {
    this.offsetMs = epochMs - this.realNow()
  }

  advance(ms: number): void {
    this.offsetMs += ms
  }

  reset(): void {
    this.offsetMs = 0
  }
}

const SHANGHAI_OFFSET_MS = 8 * 3600_000
const DAY_MS = 86_400_000

/** The Asia/Shanghai calendar day (UTC+8, no DST) as a day number: WeChat's quota day. */
export function shanghaiDay(epochMs: number): number {
  return Math.floor((epochMs + SHANGHAI_OFFSET_MS) / DAY_MS)
}

/** The Asia/Shanghai calendar month as `year * 12 + month`: the clear_quota budget period. */
export function shanghaiMonth(epochMs: number): number {
  const d = new Date(epochMs + SHANGHAI_OFFSET_MS)
  return d.getUTCFullYear() * 12 + d.getUTCMonth()
}

/** The minute bucket used for per-minute rate limits. */
export function minuteOf(epochMs: number): number {
  return Math.floor(epochMs / 60_000)
}
