/**
 * The real wxbroker daemon for the client's tests, started as a black box through its CLI
 * (`serveBroker` from the test kit): the client shares only the wire contract with it, never its
 * code (design §2). Its WeChat is the simulator; counts come from its /metrics.
 */
import { afterAll, beforeAll } from 'vitest'
import { API_KEY, APPID, READ_ONLY_KEY, SECRET } from './fixtures.js'
import {
  parsePrometheus,
  serveBroker,
  type BrokerProcess,
  type Exposition,
} from '@wxbroker/testkit'

export interface RealBroker {
  url: string
  process: BrokerProcess
  /** The broker's /metrics, parsed. */
  metrics(): Promise<Exposition>
  /** Sum of `name` over the samples matching `labels`, read from /metrics now. */
  metric(name: string, labels?: Record<string, string>): Promise<number>
  /** Requests the broker has answered on a route template ("/v1/apps/{appid}/token"). */
  requests(route: string, method?: string): Promise<number>
  /** Requests the broker has answered on every route but /metrics itself. */
  apiRequests(): Promise<number>
}

export const TOKEN_ROUTE = '/v1/apps/{appid}/token'
export const INVALIDATE_ROUTE = '/v1/apps/{appid}/token/invalidate'
export const LOGIN_ROUTE = '/v1/apps/{appid}/jscode2session'

export interface RealBrokerOptions {
  /** The simulator's URL (the broker's wechat.baseUrl). */
  wechatUrl: string
  /** A Redis URL to share state between broker processes; omitted → the in-memory store. */
  redisUrl?: string
}

function configYaml({ wechatUrl, redisUrl }: RealBrokerOptions): string {
  // invalidateCooldownSeconds 0: tests in one file report several tokens within seconds, and
  // without the cooldown "the broker refreshed once" rests on its compare-and-refresh alone.
  return `
listen: { host: 127.0.0.1, port: 0 }
${redisUrl === undefined ? '' : `store: { redis: "${redisUrl}", keyPrefix: wxbclient }`}
wechat: { baseUrl: "${wechatUrl}", timeoutMs: 3000 }
apps:
  - appid: ${APPID}
    secret: \${env:APP_SECRET}
    invalidateCooldownSeconds: 0
clients:
  - name: service
    key: \${env:SERVICE_KEY}
    apps: [${APPID}]
    scopes: [token:read, token:invalidate, login]
  - name: reader
    key: \${env:READER_KEY}
    apps: ["*"]
    scopes: [token:read]
`
}

export async function startRealBroker(options: RealBrokerOptions): Promise<RealBroker> {
  const process = await serveBroker(configYaml(options), {
    APP_SECRET: SECRET,
    SERVICE_KEY: API_KEY,
    READER_KEY: READ_ONLY_KEY,
  })
  const metrics = async (): Promise<Exposition> => {
    const response = await fetch(`${process.url}/metrics`)
    if (!response.ok) throw new Error(`/metrics answered ${response.status}`)
    return parsePrometheus(await response.text())
  }
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> =>
    (await metrics()).sum(name, labels)
  return {
    url: process.url,
    process,
    metrics,
    metric,
    requests: (route, method) =>
      metric('wxbroker_http_requests_total', { route, ...(method ? { method } : {}) }),
    apiRequests: async () => {
      const samples = await metrics() // one scrape for both sums
      return (
        samples.sum('wxbroker_http_requests_total') -
        samples.sum('wxbroker_http_requests_total', { route: '/metrics' })
      )
    },
  }
}

/** Starts one real broker for the file (beforeAll) and kills it after; returns a getter. */
export function useRealBroker(options: () => RealBrokerOptions): () => RealBroker {
  let broker: RealBroker | undefined
  beforeAll(async () => {
    broker = await startRealBroker(options())
  })
  afterAll(async () => {
    await broker?.process.proc.stop('SIGTERM')
  })
  return () => {
    if (broker === undefined) throw new Error('the broker is not started yet (use it inside tests)')
    return broker
  }
}

/** Refreshes this broker made because a client reported its token (and succeeded). */
export function invalidationRefreshes(broker: RealBroker): Promise<number> {
  return broker.metric('wxbroker_token_refresh_total', {
    appid: APPID,
    reason: 'invalidated',
    result: 'success',
  })
}
