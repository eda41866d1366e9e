import { Counter } from 'prom-client'
import type { Registry } from 'prom-client'
import {
  HotCounter,
  HotHistogram,
  type CounterSeries,
  type HistogramSeries,
} from './hot-metrics.js'

// The gateway's series (design §10). Labels are bounded: configured client names (or "unknown"
// for a call made with a real token, which is the app's, not a client's), endpoints as the
// allow-list names them (never a raw path), and errcodes. Requests go through the hot series
// (see hot-metrics.ts); the rare events through prom-client.

/** Proxied calls span WeChat's answer too: buckets up to 10 s. */
const GATEWAY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** The client label of a call whose client the gateway cannot know. */
export const UNKNOWN_CLIENT = 'unknown'

export type RefetchAction = 'checked' | 'refreshed' | 'refused'

export interface GatewayMetrics {
  /** The series of one client, endpoint and errcode (callers keep them). */
  series(
    client: string,
    endpoint: string,
    errcode: string
  ): { count: CounterSeries; latency: HistogramSeries }
  /** A caller sent a real AppSecret (labelled with the app it belongs to). */
  appSecretRefused(appid: string): void
  /** What the refetch-loop guard did. */
  refetchGuard(client: string, appid: string, action: RefetchAction): void
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const registers = [registry]
  const requests = new HotCounter({
    name: 'wxbroker_gateway_requests_total',
    help: 'Gateway requests by client, endpoint (allow-list entry or token endpoint) and errcode answered',
    labelNames: ['client', 'endpoint', 'errcode'],
    registers,
  })
  const duration = new HotHistogram({
    name: 'wxbroker_gateway_request_duration_seconds',
    help: "Gateway request latency by endpoint, WeChat's answer included",
    labelNames: ['endpoint'],
    buckets: GATEWAY_BUCKETS,
    registers,
  })
  const secrets = new Counter({
    name: 'wxbroker_gateway_appsecret_refused_total',
    help: "Requests refused because they carried an app's real AppSecret instead of a client key",
    labelNames: ['appid'],
    registers,
  })
  const refetch = new Counter({
    name: 'wxbroker_gateway_refetch_guard_total',
    help: 'Refetch-loop guard: tokens checked with WeChat, refreshed because WeChat refused them, fetches refused (45011)',
    labelNames: ['client', 'appid', 'action'],
    registers,
  })
  return {
    series(client, endpoint, errcode) {
      return {
        count: requests.series(`${client} ${endpoint} ${errcode}`, () => ({
          client,
          endpoint,
          errcode,
        })),
        latency: duration.series(endpoint, () => ({ endpoint })),
      }
    },
    appSecretRefused(appid) {
      secrets.inc({ appid })
    },
    refetchGuard(client, appid, action) {
      refetch.inc({ client, appid, action })
    },
  }
}
