import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client'
import type { Registry } from 'prom-client'
import type { AppConfig, EngineEvents, TokenEngine, TokenKind } from '../engine/types.js'
import {
  HotCounter,
  HotHistogram,
  type CounterSeries,
  type HistogramSeries,
} from './hot-metrics.js'

// Every series of design §7 plus the ones the alert rules use. Counters and histograms follow
// engine events and HTTP traffic; gauges are read from engine.status()/readiness() at scrape time
// (both are synchronous and in memory, so a scrape never waits on Redis or WeChat).

export const TOKEN_API_PATH: Record<TokenKind, string> = {
  classic: '/cgi-bin/token',
  stable: '/cgi-bin/stable_token',
}

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
  apps: readonly AppConfig[]
  now?: () => number
  defaultMetrics?: boolean
}

export function createMetrics(opts: MetricsOptions): BrokerMetrics {
  const { registry: reg, engine, apps } = opts
  const now = opts.now ?? Date.now
  const registers = [reg]
  const warnRatio = new Map(apps.map((a) => [a.appid, a.quotaWarnRatio]))
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: reg })

  // Registered before the gauges it fills: prom-client reads metrics in registration order, so
  // this collect() must run first to refresh the per-app gauges from one status() call.
  new Gauge({
    name: 'wxbroker_apps_configured',
    help: 'Number of configured apps',
    registers,
    collect() {
      const at = now()
      const all = [
        expiresIn,
        generation,
        refreshLead,
        quotaUsed,
        quotaLimit,
        quotaWechatUsed,
        quotaWechatLimit,
        appFailing,
        lastErrcode,
        quotaWarnRatio,
        quotaReserve,
        reportsUsed,
        reportsLimit,
        secretRejected,
      ]
      for (const g of all) g.reset()
      const statuses = engine.status()
      this.set(statuses.length)
      for (const s of statuses) {
        const app = { appid: s.appid, kind: s.kind }
        const api = { appid: s.appid, api: TOKEN_API_PATH[s.kind] }
        if (s.wechatExpiresAt !== null) {
          expiresIn.set(app, Math.max(0, Math.round((s.wechatExpiresAt - at) / 1000)))
        }
        if (s.generation !== null) generation.set(app, s.generation)
        refreshLead.set(app, s.refreshLeadSeconds)
        quotaUsed.set(api, s.quota.used)
        quotaLimit.set(api, s.quota.limit)
        if (s.quota.wechat) {
          quotaWechatUsed.set(api, s.quota.wechat.used)
          quotaWechatLimit.set(api, s.quota.wechat.limit)
        }
        quotaWarnRatio.set({ appid: s.appid }, warnRatio.get(s.appid) ?? 0.8)
        quotaReserve.set(api, s.quota.scheduledReserve)
        reportsUsed.set({ appid: s.appid }, s.quota.reports.used)
        reportsLimit.set({ appid: s.appid }, s.quota.reports.limit)
        secretRejected.set({ appid: s.appid }, s.secret === 'rejected' ? 1 : 0)
        appFailing.set(app, s.state === 'failing' ? 1 : 0)
        lastErrcode.set(app, s.lastError?.errcode ?? 0)
      }
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

  // Scrape-time gauges. One collect() reads status() once and fills the app gauges together.
  const gauge = (name: string, help: string, labelNames: string[]): Gauge =>
    new Gauge({ name, help, labelNames, registers })
  const expiresIn = gauge(
    'wxbroker_token_expires_in_seconds',
    'Seconds until WeChat itself expires the current token (not the served expires_in)',
    ['appid', 'kind']
  )
  const generation = gauge('wxbroker_token_generation', 'Generation of the current token', [
    'appid',
    'kind',
  ])
  const refreshLead = gauge(
    'wxbroker_token_refresh_lead_seconds',
    'Configured refresh lead: the token is replaced this long before expiry',
    ['appid', 'kind']
  )
  const quotaUsed = gauge(
    'wxbroker_quota_used',
    'Upstream token calls counted today (Asia/Shanghai)',
    ['appid', 'api']
  )
  const quotaLimit = gauge(
    'wxbroker_quota_limit',
    'Configured daily limit of upstream token calls',
    ['appid', 'api']
  )
  const quotaWarnRatio = gauge(
    'wxbroker_quota_warn_ratio',
    'Share of the daily quota at which the broker warns',
    ['appid']
  )
  const quotaWechatUsed = gauge(
    'wxbroker_quota_wechat_used',
    'Daily calls as reported by WeChat (openapi/quota/get), when reconciled',
    ['appid', 'api']
  )
  const quotaWechatLimit = gauge(
    'wxbroker_quota_wechat_limit',
    'Daily limit as reported by WeChat, when reconciled',
    ['appid', 'api']
  )
  const quotaReserve = gauge(
    'wxbroker_quota_scheduled_reserve',
    'Calls of the daily quota kept for scheduled refreshes (reports and admin refreshes stop short of them)',
    ['appid', 'api']
  )
  const reportsUsed = gauge(
    'wxbroker_report_refreshes_used',
    'Report-driven refreshes today (Asia/Shanghai), all clients',
    ['appid']
  )
  const reportsLimit = gauge(
    'wxbroker_report_refreshes_limit',
    'Daily bound on report-driven refreshes of the app',
    ['appid']
  )
  const secretRejected = gauge(
    'wxbroker_secret_rejected',
    "1 when WeChat refused this replica's secret (or its IP) at start or at its last refresh",
    ['appid']
  )
  const appFailing = gauge('wxbroker_app_failing', '1 while refreshes for the app are failing', [
    'appid',
    'kind',
  ])
  const lastErrcode = gauge(
    'wxbroker_last_wechat_errcode',
    'errcode of the last WeChat error for the app (0 when none)',
    ['appid', 'kind']
  )
  const storeUp = new Gauge({
    name: 'wxbroker_store_up',
    help: '1 when the token store is reachable',
    registers,
    collect() {
      this.set(engine.readiness().storeUp ? 1 : 0)
    },
  })
  void storeUp
  // The same list /readyz reports in `degraded`, from the same readiness() call at scrape time, so
  // the probe and the metric cannot disagree; a reason that clears drops its series.
  const degraded = new Gauge({
    name: 'wxbroker_degraded',
    help: '1 per active degradation; reason as in the degraded list of /readyz (e.g. store_unreachable, app_failing:<appid>)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset()
      for (const d of engine.readiness().degradations) this.set({ reason: d.reason }, 1)
    },
  })
  void degraded

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
