import type { CounterSeries, HistogramSeries } from '../observability/hot-metrics.js'
import { lineWriter, type BrokerLogger } from '../observability/logger.js'
import type { BrokerMetrics } from '../observability/metrics.js'

/** One answered request, as the access line and the HTTP metrics see it. */
export interface RequestRecord {
  route: string
  method: string
  status: number
  /** performance.now() when the request arrived. */
  start: number
  client: string | null
  /** From resolveRequestId: only A-Za-z0-9._:- (a UUID when generated), so JSON-safe as is. */
  requestId: string
}

export type RecordRequest = (r: RequestRecord) => void

/** The metric series and the access line's fixed fields of one route, method and status. */
interface Outcome {
  count: CounterSeries
  latency: HistogramSeries
  fields: string
}

/**
 * Writes the one access line and the HTTP metrics of a request; never logs headers, bodies or
 * query strings. Shared by the Hono middleware and the token GET's hot path, so both log alike.
 * The line is what `logger.info({ route, method, status, ms, client, request_id }, 'request')`
 * writes, formatted by lineWriter (these fields are fixed and never secret).
 */
export function requestRecorder(logger: BrokerLogger, metrics: BrokerMetrics): RecordRequest {
  const write = accessLineWriter(logger)
  // Label sets are bounded (route templates, methods, statuses, configured clients).
  const outcomes = new Map<string, Map<string, Map<number, Outcome>>>()
  const outcome = (route: string, method: string, status: number): Outcome => {
    let byMethod = outcomes.get(route)
    if (!byMethod) outcomes.set(route, (byMethod = new Map<string, Map<number, Outcome>>()))
    let byStatus = byMethod.get(method)
    if (!byStatus) byMethod.set(method, (byStatus = new Map<number, Outcome>()))
    let o = byStatus.get(status)
    if (!o) {
      o = {
        ...metrics.httpSeries(route, method, status),
        fields: accessLineFields(route, method, status),
      }
      byStatus.set(status, o)
    }
    return o
  }

  return (r) => {
    const seconds = (performance.now() - r.start) / 1000
    const o = outcome(r.route, r.method, r.status)
    o.count.inc()
    o.latency.observe(seconds)
    write(o.fields, seconds, r.client, r.requestId)
  }
}

/** The fixed fields of an access line: route template, method, status (JSON, with a leading comma). */
export function accessLineFields(route: string, method: string, status: number): string {
  return `,"route":${JSON.stringify(route)},"method":${JSON.stringify(method)},"status":${status}`
}

/**
 * Writes the access line of one request: `fields` (fixed per outcome, built once, JSON with a
 * leading comma), then ms, client and request id, as a "request" line. The one format of every
 * access line, the /v1 API's and the gateway's.
 */
export function accessLineWriter(
  logger: BrokerLogger
): (fields: string, seconds: number, client: string | null, requestId: string) => void {
  const line = lineWriter(logger, 'request')
  const clients = new Map<string, string>()
  const clientJson = (name: string | null): string => {
    if (name === null) return 'null'
    let json = clients.get(name)
    if (json === undefined) clients.set(name, (json = JSON.stringify(name)))
    return json
  }
  return (fields, seconds, client, requestId) => {
    if (!line.enabled()) return
    const ms = Math.round(seconds * 1e6) / 1e3
    line.write(`${fields},"ms":${ms},"client":${clientJson(client)},"request_id":"${requestId}"`)
  }
}
