import type { Clock } from './types.js'

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms)
    handle.unref()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

// WeChat's daily quotas follow the Beijing calendar day. China has no daylight saving time, so
// Asia/Shanghai is a fixed UTC+8 and plain arithmetic is exact.
const SHANGHAI_OFFSET_MS = 8 * 3600_000
const DAY_MS = 86_400_000

/** The Asia/Shanghai calendar day of an instant, as YYYY-MM-DD. */
export function shanghaiDay(at: number): string {
  return new Date(at + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10)
}

/** The next Asia/Shanghai midnight after an instant. */
export function nextShanghaiMidnight(at: number): number {
  return Math.floor((at + SHANGHAI_OFFSET_MS) / DAY_MS + 1) * DAY_MS - SHANGHAI_OFFSET_MS
}
