import { shanghaiDay, shanghaiMonth } from '../clock.js'
import { WxError } from '../errors.js'
import type { AppConfig } from './apps.js'

interface QuotaRule {
  /** Calls allowed per Asia/Shanghai day. */
  dailyLimit: (app: AppConfig) => number
  /** Paths sharing one counter name it here (scheme + URL link share a daily cap). */
  counter?: string
  /** The errcode once the day's quota is spent. */
  errcode: number
}

/**
 * The daily quotas the simulator counts and enforces, by cgi_path. Token APIs use the app's
 * `dailyTokenQuota`; the rest use WeChat's documented per-app daily caps.
 */
const RULES: Record<string, QuotaRule> = {
  '/cgi-bin/token': { dailyLimit: (a) => a.dailyTokenQuota, errcode: 45009 },
  '/cgi-bin/stable_token': { dailyLimit: (a) => a.dailyTokenQuota, errcode: 45009 },
  '/cgi-bin/message/subscribe/send': { dailyLimit: () => 10_000_000, errcode: 45009 },
  '/wxa/msg_sec_check': { dailyLimit: () => 2_000_000, errcode: 45009 },
  '/wxa/generatescheme': { dailyLimit: () => 500_000, counter: 'scheme+urllink', errcode: 44993 },
  '/wxa/generate_urllink': { dailyLimit: () => 500_000, counter: 'scheme+urllink', errcode: 44993 },
  '/wxa/genwxashortlink': { dailyLimit: () => 10_000_000, errcode: 45009 },
}

/** clear_quota and clear_quota/v2 (and WeChat's console button) share 10 clears a month. */
const CLEARS_PER_MONTH = 10

export interface QuotaUsage {
  daily_limit: number
  used: number
  remain: number
}

/** Daily per-app API counters on the Asia/Shanghai calendar day, plus the monthly clear budget. */
export class Quotas {
  private readonly used = new Map<string, number>()
  private readonly clears = new Map<string, number>()

  private key(appid: string, path: string, now: number): string {
    const rule = RULES[path]
    return `${appid}|${rule?.counter ?? path}|${shanghaiDay(now)}`
  }

  /** Counts one call to `path`, or throws the path's quota errcode when the day's quota is spent. */
  consume(app: AppConfig, path: string, now: number): void {
    const rule = RULES[path]
    if (!rule) return
    const key = this.key(app.appid, path, now)
    const used = this.used.get(key) ?? 0
    if (used >= rule.dailyLimit(app)) throw new WxError(rule.errcode)
    this.used.set(key, used + 1)
  }

  /** `openapi/quota/get`: 76003 without a leading slash, 76022 for /sns paths, 76021 unknown. */
  usage(app: AppConfig, path: string, now: number): QuotaUsage {
    if (!path.startsWith('/')) throw new WxError(76003)
    if (path.includes('/sns/')) throw new WxError(76022)
    const rule = RULES[path]
    if (!rule) throw new WxError(76021)
    const dailyLimit = rule.dailyLimit(app)
    const used = this.used.get(this.key(app.appid, path, now)) ?? 0
    return { daily_limit: dailyLimit, used, remain: Math.max(0, dailyLimit - used) }
  }

  /** Resets all of the app's daily counters, spending one of the month's 10 clears (48006 after). */
  clear(appid: string, now: number): void {
    const monthKey = `${appid}|${shanghaiMonth(now)}`
    const spent = this.clears.get(monthKey) ?? 0
    if (spent >= CLEARS_PER_MONTH) throw new WxError(48006)
    this.clears.set(monthKey, spent + 1)
    for (const key of [...this.used.keys()]) if (key.startsWith(`${appid}|`)) this.used.delete(key)
  }

  reset(): void {
    this.used.clear()
    this.clears.clear()
  }
}
