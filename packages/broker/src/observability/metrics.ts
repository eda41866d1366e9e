import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client'
import type { Registry } from 'prom-client'
import type { AppStatus, EngineEvents, Readiness, TokenEngine } from '../engine/types.js'
import {
  HotCounter,
  HotHistogram,
  type CounterSeries,
  type HistogramSeries,
} from './hot-metrics.js'

// Every series of design §7 plus the ones the alert rules use. Counters and histograms follow
// engine events and HTTP traffic; gauges are read from engine.status()/readiness() at scrape time
// (both are synchronous and in memory, so a scrape never waits on Redis or WeChat).

/** What one scrape reads of the engine: status() and readiness(), once. */
interface Snapshot {
  at: number
  apps: AppStatus[]
  readiness: Readiness
}

/**
 * The engine's state for the scrape in progress. A registry collects its metrics in one
 * synchronous pass (metrics() and getMetricsAsJSON() call every metric's collect() before they
 * first wait), so the first collect() of a scrape, whichever gauge it belongs to, takes the
 * snapshot and the rest of the pass reuses it; it is dropped when the pass ends, and the next
 * scrape reads the engine again. No gauge depends on another having been collected first.
 */
function scrapeSnapshot(engine: TokenEngine, now: () => number): () => Snapshot {
  let current: Snapshot | undefined
  return () => {
    if (!current) {
      current = { at: now(), apps: engine.status(), readiness: engine.readiness() }
      queueMicrotask(() => (current = undefined))
    }
    return current
  }
}

/** The label sets of the per-app gauges. */
const APP_LABELS = {
  app: { names: ['appid', 'kind'], of: (s: AppStatus) => ({ appid: s.appid, kind: s.kind }) },
  api: { names: ['appid', 'api'], of: (s: AppStatus) => ({ appid: s.appid, api: s.quota.api }) },
  appid: { names: ['appid'], of: (s: AppStatus) => ({ appid: s.appid }) },
} as const

/** A gauge with one series per app, or none for an app whose `value` is null. */
interface AppGauge {
  name: string
  help: string
  labels: keyof typeof APP_LABELS
  value(s: AppStatus, at: number): number | null
}

// In exposition order.
const APP_GAUGES: readonly AppGauge[] = [
  {
    name: 'wxbroker_token_expires_in_seconds',
    help: 'Seconds until WeChat itself expires the current token (not the served expires_in)',
    labels: 'app',
    value: (s, at) =>
      s.wechatExpiresAt === null ? null : Math.max(0, Math.round((s.wechatExpiresAt - at) / 1000)),
  },
  {
    name: 'wxbroker_token_generation',
    help: 'Generation of the current token',
    labels: 'app',
    value: (s) => s.generation,
  },
  {
    name: 'wxbroker_token_refresh_lead_seconds',
    help: 'Configured refresh lead: the token is replaced this long before expiry',
    labels: 'app',
    value: (s) => s.refreshLeadSeconds,
  },
  {
    name: 'wxbroker_quota_used',
    help: 'Upstream token calls counted today (Asia/Shanghai)',
    labels: 'api',
    value: (s) => s.quota.used,
  },
  {
    name: 'wxbroker_quota_limit',
    help: 'Configured daily limit of upstream token calls',
    labels: 'api',
    value: (s) => s.quota.limit,
  },
  {
    name: 'wxbroker_quota_warn_ratio',
    help: 'Share of the daily quota at which the broker warns',
    labels: 'appid',
    value: (s) => s.quota.warnRatio,
  },
  {
    name: 'wxbroker_quota_wechat_used',
    help: 'Daily calls as reported by WeChat (openapi/quota/get), when reconciled',
    labels: 'api',
    value: (s) => s.quota.wechat?.used ?? null,
  },
  {
    name: 'wxbroker_quota_wechat_limit',
    help: 'Daily limit as reported by WeChat, when reconciled',
    labels: 'api',
    value: (s) => s.quota.wechat?.limit ?? null,
  },
  {
    name: 'wxbroker_quota_scheduled_reserve',
    help: 'Calls of the daily quota kept for scheduled refreshes (reports and admin refreshes stop short of them)',
    labels: 'api',
    value: (s) => s.quota.scheduledReserve,
  },
  {
    name: 'wxbroker_report_refreshes_used',
    help: 'Report-driven refreshes today (Asia/Shanghai), all clients',
    labels: 'appid',
    value: (s) => s.quota.reports.used,
  },
  {
    name: 'wxbroker_report_refreshes_limit',
    help: 'Daily bound on report-driven refreshes of the app',
    labels: 'appid',
    value: (s) => s.quota.reports.limit,
  },
  {
    name: 'wxbroker_secret_rejected',
    help: "1 when WeChat refused this replica's secret (or its IP) at start or at its last refresh",
    labels: 'appid',
    value: (s) => (s.secret === 'rejected' ? 1 : 0),
  },
  {
    name: 'wxbroker_app_failing',
    help: '1 while refreshes for the app are failing',
    labels: 'app',
    value: (s) => (s.state === 'failing' ? 1 : 0),
  },
  {
    name: 'wxbroker_last_wechat_errcode',
    help: 'errcode of the last WeChat error for the app (0 when none)',
    labels: 'app',
    value: (s) => s.lastError?.errcode ?? 0,
  },
]

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const UPSTREAM_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface HttpSeries {
  count: CounterSeries
  latency: HistogramSeries
}

