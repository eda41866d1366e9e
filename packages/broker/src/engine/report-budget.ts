import { DailyCounter } from './daily-counter.js'
import { storeKeys } from './store/keys.js'
import type { Store } from './store/types.js'
import type { Clock, QuotaLimit } from './types.js'

/**
 * Daily bounds on report-driven refreshes: one for the app, one per reporting client, so that one
 * client that reports every token it sees cannot spend the app's quota (the cooldown alone allows
 * 2880 a day, more than WeChat's 2000).
 */
export class ReportBudget {
  private readonly app: DailyCounter
  private readonly clients = new Map<string, DailyCounter>()

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly appid: string,
    readonly appLimit: number,
    readonly clientLimit: number
  ) {
    this.app = new DailyCounter(store, clock, (at) => storeKeys.reportCount(appid, at))
  }

  /** The limit a report by `client` would exceed today, or null when it may refresh. */
  async exceeded(client: string | undefined): Promise<QuotaLimit | null> {
    if ((await this.app.read()) >= this.appLimit) return 'report_daily'
    if (client !== undefined && (await this.client(client).read()) >= this.clientLimit)
      return 'client_report_daily'
    return null
  }

  /** Counts one report-driven refresh. */
  async spend(client: string | undefined): Promise<void> {
    await this.app.increment()
    if (client !== undefined) await this.client(client).increment()
  }

  async sync(): Promise<void> {
    await this.app.read()
  }

  used(): number {
    return this.app.cached()
  }

  resetAt(): number {
    return this.app.resetAt()
  }

  private client(name: string): DailyCounter {
    let counter = this.clients.get(name)
    if (!counter) {
      counter = new DailyCounter(this.store, this.clock, (at) =>
        storeKeys.clientReportCount(this.appid, name, at)
      )
      this.clients.set(name, counter)
    }
    return counter
  }
}
