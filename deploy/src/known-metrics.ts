import { Registry, collectDefaultMetrics } from 'prom-client'

// The one source of "metrics the broker exports" for the dashboard and rule checks. Today it is the
// broker's metrics contract (design §7 and the deploy brief) plus prom-client's default process
// metrics, read from a real registry. Once the broker runs, swap this for a scrape of its /metrics
// (parse the `# TYPE name type` lines): callers only see the map.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

const BROKER_METRICS: Record<string, MetricType> = {
  wxbroker_token_refresh_total: 'counter',
  wxbroker_token_refresh_duration_seconds: 'histogram',
  wxbroker_token_expires_in_seconds: 'gauge',
  wxbroker_token_generation: 'gauge',
  wxbroker_token_refresh_lead_seconds: 'gauge',
  wxbroker_quota_used: 'gauge',
  wxbroker_quota_limit: 'gauge',
  wxbroker_quota_warn_ratio: 'gauge',
  wxbroker_quota_wechat_used: 'gauge',
  wxbroker_quota_wechat_limit: 'gauge',
  wxbroker_app_failing: 'gauge',
  wxbroker_last_wechat_errcode: 'gauge',
  wxbroker_wechat_requests_total: 'counter',
  wxbroker_wechat_request_duration_seconds: 'histogram',
  wxbroker_invalidations_total: 'counter',
  wxbroker_lock_acquire_total: 'counter',
  wxbroker_store_up: 'gauge',
  wxbroker_http_requests_total: 'counter',
  wxbroker_http_request_duration_seconds: 'histogram',
  wxbroker_client_requests_total: 'counter',
}

/** Series Prometheus itself adds to every scrape target. */
export const SCRAPE_SERIES: ReadonlySet<string> = new Set([
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
])

async function defaultProcessMetrics(): Promise<Record<string, MetricType>> {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const metrics = await registry.getMetricsAsJSON()
  return Object.fromEntries(metrics.map((m) => [m.name, String(m.type) as MetricType]))
}

/** Every metric family the broker exports, by name, with its type. */
export async function knownMetrics(): Promise<ReadonlyMap<string, MetricType>> {
  return new Map(Object.entries({ ...(await defaultProcessMetrics()), ...BROKER_METRICS }))
}
