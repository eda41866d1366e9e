import { shanghaiDay } from '../clock.js'

// Every key the engine keeps in the store, relative to the store's prefix (`store.keyPrefix`), in
// one place: docs/engine.md lists them for operators. The token record, its lock and the
// announcement channel are the store's own (RedisStore names them `token:`, `lock:`, `announce`).

/** Per-day counters carry the Asia/Shanghai day; they expire after two days. */
export const DAILY_COUNTER_TTL_MS = 2 * 86_400_000

export const storeKeys = {
  /** Upstream token calls of one app to one token API today. */
  quota: (appid: string, api: string, at: number) => `quota:${appid}:${api}:${shanghaiDay(at)}`,
  /** When the last report-driven or admin refresh of a slot ran (the cooldown). */
  cooldown: (slot: string) => `cooldown:${slot}`,
  /** Stable-token force_refresh calls today, and when the last one ran. */
  forceCount: (appid: string, at: number) => `force:${appid}:${shanghaiDay(at)}`,
  forceLast: (appid: string) => `force-last:${appid}`,
  /** Report-driven refreshes today: of an app, and of one client for an app. */
  reportCount: (appid: string, at: number) => `reports:${appid}:${shanghaiDay(at)}`,
  clientReportCount: (appid: string, client: string, at: number) =>
    `reports:${appid}:${shanghaiDay(at)}:client:${client}`,
  /** WeChat's own quota figure from the last reconciliation. */
  wechatQuota: (appid: string, api: string) => `wechat-quota:${appid}:${api}`,
  /** A refresh that is about to ask WeChat for a token that retires the current one. */
  intent: (slot: string) => `intent:${slot}`,
  /** The last refresh outcome of a slot (any replica's), so every replica reports the same. */
  health: (slot: string) => `health:${slot}`,
  /** The foreign-refresh check: who checks this interval, and the counts it last saw. */
  foreignCheckLease: (slot: string) => `foreign-check:${slot}`,
  foreignBaseline: (slot: string) => `foreign-baseline:${slot}`,
} as const
