import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import type { BrokerEnv } from './env.js'
import { resolveRequestId } from './request-id.js'
import type { RecordRequest } from './request-record.js'

/** The route template that answered ("/v1/apps/{appid}/token"), or "unmatched" (bounded labels). */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c)
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]
    if (r && r.method !== 'ALL') return r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
  }
  return 'unmatched'
}

/** Sets the request id (echoed or generated, returned in X-Request-Id), then records the request. */
export function accessLog(record: RecordRequest): MiddlewareHandler<BrokerEnv> {
  return async (c, next) => {
    const start = performance.now()
    const requestId = resolveRequestId(c.req.header('x-request-id'))
    c.set('requestId', requestId)
    c.header('X-Request-Id', requestId)
    await next()
    record({
      route: routeTemplate(c),
      method: c.req.method,
      status: c.res.status,
      start,
      client: c.get('client')?.name ?? null,
      requestId,
    })
  }
}
