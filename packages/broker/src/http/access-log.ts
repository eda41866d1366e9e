import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { BrokerLogger } from '../logger.js'
import type { BrokerMetrics } from '../metrics.js'
import type { BrokerEnv } from './env.js'
import { resolveRequestId } from './request-id.js'

/** The route template that answered ("/v1/apps/{appid}/token"), or "unmatched" (bounded labels). */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c)
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]
    if (r && r.method !== 'ALL') return r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
  }
  return 'unmatched'
}

/**
 * Sets the request id (echoed or generated, returned in X-Request-Id), then writes one access line
 * and the HTTP metrics per request; never logs headers, bodies or query strings.
 */
export function accessLog(
  logger: BrokerLogger,
  metrics: BrokerMetrics
): MiddlewareHandler<BrokerEnv> {
  // The access line's fields are fixed and never secret, so it skips the redaction pass (which
  // costs more than the rest of the line on the hot path).
  const access = logger.child({}, { redact: { paths: [] } })
  return async (c, next) => {
    const start = process.hrtime.bigint()
    const requestId = resolveRequestId(c.req.header('x-request-id'))
    c.set('requestId', requestId)
    c.header('X-Request-Id', requestId)
    await next()
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const route = routeTemplate(c)
    const status = c.res.status
    metrics.observeHttp(route, c.req.method, status, seconds)
    access.info(
      {
        route,
        method: c.req.method,
        status,
        ms: Math.round(seconds * 1e6) / 1e3,
        client: c.get('client')?.name ?? null,
        request_id: requestId,
      },
      'request'
    )
  }
}