export interface BrokerMetrics {
  /** The request-path series of one route template, method and status (callers keep them). */
  httpSeries(route: string, method: string, status: number): HttpSeries
  countClientRequest(client: string, appid: string, scope: string): void
  /** Stops following engine events. */
  detach(): void
}

export interface MetricsOptions {
  registry: Registry
  engine: TokenEngine
  now?: () => number
  defaultMetrics?: boolean
}

export function createMetrics(opts: MetricsOptions): BrokerMetrics {
  const { registry: reg, engine } = opts
  const now = opts.now ?? Date.now
  const registers = [reg]
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: reg })
  const snapshot = scrapeSnapshot(engine, now)

  new Gauge({
    name: 'wxbroker_apps_configured',
    help: 'Number of configured apps',
    registers,
    collect() {
      this.set(snapshot().apps.length)
    },
  })

  const refreshTotal = new Counter({
    name: 'wxbroker_token_refresh_total',
    help: 'Upstream token refresh attempts by reason and result',
    labelNames: ['appid', 'kind', 'reason', 'result'],
    registers,
  })
  const refreshDuration = new Histogram({
    name: 'wxbroker_token_refresh_duration_seconds',
    help: 'Duration of token refresh attempts (lock, upstream call, store write)',
    buckets: UPSTREAM_BUCKETS,
    registers,
  })
  const wechatRequests = new Counter({
    name: 'wxbroker_wechat_requests_total',
    help: "Requests to WeChat by endpoint and errcode ('0' success; http_<status>, network, timeout)",
    labelNames: ['endpoint', 'errcode'],
    registers,
  })
  const wechatDuration = new Histogram({
    name: 'wxbroker_wechat_request_duration_seconds',
    help: 'Duration of requests to WeChat',
    labelNames: ['endpoint'],
    buckets: UPSTREAM_BUCKETS,
    registers,
  })
  const invalidations = new Counter({
    name: 'wxbroker_invalidations_total',
    help: 'Reports of failed tokens by outcome (refreshed, stale_report, cooldown, limited)',
    labelNames: ['appid', 'result'],
    registers,
  })
  const foreignRefreshes = new Counter({
    name: 'wxbroker_foreign_refresh_total',
    help: 'Refreshes by someone else that the broker detected (WeChat counted token calls it did not make, or refused the current token)',
    labelNames: ['appid', 'evidence'],
    registers,
  })
  const reportRefreshes = new Counter({
    name: 'wxbroker_report_refreshes_total',
    help: 'Report-driven refreshes by reporting client',
    labelNames: ['appid', 'client'],
    registers,
  })
  const lockAcquire = new Counter({
    name: 'wxbroker_lock_acquire_total',
    help: 'Refresh lock acquisition attempts by result',
    labelNames: ['result'],
    registers,
  })
  // The per-request series: see hot-metrics.ts for why they bypass prom-client's inc()/observe().
  const httpRequests = new HotCounter({
    name: 'wxbroker_http_requests_total',
    help: 'HTTP requests by route template, method and status',
    labelNames: ['route', 'method', 'status'],
    registers,
  })
  const httpDuration = new HotHistogram({
    name: 'wxbroker_http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['route'],
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const clientRequests = new HotCounter({
    name: 'wxbroker_client_requests_total',
    help: 'Authorized requests by client, appid and scope',
    labelNames: ['client', 'appid', 'scope'],
    registers,
  })

  // Scrape-time gauges, each filled from the scrape's one snapshot (see scrapeSnapshot).
  for (const g of APP_GAUGES) {
    const labels = APP_LABELS[g.labels]
    new Gauge({
      name: g.name,
      help: g.help,
      labelNames: labels.names,
      registers,
      collect() {
        this.reset()
        const { at, apps } = snapshot()
        for (const s of apps) {
          const value = g.value(s, at)
          if (value !== null) this.set(labels.of(s), value)
        }
      },
    })
  }
  new Gauge({
    name: 'wxbroker_store_up',
    help: '1 when the token store is reachable',
    registers,
    collect() {
      this.set(snapshot().readiness.storeUp ? 1 : 0)
    },
  })
  // The same list /readyz reports in `degraded`, from the same readiness() at scrape time, so the
  // probe and the metric cannot disagree; a reason that clears drops its series.
  new Gauge({
    name: 'wxbroker_degraded',
    help: '1 per active degradation; reason as in the degraded list of /readyz (e.g. store_unreachable, app_failing:<appid>)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      for (const d of snapshot().readiness.degradations) this.set({ reason: d.reason }, 1)
    },
  })

  const onRefresh = (e: EngineEvents['refresh']): void => {
    refreshTotal.inc({ appid: e.appid, kind: e.kind, reason: e.reason, result: e.result })
    refreshDuration.observe(e.durationSeconds)
  }
  const onWechat = (e: EngineEvents['wechatRequest']): void => {
    wechatRequests.inc({ endpoint: e.endpoint, errcode: e.errcode })
    wechatDuration.observe({ endpoint: e.endpoint }, e.durationSeconds)
  }
  const onInvalidation = (e: EngineEvents['invalidation']): void => {
    invalidations.inc({ appid: e.appid, result: e.result })
    if (e.result === 'refreshed') {
      reportRefreshes.inc({ appid: e.appid, client: e.client ?? 'unknown' })
    }
  }
  const onForeign = (e: EngineEvents['foreignRefresh']): void => {
    foreignRefreshes.inc({ appid: e.appid, evidence: e.evidence })
  }
  const onLock = (e: EngineEvents['lockAcquire']): void => {
    lockAcquire.inc({ result: e.result })
  }
  engine.on('refresh', onRefresh)
  engine.on('wechatRequest', onWechat)
  engine.on('invalidation', onInvalidation)
  engine.on('lockAcquire', onLock)
  engine.on('foreignRefresh', onForeign)

  return {
    httpSeries(route, method, status) {
      return {
        count: httpRequests.series(`${route} ${method} ${status}`, () => ({
          route,
          method,
          status: String(status),
        })),
        latency: httpDuration.series(route, () => ({ route })),
      }
    },
    countClientRequest(client, appid, scope) {
      clientRequests.series(`${client} ${appid} ${scope}`, () => ({ client, appid, scope })).inc()
    },
    detach() {
      engine.off('refresh', onRefresh)
      engine.off('wechatRequest', onWechat)
      engine.off('invalidation', onInvalidation)
      engine.off('lockAcquire', onLock)
      engine.off('foreignRefresh', onForeign)
    },
  }
}
