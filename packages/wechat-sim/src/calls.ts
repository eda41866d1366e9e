import type { SimCallCounts, SimCallLogEntry } from './types.js'

/** The call log keeps the newest entries only, so long benchmarks stay bounded in memory. */
const MAX_LOG_ENTRIES = 50_000

/** Per-endpoint call counts and a call log of WeChat API calls (admin calls are not recorded). */
export class Calls {
  private countsByEndpoint = new Map<string, number>()
  private entries: SimCallLogEntry[] = []

  count(endpoint: string): void {
    this.countsByEndpoint.set(endpoint, (this.countsByEndpoint.get(endpoint) ?? 0) + 1)
  }

  log(entry: SimCallLogEntry): void {
    this.entries.push(entry)
    if (this.entries.length > MAX_LOG_ENTRIES) this.entries.splice(0, MAX_LOG_ENTRIES / 10)
  }

  counts(): SimCallCounts {
    return Object.fromEntries(this.countsByEndpoint)
  }

  logEntries(): SimCallLogEntry[] {
    return [...this.entries]
  }

  clear(): void {
    this.countsByEndpoint = new Map()
    this.entries = []
  }
}
