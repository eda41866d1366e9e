import { Registry } from 'prom-client'
import { parsePrometheus } from '@wxbroker/testkit'
import { describe, expect, it } from 'vitest'
import type { TokenEngine } from '../../src/engine/types.js'
import { requestRecorder, type RequestRecord } from '../../src/http/request-record.js'
import { createLogger } from '../../src/observability/logger.js'
import { createMetrics } from '../../src/observability/metrics.js'

// The access line is formatted by hand for speed; it must stay what pino itself writes.

const TIME = /"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/

// Only what createMetrics touches: no engine events or apps here.
const engine = {
  on: () => engine,
  off: () => engine,
  status: () => [],
  readiness: () => ({ ready: true, storeUp: true, reasons: [], degradations: [] }),
}

function setup(level = 'info') {
  const lines: string[] = []
  const logger = createLogger({ level, destination: { write: (l: string) => void lines.push(l) } })
  const registry = new Registry()
  const metrics = createMetrics({
    registry,
    engine: engine as unknown as TokenEngine,
    defaultMetrics: false,
  })
  return { lines, logger, registry, metrics, record: requestRecorder(logger, metrics) }
}

const RECORD: RequestRecord = {
  route: '/v1/apps/{appid}/token',
  method: 'GET',
  status: 200,
  start: performance.now(),
  client: 'svc "quoted" \\ name',
  requestId: 'req-1.2:3_4',
}

describe('requestRecorder', () => {
  it('writes byte for byte the line pino writes for the same fields', () => {
    for (const client of [RECORD.client, null]) {
      const { lines, logger, record } = setup()
      record({ ...RECORD, client })
      const [ours] = lines
      const ms = (JSON.parse(ours ?? '{}') as { ms: number }).ms
      logger.info(
        {
          route: RECORD.route,
          method: RECORD.method,
          status: RECORD.status,
          ms,
          client,
          request_id: RECORD.requestId,
        },
        'request'
      )
      const theirs = lines[1]
      expect(ours).toMatch(TIME)
      expect(ours?.replace(TIME, '')).toBe(theirs?.replace(TIME, ''))
    }
  })

  it('keeps the logger’s bindings (a child logger’s too)', () => {
    const { lines, logger, metrics } = setup()
    const child = logger.child({ component: 'http' })
    requestRecorder(child, metrics)(RECORD)
    child.info({ x: 1 }, 'other')
    const [ours, theirs] = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(ours).toMatchObject({ name: 'wxbroker', pid: process.pid, component: 'http' })
    expect(Object.keys(ours ?? {}).slice(0, 5)).toEqual(Object.keys(theirs ?? {}).slice(0, 5))
  })

  it('writes any child’s bindings as pino does, redacted ones included', () => {
    const { lines, logger, metrics } = setup()
    const child = logger
      .child({ component: 'http', note: 'say "hi" \\ ünï\u2028' })
      .child({ n: 2, nested: { a: [1, 'x'] }, key: 'not-for-logs' })
    requestRecorder(child, metrics)({ ...RECORD, client: null })
    const ms = (JSON.parse(lines[0] ?? '{}') as { ms: number }).ms
    child.info(
      {
        route: RECORD.route,
        method: RECORD.method,
        status: 200,
        ms,
        client: null,
        request_id: RECORD.requestId,
      },
      'request'
    )
    expect(lines[0]?.replace(TIME, '')).toBe(lines[1]?.replace(TIME, ''))
    expect(lines[0]).not.toContain('not-for-logs')
  })

  it('counts on after registry.resetMetrics()', async () => {
    const { registry, record } = setup()
    record(RECORD)
    registry.resetMetrics()
    record(RECORD)
    const m = parsePrometheus(await registry.metrics())
    expect(
      m.get('wxbroker_http_requests_total', { route: RECORD.route, method: 'GET', status: '200' })
    ).toBe(1)
    expect(m.get('wxbroker_http_request_duration_seconds_count', { route: RECORD.route })).toBe(1)
  })

  it('below info writes no line but still counts the request', async () => {
    const { lines, registry, record } = setup('warn')
    record(RECORD)
    record({ ...RECORD, status: 404, route: 'unmatched' })
    expect(lines).toEqual([])
    const m = parsePrometheus(await registry.metrics())
    expect(
      m.get('wxbroker_http_requests_total', { route: RECORD.route, method: 'GET', status: '200' })
    ).toBe(1)
    expect(
      m.get('wxbroker_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })
    ).toBe(1)
    expect(m.get('wxbroker_http_request_duration_seconds_count', { route: RECORD.route })).toBe(1)
  })
})
